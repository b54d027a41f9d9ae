"""Per-frame time of the Memmatte OpenFX plug-in, through the minimal host, next to the
Python session, on the same frames and weights.

    python benchmarks/ofx_plugin.py                       # 512x288 and 1920x1080
    python benchmarks/ofx_plugin.py --sizes 1280x720 --frames 8

Builds the bundle (python -m hosts.ofx.build), exports the weights size-flexibly
(python -m core.export --format torchscript --flexible), then per size:

  plugin          a render through the host: three source frames converted to planar float,
                  t-2, t-1 and t encoded (the plug-in keeps no cache between renders), the
                  result written into the RGBA float output
  session[i]      MattingSession random access: frames i-2 and i-1 encoded again as pre-roll
  session iter    MattingSession sequential: each frame encoded once, cached for the next two

The first two renders warm TorchScript up and are reported apart. The downsample ratio is
auto (the checkpoint's ``auto_long_side``) for all three. Figures are medians of wall time
and of the process's CPU time (all threads; less sensitive to other jobs on a shared
machine than wall time), with the 1-minute load average beside them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import frames as make_frames  # noqa: E402
from benchmarks._common import network  # noqa: E402
from core import MattingSession  # noqa: E402
from core.cli import frame_size  # noqa: E402
from core.export import flexible_module  # noqa: E402
from core.runtime import cpu_capability  # noqa: E402
from hosts.ofx.build import build  # noqa: E402
from hosts.ofx.minihost import OK, MiniHost  # noqa: E402

WARM = 2


def time_plugin(host: MiniHost, model: Path, frames: list[np.ndarray]) -> tuple[list, list]:
    effect = host.instance(frames, params={"model": str(model), "output": 1})
    times = []
    for t in range(len(frames)):
        start = _clock()
        status, _ = effect.render(t)
        times.append(_clock() - start)
        if status != OK:
            raise RuntimeError(f"render {t} failed: {host.messages[-1:]}")
    return times[:WARM], times[WARM:]


def time_session(net, frames: list[np.ndarray]) -> tuple[list, list]:
    session = MattingSession(frames, weights=net, device="cpu")
    random_access = []
    for i in range(len(frames)):
        start = _clock()
        session[i]
        random_access.append(_clock() - start)
    sequential, start = [], _clock()
    for _ in MattingSession(frames, weights=net, device="cpu"):
        sequential.append(_clock() - start)
        start = _clock()
    return random_access[WARM:], sequential[WARM:]


def _clock() -> np.ndarray:
    """(wall seconds, CPU seconds of all this process's threads)."""
    return np.array([time.perf_counter(), time.process_time()])


def ms(values: list[np.ndarray]) -> str:
    """Median wall ms / median CPU ms."""
    wall = statistics.median(float(v[0]) for v in values)
    cpu = statistics.median(float(v[1]) for v in values)
    return f"{1000 * wall:.0f} / {1000 * cpu:.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        type=lambda s: [frame_size(v) for v in s.split(",")],
        default=[(288, 512), (1080, 1920)],
        help="WIDTHxHEIGHT,...",
    )
    parser.add_argument("--frames", type=int, default=8, help="frames per size (2 are warm-up)")
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="intra-op threads (default 1: on a shared machine, CPU time per frame is then "
        "the compute itself; with more, OpenMP threads spin while descheduled)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)  # the plug-in's LibTorch is this process's LibTorch

    net, source = network(args.weights)
    print(
        f"weights: {source}; torch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"CPU capability {cpu_capability()}"
    )
    start = time.perf_counter()
    bundle = build()
    print(f"bundle: {bundle} ({time.perf_counter() - start:.1f} s incl. an up-to-date check)")
    host = MiniHost(bundle)
    with tempfile.TemporaryDirectory() as folder:
        model = Path(folder) / "memmatte_any.pt"
        torch.jit.save(flexible_module(net), str(model))
        print("ms per frame, median wall / median CPU (all threads of this process)")
        print(
            f"{'size':<14} {'plugin warm-up':<19} {'plugin':<17} {'session[i]':<17} "
            f"{'session iter':<17} load average"
        )
        for height, width in args.sizes:
            frames = [f.astype(np.float32) / 255 for f in make_frames(args.frames, height, width)]
            rgba = [np.dstack([f, np.ones_like(f[..., :1])]) for f in frames]
            warm, steady = time_plugin(host, model, rgba)
            random_access, sequential = time_session(net, frames)
            print(
                f"{f'{width}x{height}':<14} {', '.join(ms([w]) for w in warm):<19} {ms(steady):<17} "
                f"{ms(random_access):<17} {ms(sequential):<17} {os.getloadavg()[0]:.1f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
