"""Compute budget of one streaming step, counted with fvcore (one multiply-add = one flop).

    python -m core.model.budget            # per-module table and totals
    python -m core.model.budget --json     # {"512x512": {"gmacs": ..., "params": ...}, ...}

A streaming step is what a session pays per frame: frame t is encoded, reads the cached
keys and values of frames t-1 and t-2, is decoded and (when downsampled) refined.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from core.model.config import NetworkConfig
from core.model.memory import MEMORY_FRAMES
from core.model.network import MattingNetwork, network_size

SIZES: tuple[tuple[int, int, float], ...] = ((512, 512, 1.0), (288, 512, 1.0), (1080, 1920, 0.25))
"""(height, width, downsample_ratio) reported by default."""


class StreamingStep(nn.Module):
    """One frame through the network with the memory already cached (for counting only)."""

    def __init__(self, network: MattingNetwork, height: int, width: int, ratio: float) -> None:
        super().__init__()
        self.network = network
        self.size = network_size(height, width, ratio)
        self.full = (height, width)

    def forward(self, frame: Tensor, memory_keys: Tensor, memory_values: Tensor) -> Tensor:
        fgr, pha, _, _ = self.network.step(frame, memory_keys, memory_values, self.size)
        return torch.cat([fgr, pha], dim=1)


@dataclass(frozen=True)
class Budget:
    height: int
    width: int
    downsample_ratio: float
    gmacs: float
    params: int
    by_module: dict[str, float]
    table: str


def _step_inputs(network: MattingNetwork, height: int, width: int, ratio: float):
    h, w = network_size(height, width, ratio)
    cfg = network.config
    mh, mw = -(-h // 16), -(-w // 16)
    frame = torch.rand(1, 3, height, width)
    keys = torch.rand(1, MEMORY_FRAMES, cfg.key_channels, mh, mw)
    values = torch.rand(1, MEMORY_FRAMES, cfg.value_channels, mh, mw)
    return frame, keys, values


def measure(
    height: int, width: int, downsample_ratio: float = 1.0, config: NetworkConfig | None = None
) -> Budget:
    """Counts one streaming step of the network at (height, width)."""
    from fvcore.nn import FlopCountAnalysis, flop_count_table

    network = MattingNetwork(config).eval()
    step = StreamingStep(network, height, width, downsample_ratio).eval()
    inputs = _step_inputs(network, height, width, downsample_ratio)
    with torch.no_grad():
        analysis = FlopCountAnalysis(step, inputs)
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        total = analysis.total()
        by_module = {
            name.removeprefix("network."): count / 1e9
            for name, count in analysis.by_module().items()
            if name.count(".") == 1 and name.startswith("network.")
        }
        table = flop_count_table(analysis, max_depth=2, show_param_shapes=False)
    matting_params = sum(
        p.numel()
        for name, p in network.named_parameters()
        if not name.startswith("segmentation.")
        and (downsample_ratio < 1 or not name.startswith("refiner."))
    )
    return Budget(height, width, downsample_ratio, total / 1e9, matting_params, by_module, table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.model.budget", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    results = [measure(h, w, r) for h, w, r in SIZES]
    if args.json:
        payload = {
            f"{b.width}x{b.height}": {
                "gmacs": round(b.gmacs, 4),
                "params": b.params,
                "downsample_ratio": b.downsample_ratio,
                "by_module_gmacs": {k: round(v, 4) for k, v in b.by_module.items()},
            }
            for b in results
        }
        json.dump(payload, sys.stdout, indent=2)
        print()
        return 0
    print("Per-module multiply-adds of one streaming step at 512x512, ratio 1 (fvcore):\n")
    print(results[0].table)
    print("\nTotals (one multiply-add = one flop):")
    for b in results:
        print(
            f"  {b.width}x{b.height} ratio {b.downsample_ratio:g}: "
            f"{b.gmacs:.3f} GMACs, {b.params / 1e6:.2f} M parameters"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
