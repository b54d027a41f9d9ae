"""Where a compiled frame's time goes: the compiled session's kernels, per frame.

    python benchmarks/profile_compiled.py                        # 1920x1080, ratio 0.25
    python benchmarks/profile_compiled.py --size 512x288 --ratio 1 --precision fp32

Runs ``MattingSession(compile=True)`` on synthetic uint8 frames, as ``benchmarks/speed.py``
does, then profiles frames with ``torch.profiler`` and inductor's per-kernel records on, and
prints each operation's self time per frame, largest first, with a summary: oneDNN
convolutions, the other kernels of the network-resolution graph, the full-resolution pass,
and the rest (frame conversion, attention matmuls, Python and guard overhead). The profiled
frames run about 5 % slower than unprofiled ones; compare kernels with each other, and whole
frames with ``benchmarks/speed.py``.

On a shared VM single frames move by ±30 %: the script profiles several rounds and sums them.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import frames, network
from core.cli import frame_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=frame_size, default=(1080, 1920), help="frame WxH")
    parser.add_argument("--ratio", type=float, default=0.25, help="downsample ratio")
    parser.add_argument("--precision", default="auto", help="auto: bf16 where native, else fp32")
    parser.add_argument("--rounds", type=int, default=4, help="profiled rounds of 5 frames")
    parser.add_argument("--top", type=int, default=20, help="operations to list")
    parser.add_argument("--weights", type=Path)
    args = parser.parse_args(argv)

    import torch
    from torch._inductor import config as inductor
    from torch.profiler import profile

    from core import MattingSession
    from core.runtime import cpu_capability, native_precision

    inductor.cpp.enable_kernel_profile = True  # a record per generated kernel
    precision = args.precision
    if precision == "auto":
        precision = native_precision(torch.device("cpu"))
    height, width = args.size
    per_round = 5
    net, source = network(args.weights)
    clip = frames(4 + args.rounds * per_round, height, width)
    session = MattingSession(
        clip,
        weights=net,
        device="cpu",
        downsample_ratio=args.ratio,
        precision=precision,
        compile=True,
    )
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
        f"{cpu_capability()}; {width}x{height} ratio {args.ratio} "
        f"{precision}; weights: {source}"
    )
    stream = iter(session)
    start = time.perf_counter()
    for _ in range(4):
        next(stream)
    print(f"compile and 4 warm-up frames: {time.perf_counter() - start:.1f} s")

    totals: collections.Counter[str] = collections.Counter()
    wall = []
    for _ in range(args.rounds):
        with profile() as prof:
            start = time.perf_counter()
            for _ in range(per_round):
                next(stream)
            wall.append((time.perf_counter() - start) / per_round * 1e3)
        for event in prof.key_averages():
            totals[event.key] += event.self_cpu_time_total  # microseconds
    count = args.rounds * per_round

    def ms(us: float) -> float:
        return us / count / 1e3

    # Inductor names a kernel's record after its graph: the network-resolution graph
    # compiles first; the full-resolution pass (frames larger than the network's input)
    # second. Their numbers depend on what compiled before in the process.
    graphs = sorted({key.split("_cpp_")[0] for key in totals if "_cpp_" in key})
    full_res = graphs[-1] if len(graphs) > 1 else None
    groups = collections.Counter()
    for key, value in totals.items():
        if "convolution" in key:
            groups["oneDNN convolutions"] += value
        elif full_res and key.startswith(full_res + "_cpp_"):
            groups["full-resolution pass (guided filter)"] += value
        elif "_cpp_" in key:
            groups["other kernels of the network-resolution graph"] += value
        else:
            groups["everything else (conversion, bmm, Python, guards)"] += value
    print(
        f"profiled frames: {count}; wall ms per frame, rounds' means: "
        f"min {min(wall):.1f}, mean {sum(wall) / len(wall):.1f}"
    )
    print(f"profiler self time per frame: {ms(sum(totals.values())):.1f} ms")
    for name, value in groups.most_common():
        print(f"  {ms(value):7.1f} ms  {name}")
    print(f"top {args.top} operations (ms per frame):")
    for key, value in totals.most_common(args.top):
        print(f"  {ms(value):7.2f}  {key[:100]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
