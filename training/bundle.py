"""Ship a trained variant: its final weights cast to fp16, with their provenance.

    python -m training.bundle runs/distill-stage3/memory/final.safetensors \\
        core/assets/memmatte_default.safetensors
    python -m training.bundle runs/distill-stage3/ablated/final.safetensors \\
        training/assets/memmatte_ablated.safetensors

The file keeps what training recorded (recipe, configuration, precision, steps, the
``auto_long_side`` the network was trained at) and adds the licence: every weights file this
recipe makes derives from Robust Video Matting's published model (GPL-3.0), so the GPL-3.0
text is copied beside it.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import torch

from core.weights import WeightsError, file_hash, load_network, read_weights, save_weights

LICENCE = "GPL-3.0 (derived from Robust Video Matting's published model)"
LICENCE_TEXT = Path(__file__).resolve().parents[1] / "core" / "assets" / "LICENSE-GPL-3.0.txt"
_RESERVED = {"format", "format_version", "config", "stage", "auto_long_side"}


def bundle(final: Path, target: Path) -> Path:
    """Writes ``final`` as fp16 to ``target`` with its metadata, the licence and the source
    file's hash, and puts the GPL-3.0 text beside it. Returns ``target``."""
    network = load_network(final)
    _, meta = read_weights(final)
    extra = {k: v for k, v in meta.items() if k not in _RESERVED}
    extra |= {"license": LICENCE, "bundled_from_sha256": file_hash(final)}
    tmp = target.with_name(target.name + ".tmp")
    save_weights(network, tmp, stage=meta.get("stage", ""), dtype=torch.float16, metadata=extra)
    tmp.replace(target)
    licence = target.parent / LICENCE_TEXT.name
    if licence.resolve() != LICENCE_TEXT:
        shutil.copyfile(LICENCE_TEXT, licence)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.bundle", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("final", type=Path, help="a variant's final.safetensors")
    parser.add_argument("target", type=Path, help="where the fp16 file goes")
    args = parser.parse_args(argv)
    try:
        path = bundle(args.final, args.target)
    except WeightsError as exc:
        parser.exit(2, f"memmatte: {exc}\n")
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB, fp16, {LICENCE})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
