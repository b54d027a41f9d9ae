"""Peak memory of a session is flat in shot length.

    python benchmarks/memory.py                      # 100 vs 1000 frames at 512x288
    python benchmarks/memory.py --counts 100,1000 --precision bf16

Each count runs in its own process over a lazily generated shot (frames are made on demand,
so only the session can hold on to memory) and reports that process's peak RSS. The session
keeps the keys and values of two previous frames, so the peaks should agree within a few
percent.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child(count: int, height: int, width: int, precision: str) -> dict:
    sys.path.insert(0, str(ROOT))
    import time

    from benchmarks._common import frames, network, peak_rss_mib
    from core import MattingSession

    net, _ = network(None)
    template = frames(8, height, width)
    shot = (template[i % 8] for i in range(count))
    start = time.perf_counter()
    n = 0
    for _ in MattingSession(
        shot, weights=net, device="cpu", downsample_ratio=1.0, precision=precision
    ):
        n += 1
    return {"frames": n, "peak_rss_mib": peak_rss_mib(), "seconds": time.perf_counter() - start}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--counts", default="100,1000")
    parser.add_argument("--size", default="512x288", help="WIDTHxHEIGHT")
    parser.add_argument(
        "--precision", default="auto", help="auto: bf16 where the CPU has bf16 hardware, else fp32"
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    if args.precision == "auto":
        sys.path.insert(0, str(ROOT))
        import torch

        from core.runtime import native_precision

        args.precision = native_precision(torch.device("cpu"))
    if args.child:
        print(json.dumps(child(args.child, height, width, args.precision)))
        return 0
    results = []
    for count in (int(c) for c in args.counts.split(",")):
        cmd = [
            sys.executable,
            __file__,
            "--child",
            str(count),
            "--size",
            args.size,
            "--precision",
            args.precision,
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        row = json.loads(out.strip().splitlines()[-1])
        results.append(row)
        print(
            f"{row['frames']:5d} frames at {width}x{height} ({args.precision}): peak RSS "
            f"{row['peak_rss_mib']:.1f} MiB in {row['seconds']:.0f} s",
            flush=True,
        )
    base = results[0]["peak_rss_mib"]
    for row in results[1:]:
        change = (row["peak_rss_mib"] - base) / base * 100
        print(f"{row['frames']} vs {results[0]['frames']} frames: {change:+.2f}% peak RSS")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
