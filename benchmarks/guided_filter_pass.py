"""The Deep Guided Filter's full-resolution pass, compiled as the session compiles it.

    python benchmarks/guided_filter_pass.py               # 1920x1080 from 480x270, 30 rounds
    python benchmarks/guided_filter_pass.py --size 1920x1080 --low 256x144 --rounds 50

The pass up-samples A and b, computes ``A·I + b``, clamps, and writes alpha (H, W) and
foreground (H, W, 3). The script times three forms of it, each compiled with frozen weights
like the session's graphs (docs/performance.md has the figures and why the session uses the
third):

- ``F.interpolate``: ``DeepGuidedFilter.apply`` plus the permute into the result layouts;
- fixed-phase lerps: bilinear up-sampling written as P constant-weight lerps for a size
  ratio P/Q;
- fixed taps: ``DeepGuidedFilter.apply_frame``, the session's form.

The forms run interleaved, round after round, and the script prints the minimum and the
median: on a shared 2-core VM single timings move by ±30 %. Inputs are laid out as in the
session: the frame channels-last (an H×W×3 array viewed as NCHW) and the coefficients as the
network graph leaves them (channels-last).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.cli import frame_size
from core.model.guided_filter import DeepGuidedFilter, frame_taps
from core.runtime import cpu_capability


def _interpolate_form(image: torch.Tensor, coefficients: torch.Tensor):
    fgr, pha = DeepGuidedFilter.apply(image, coefficients)
    return pha[0, 0].contiguous(), fgr[0].permute(1, 2, 0).contiguous()


def _lerp_axis(x: torch.Tensor, dim: int, size: int) -> torch.Tensor:
    """``F.interpolate``'s bilinear (align_corners=False) along ``dim``, as fixed phases."""
    n = x.shape[dim]
    g = math.gcd(size, n)
    p, q = size // g, n // g
    padded = torch.cat([x.narrow(dim, 0, 1), x, x.narrow(dim, n - 1, 1)], dim=dim)

    def taps(start: int) -> torch.Tensor:
        index = [slice(None)] * x.dim()
        index[dim] = slice(start, start + q * (g - 1) + 1, q)
        return padded[tuple(index)]

    phases = []
    for k in range(p):
        source = (k + 0.5) * q / p - 0.5
        j = math.floor(source)
        lo = taps(j + 1)
        phases.append(lo if source == j else torch.lerp(lo, taps(j + 2), source - j))
    shape = list(x.shape)
    shape[dim] = size
    return torch.stack(phases, dim=dim + 1).reshape(shape)


def _fixed_phase_form(image: torch.Tensor, coefficients: torch.Tensor):
    height, width = image.shape[-2:]
    up = _lerp_axis(_lerp_axis(coefficients, 3, width), 2, height)
    guide = torch.cat([image, image.mean(1, keepdim=True)], dim=1)
    out = (up[:, :4] * guide + up[:, 4:]).clamp(0.0, 1.0)
    return out[0, 3].contiguous(), out[0, :3].permute(1, 2, 0).contiguous()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=frame_size, default=(1080, 1920), help="full frame WxH")
    parser.add_argument("--low", type=frame_size, default=(270, 480), help="network WxH")
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args(argv)
    from torch._inductor import config as inductor

    torch.set_grad_enabled(False)
    (height, width), (h, w) = args.size, args.low
    image = torch.rand(1, height, width, 3).permute(0, 3, 1, 2)
    coefficients = torch.randn(1, 8, h, w).contiguous(memory_format=torch.channels_last)
    taps = frame_taps((height, width), (h, w), image.device)

    def _fixed_taps_form(image: torch.Tensor, coefficients: torch.Tensor):
        return DeepGuidedFilter.apply_frame(image, coefficients, taps)

    forms = {
        "F.interpolate": _interpolate_form,
        "fixed-phase lerps": _fixed_phase_form,
        "fixed taps (session)": _fixed_taps_form,
    }
    reference = DeepGuidedFilter.apply(image, coefficients)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
        f"{cpu_capability()}; {w}x{h} -> {width}x{height} "
        f"({height * width / 1e6:.1f} Mpixel)"
    )
    times: dict[str, list[float]] = {name: [] for name in forms}
    with inductor.patch(freezing=True):
        compiled = {n: torch.compile(f, fullgraph=True, dynamic=False) for n, f in forms.items()}
        for name, fn in compiled.items():
            start = time.perf_counter()
            alpha, foreground = fn(image, coefficients)
            error = max(
                (alpha - reference[1][0, 0]).abs().max().item(),
                (foreground - reference[0][0].permute(1, 2, 0)).abs().max().item(),
            )
            print(f"{name}: compiled in {time.perf_counter() - start:.1f} s, max error {error:.1e}")
        for _ in range(args.rounds):
            for name, fn in compiled.items():
                start = time.perf_counter()
                fn(image, coefficients)
                times[name].append((time.perf_counter() - start) * 1e3)
    for name, values in times.items():
        values.sort()
        print(f"{name:>24}: min {values[0]:6.1f} ms   median {values[len(values) // 2]:6.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
