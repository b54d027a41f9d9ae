"""Inference speed of memmatte on this machine.

    python benchmarks/speed.py                 # all modes and sizes (several minutes)
    python benchmarks/speed.py --sizes 512x288 --modes fp32,bf16

Each (mode, size) runs in its own process, so peak RSS is that run's own. Prints ms/frame,
frames/s, peak RSS and the fraction of the physical limit: the model's multiply-adds per frame
(fvcore, core.model.budget) divided by the measured matmul peak of the mode's precision.
Sizes are full frames; 1920x1080 runs the network at ratio 0.25 with the Deep Guided Filter.

Modes:
  fp32      eager MattingSession, float32, one frame per backbone call
  bf16      eager MattingSession, bfloat16 autocast (AVX-512 bf16 on this CPU)
  batched   bf16, four frames per backbone call (time-batched)
  compiled  bf16, MattingSession(compile=True): inductor graphs with frozen weights
            (compile time reported separately as warm-up)
  onnx      onnxruntime on the exported stateless graph (it encodes t-2, t-1, t every call)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SIZES = {"512x288": (288, 512, 1.0), "512x512": (512, 512, 1.0), "1920x1080": (1080, 1920, 0.25)}
MODES = ("fp32", "bf16", "batched", "compiled", "onnx")
# Robust Video Matting (MobileNetV3, fp32 eager) measured on this machine, ms/frame.
RVM_FP32_MS = {"512x288": (112, 141), "1920x1080": (172, 195)}


def matmul_peak_gmacs(dtype_name: str) -> float:
    import torch

    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
    n = 2048
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    for _ in range(3):
        a @ b
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(5):
            a @ b
        best = min(best, (time.perf_counter() - t) / 5)
    return n**3 / best / 1e9


def run_one(mode: str, size: str, frames: int, weights: Path | None) -> dict:
    """Runs in a child process: times one mode at one size."""
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from benchmarks._common import frames as make_frames
    from benchmarks._common import network, peak_rss_mib
    from core import MattingSession

    height, width, ratio = SIZES[size]
    net, source = network(weights)
    clip = make_frames(frames + 4, height, width)
    result = {"mode": mode, "size": size, "weights": source, "frames": frames}
    if mode == "onnx":
        import tempfile

        import onnxruntime as ort

        from core.export import export

        with tempfile.TemporaryDirectory() as tmp:
            path = export(
                net, Path(tmp) / "m.onnx", fmt="onnx", height=height, width=width, ratio=ratio
            )
            options = ort.SessionOptions()
            sess = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        stacked = [
            np.concatenate([clip[max(t - k, 0)].transpose(2, 0, 1) for k in (2, 1, 0)])[
                None
            ].astype(np.float32)
            / 255
            for t in range(len(clip))
        ]
        for t in range(2):
            sess.run(None, {"frames": stacked[t]})
        start = time.perf_counter()
        for t in range(4, 4 + frames):
            sess.run(None, {"frames": stacked[t]})
        elapsed = time.perf_counter() - start
    else:
        precision = "fp32" if mode == "fp32" else "bf16"
        kwargs = {"batch_frames": 4} if mode == "batched" else {}
        session = MattingSession(
            clip,
            weights=net,
            device="cpu",
            downsample_ratio=ratio,
            precision=precision,
            compile=mode == "compiled",
            **kwargs,
        )
        stream = iter(session)
        warm = time.perf_counter()
        for _ in range(4):
            next(stream)
        result["warmup_s"] = round(time.perf_counter() - warm, 2)
        start = time.perf_counter()
        outputs = [next(stream).alpha for _ in range(frames)]
        elapsed = time.perf_counter() - start
        if mode != "fp32":
            reference = MattingSession(
                clip, weights=net, device="cpu", downsample_ratio=ratio, precision="fp32"
            )
            diffs = [np.abs(reference[4 + i].alpha - a) for i, a in enumerate(outputs[:3])]
            result["alpha_max_diff"] = float(max(d.max() for d in diffs))
            result["alpha_mean_diff"] = float(np.mean([d.mean() for d in diffs]))
    result["ms_per_frame"] = elapsed / frames * 1000
    result["peak_rss_mib"] = peak_rss_mib()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default=",".join(SIZES))
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--weights", type=Path)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_one(*args.child, args.frames, args.weights)))
        return 0

    sys.path.insert(0, str(ROOT))
    import torch

    from core.model.budget import measure

    peaks = {name: matmul_peak_gmacs(name) for name in ("fp32", "bf16")}
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; matmul peak: "
        f"fp32 {peaks['fp32']:.1f} GMAC/s, bf16 {peaks['bf16']:.1f} GMAC/s"
    )
    rows = []
    for size in args.sizes.split(","):
        height, width, ratio = SIZES[size]
        gmacs = measure(height, width, ratio).gmacs
        for mode in args.modes.split(","):
            cmd = [sys.executable, __file__, "--child", mode, size, "--frames", str(args.frames)]
            if args.weights:
                cmd += ["--weights", str(args.weights)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(f"{size} {mode}: failed\n{done.stderr[-2000:]}")
                continue
            row = json.loads(done.stdout.strip().splitlines()[-1])
            peak = peaks["fp32" if mode in ("fp32", "onnx") else "bf16"]
            row["gmacs"] = gmacs
            # The streaming step's MACs, also for onnx (whose graph re-encodes t-2 and t-1).
            row["fraction_of_peak"] = gmacs / (row["ms_per_frame"] / 1000) / peak
            rows.append(row)
            rvm = RVM_FP32_MS.get(size)
            print(
                f"{size:>9} ratio {ratio:<4g} {mode:>8}: {row['ms_per_frame']:7.1f} ms/frame "
                f"{1000 / row['ms_per_frame']:6.2f} fps  peak RSS {row['peak_rss_mib']:6.0f} MiB  "
                f"{row['fraction_of_peak'] * 100:5.1f}% of {'fp32' if peak == peaks['fp32'] else 'bf16'} peak"
                + (
                    f"  vs RVM fp32 {rvm[0]}-{rvm[1]} ms: x{rvm[0] / row['ms_per_frame']:.2f}"
                    if rvm
                    else ""
                )
                + (
                    f"  alpha max/mean diff vs fp32 {row['alpha_max_diff']:.4f}/{row['alpha_mean_diff']:.5f}"
                    if "alpha_max_diff" in row
                    else ""
                )
                + (f"  (warm-up {row['warmup_s']} s)" if mode == "compiled" else ""),
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps({"peaks_gmacs": peaks, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
