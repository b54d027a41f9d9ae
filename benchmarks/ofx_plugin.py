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
auto (the checkpoint's ``auto_long_side``) for all three.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import frame_size_wxh, network  # noqa: E402
from benchmarks._common import frames as make_frames  # noqa: E402
from core import MattingSession  # noqa: E402
from core.export import flexible_module  # noqa: E402
from hosts.ofx.build import build  # noqa: E402
from hosts.ofx.minihost import OK, MiniHost  # noqa: E402

WARM = 2


def time_plugin(host: MiniHost, model: Path, frames: list[np.ndarray]) -> tuple[list, list]:
    effect = host.instance(frames, params={"model": str(model), "output": 1})
    times = []
    for t in range(len(frames)):
        start = time.perf_counter()
        status, _ = effect.render(t)
        times.append(time.perf_counter() - start)
        if status != OK:
            raise RuntimeError(f"render {t} failed: {host.messages[-1:]}")
    return times[:WARM], times[WARM:]


def time_session(net, frames: list[np.ndarray]) -> tuple[list, list]:
    session = MattingSession(frames, weights=net, device="cpu")
    random_access = []
    for i in range(len(frames)):
        start = time.perf_counter()
        session[i]
        random_access.append(time.perf_counter() - start)
    sequential, start = [], time.perf_counter()
    for _ in MattingSession(frames, weights=net, device="cpu"):
        sequential.append(time.perf_counter() - start)
        start = time.perf_counter()
    return random_access[WARM:], sequential[WARM:]


def ms(values: list[float]) -> str:
    return f"{1000 * statistics.median(values):.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        type=lambda s: [frame_size_wxh(v) for v in s.split(",")],
        default=[(288, 512), (1080, 1920)],
        help="WIDTHxHEIGHT,...",
    )
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--weights", type=Path, default=None)
    args = parser.parse_args()

    net, source = network(args.weights)
    print(
        f"weights: {source}; torch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"CPU capability {torch.backends.cpu.get_cpu_capability()}"
    )
    start = time.perf_counter()
    bundle = build()
    print(f"bundle: {bundle} ({time.perf_counter() - start:.1f} s incl. an up-to-date check)")
    host = MiniHost(bundle)
    with tempfile.TemporaryDirectory() as folder:
        model = Path(folder) / "memmatte_any.pt"
        torch.jit.save(flexible_module(net), str(model))
        print("size        plugin warm-up ms   plugin ms/frame   session[i] ms   session iter ms")
        for height, width in args.sizes:
            frames = [f.astype(np.float32) / 255 for f in make_frames(args.frames, height, width)]
            rgba = [np.dstack([f, np.ones_like(f[..., :1])]) for f in frames]
            warm, steady = time_plugin(host, model, rgba)
            random_access, sequential = time_session(net, frames)
            print(
                f"{width}x{height:<6} {' / '.join(ms([w]) for w in warm):>17} {ms(steady):>17} "
                f"{ms(random_access):>15} {ms(sequential):>17}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
