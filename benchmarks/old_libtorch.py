"""Loads and runs the Nuke exports under older torch releases, against the session here.

    python benchmarks/old_libtorch.py OLD_PYTHON [OLD_PYTHON ...]
    python benchmarks/old_libtorch.py /venvs/torch160/bin/python /venvs/torch1121/bin/python

Each OLD_PYTHON is an interpreter with an older torch (and numpy) installed, e.g. a Python 3.8
venv with ``pip install torch==1.6.0 numpy==1.24.4`` (Nuke 13's PyTorch) or ``torch==1.12.1``
(Nuke 14 and 15). This script exports the default and the ``--legacy-ops`` TorchScript of the
bundled weights at a small size (``--size``, ``--ratio``), runs ``MattingSession`` on a short
synthetic clip, and has every OLD_PYTHON ``torch.jit.load`` each export and run it on the
stacked frames of every frame of the clip. It prints one JSON record a line:
``{"torch": ..., "export": "default"|"legacy", "loaded": bool, "error": first line,
"alpha_max_diff": ..., "foreground_max_diff": ...}`` (max abs differences to the session).
Exit status 0 when every legacy export loaded and matched within ``--tolerance``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

# Runs under the old torch: Python 3.7+ syntax, torch and numpy only.
CHILD = """
import json, sys
import numpy as np
import torch
folder, name = sys.argv[1:3]
stacked = np.load(folder + "/stacked.npy")
alpha = np.load(folder + "/alpha.npy")
foreground = np.load(folder + "/foreground.npy")
record = {"torch": torch.__version__, "export": name}
try:
    model = torch.jit.load(folder + "/" + name + ".pt")
    with torch.no_grad():
        out = np.stack([model(torch.from_numpy(s[None]))[0].numpy() for s in stacked])
    record["loaded"] = True
    record["alpha_max_diff"] = float(np.abs(out[:, 3] - alpha).max())
    record["foreground_max_diff"] = float(np.abs(out[:, :3] - foreground).max())
except Exception as error:  # what an old libtorch says about the file
    record["loaded"] = False
    lines = [l for l in str(error).splitlines() if l.strip()]
    record["error"] = type(error).__name__ + ": " + " ".join(lines[:2])
print(json.dumps(record), flush=True)
"""


def prepare(folder: Path, width: int, height: int, ratio: float, frames: int = 4) -> None:
    """Writes default.pt, legacy.pt, the stacked inputs and the session's results."""
    sys.path.insert(0, str(ROOT))
    from benchmarks._common import frames as clip_of
    from benchmarks._common import network
    from core import MattingSession
    from core.export import export, stacked_frames

    net, _ = network(None)
    clip = [f.astype(np.float32) / 255 for f in clip_of(frames, height, width)]
    results = list(MattingSession(clip, weights=net, device="cpu", downsample_ratio=ratio))
    stacked = [
        np.concatenate([clip[i].transpose(2, 0, 1) for i in stacked_frames(t)])
        for t in range(frames)
    ]
    np.save(folder / "stacked.npy", np.stack(stacked).astype(np.float32))
    np.save(folder / "alpha.npy", np.stack([r.alpha for r in results]))
    np.save(folder / "foreground.npy", np.stack([r.foreground.transpose(2, 0, 1) for r in results]))
    for name, legacy in (("default", False), ("legacy", True)):
        export(net, folder / f"{name}.pt", fmt="torchscript", height=height, width=width,
               ratio=ratio, legacy_ops=legacy)  # fmt: skip


def check(pythons: list[str], width: int, height: int, ratio: float) -> list[dict]:
    """One record per (python, export)."""
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        prepare(folder, width, height, ratio)
        for python in pythons:
            for name in ("default", "legacy"):  # one process each: a loader may abort
                run = subprocess.run(
                    [python, "-c", CHILD, str(folder), name],
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
                lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
                if lines:
                    records.append(json.loads(lines[-1]))
                    continue
                tail = [line for line in run.stderr.splitlines() if line.strip()][:2]
                records.append(
                    {"python": python, "export": name, "loaded": False,
                     "error": f"exit {run.returncode}: " + " | ".join(tail)}
                )  # fmt: skip
    return records


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("pythons", nargs="+", help="interpreters with an older torch")
    p.add_argument("--size", default="160x96", help="WIDTHxHEIGHT of the export")
    p.add_argument("--ratio", type=float, default=0.5)
    p.add_argument("--tolerance", type=float, default=1e-4)
    args = p.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    records = check(args.pythons, width, height, args.ratio)
    for record in records:
        print(json.dumps(record))
    legacy = [r for r in records if r["export"] == "legacy"]
    ok = all(
        r.get("loaded") and max(r["alpha_max_diff"], r["foreground_max_diff"]) <= args.tolerance
        for r in legacy
    )
    return 0 if ok and len(legacy) == len(args.pythons) else 1


if __name__ == "__main__":
    raise SystemExit(main())
