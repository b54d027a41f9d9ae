"""Inference speed of memmatte on this machine.

    python benchmarks/speed.py                 # all modes and sizes (several minutes)
    python benchmarks/speed.py --sizes 512x288 --modes fp32,bf16

Each (mode, size) runs in its own process, so peak RSS is that run's own. Prints ms/frame,
frames/s, peak RSS and the fraction of the physical limit: the model's multiply-adds per frame
(fvcore, core.model.budget) divided by the measured matmul peak of the mode's precision.
Sizes are full frames; 1920x1080 runs the network at ratio 0.25 with the Deep Guided Filter.

Modes:
  fp32      eager MattingSession, float32, one frame per backbone call
  bf16      eager MattingSession, bfloat16 autocast (needs AVX-512 BF16 or AMX to be fast)
  batched   four frames per backbone call (time-batched), bf16*
  compiled  MattingSession(compile=True): inductor graphs with frozen weights, bf16*
            (compile time reported separately as warm-up)
  onnx      onnxruntime on the exported stateless graph (it encodes t-2, t-1, t every call)

* bf16 where the CPU computes it in hardware (AVX-512 BF16 or AMX), else fp32. On a CPU
without it, bf16 is emulated (hundreds of times slower than fp32): the bf16 mode is then left
out unless asked for by name, and its matmul peak is not measured.
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

    from core.runtime import cpu_has_native_bf16

    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
    n = 2048 if dtype_name == "fp32" or cpu_has_native_bf16() else 256  # emulated bf16: slow
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


def mode_precision(mode: str) -> str:
    """The precision a mode runs in on this CPU (see the module docstring)."""
    import torch

    from core.runtime import native_precision

    if mode in ("fp32", "onnx"):
        return "fp32"
    if mode == "bf16":
        return "bf16"
    return native_precision(torch.device("cpu"))


def run_one(mode: str, size: str, frames: int, weights: Path | None) -> dict:
    """Runs in a child process: times one mode at one size."""
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from benchmarks._common import frames as make_frames
    from benchmarks._common import network, peak_rss_mib
    from core import MattingSession
    from core.export import stacked_frames

    height, width, ratio = SIZES[size]
    net, source = network(weights)
    clip = make_frames(frames + 4, height, width)
    precision = mode_precision(mode)
    result = {"mode": mode, "size": size, "weights": source, "frames": frames}
    result["precision"] = precision
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
            np.concatenate([clip[i].transpose(2, 0, 1) for i in stacked_frames(t)])[None].astype(
                np.float32
            )
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
        if precision != "fp32" or mode == "compiled":
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
    parser.add_argument("--modes", help=f"default: {','.join(MODES)} (bf16 only where fast)")
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
    from core.runtime import cpu_capability, cpu_has_native_bf16

    native = cpu_has_native_bf16()
    modes = args.modes.split(",") if args.modes else [m for m in MODES if native or m != "bf16"]
    wanted = {"fp32"} | ({"bf16"} if native or "bf16" in modes else set())
    peaks = {name: matmul_peak_gmacs(name) for name in ("fp32", "bf16") if name in wanted}
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
        f"{cpu_capability()}, bf16 hardware: {'yes' if native else 'no'}; "
        "matmul peak: " + ", ".join(f"{k} {v:.1f} GMAC/s" for k, v in peaks.items())
    )
    rows = []
    for size in args.sizes.split(","):
        height, width, ratio = SIZES[size]
        gmacs = measure(height, width, ratio).gmacs
        for mode in modes:
            cmd = [sys.executable, __file__, "--child", mode, size, "--frames", str(args.frames)]
            if args.weights:
                cmd += ["--weights", str(args.weights)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(f"{size} {mode}: failed\n{done.stderr[-2000:]}")
                continue
            row = json.loads(done.stdout.strip().splitlines()[-1])
            peak = peaks[row["precision"]]
            row["gmacs"] = gmacs
            # The streaming step's MACs, also for onnx (whose graph re-encodes t-2 and t-1).
            row["fraction_of_peak"] = gmacs / (row["ms_per_frame"] / 1000) / peak
            rows.append(row)
            rvm = RVM_FP32_MS.get(size)
            print(
                f"{size:>9} ratio {ratio:<4g} {mode:>8} {row['precision']}: "
                f"{row['ms_per_frame']:7.1f} ms/frame {1000 / row['ms_per_frame']:6.2f} fps  "
                f"peak RSS {row['peak_rss_mib']:6.0f} MiB  "
                f"{row['fraction_of_peak'] * 100:5.1f}% of {row['precision']} peak"
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
