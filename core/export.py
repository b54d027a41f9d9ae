"""Stateless exports for other runtimes (Nuke's Inference node, onnxruntime, TensorRT...).

    python -m core.export --format onnx --size 1080x1920 --ratio 0.25 -o memmatte.onnx
    python -m core.export --format torchscript --size 1080x1920 --ratio 0.25 -o memmatte.pt

The exported graph has one input, frames t-2, t-1 and t stacked as 9 channels
(1, 9, H, W) float in [0, 1] sRGB, and one output (1, 4, H, W): foreground RGB (not
premultiplied) and alpha. The frame size and downsample ratio are fixed at export, so the
graph has no dynamic shapes. At the start of a shot, pass the first frame for the missing
ones (what Nuke's TimeOffset does when it holds the first frame).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch
from torch import Tensor, nn

from core.cli import frame_size
from core.model import Encoding, MattingNetwork, downsample, network_size, pad_to_stride

log = logging.getLogger("memmatte")


class StatelessMatting(nn.Module):
    """(1, 9, H, W) frames t-2, t-1, t → (1, 4, H, W) foreground RGB + alpha, for one size."""

    def __init__(self, network: MattingNetwork, height: int, width: int, ratio: float) -> None:
        super().__init__()
        self.network = network.eval()
        self.full = (height, width)
        self.size = network_size(height, width, ratio)

    def forward(self, stacked: Tensor) -> Tensor:
        net = self.network
        frames = stacked.reshape(3, 3, *self.full)  # t-2, t-1, t
        image_lr = downsample(frames, self.size)
        enc = net.encode(pad_to_stride(image_lr))
        memory_keys = torch.stack([enc.key[1:2], enc.key[0:1]], dim=1)
        memory_values = torch.stack([enc.value[1:2], enc.value[0:1]], dim=1)
        current = Encoding(
            enc.image[2:], tuple(f[2:] for f in enc.features), enc.key[2:], enc.value[2:]
        )
        fgr, pha = net.matte(current, memory_keys, memory_values, frames[2:], image_lr[2:])
        return torch.cat([fgr, pha], dim=1)


def export(
    network: MattingNetwork,
    path: str | Path,
    *,
    fmt: str,
    height: int,
    width: int,
    ratio: float,
    opset: int = 17,
) -> Path:
    """Writes ``network`` as a stateless ONNX or TorchScript graph for (height, width)."""
    model = StatelessMatting(network.float().cpu().eval(), height, width, ratio).eval()
    example = torch.rand(1, 9, height, width)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        if fmt == "torchscript":
            traced = torch.jit.trace(model, example, check_trace=False)
            traced = torch.jit.freeze(traced)
            torch.jit.save(traced, str(path))
        elif fmt == "onnx":
            torch.onnx.export(
                model,
                (example,),
                str(path),
                input_names=["frames"],
                output_names=["fgr_alpha"],
                opset_version=opset,
                dynamo=False,
            )
        else:
            raise ValueError(f"unknown export format {fmt!r} (onnx or torchscript)")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m core.export",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--format", choices=["onnx", "torchscript"], required=True)
    parser.add_argument("--size", type=frame_size, required=True, help="frame size HEIGHTxWIDTH")
    parser.add_argument(
        "--ratio",
        type=float,
        default=None,
        help="downsample ratio fixed in the graph (default: the checkpoint's auto ratio)",
    )
    parser.add_argument("--weights", type=Path, default=None, help="checkpoint (default: bundled)")
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--opset", type=int, default=17)
    args = parser.parse_args(argv)

    from core.session import DEFAULT_WEIGHTS, auto_downsample_ratio
    from core.weights import load_network

    height, width = args.size
    weights = args.weights or DEFAULT_WEIGHTS
    if not Path(weights).is_file():
        parser.error(f"no weights at {weights}; pass --weights CHECKPOINT.safetensors")
    network = load_network(weights)
    ratio = args.ratio
    if ratio is None:
        ratio = auto_downsample_ratio(height, width, network.auto_long_side)
    export(
        network,
        args.output,
        fmt=args.format,
        height=height,
        width=width,
        ratio=ratio,
        opset=args.opset,
    )
    print(f"wrote {args.output} ({args.format}, {height}x{width}, ratio {ratio:g})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
