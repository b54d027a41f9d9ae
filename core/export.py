"""Stateless exports for other runtimes (Nuke's Inference node, onnxruntime, TensorRT...).

    python -m core.export --format onnx --size 1080x1920 --ratio 0.25 -o memmatte.onnx
    python -m core.export --format torchscript --size 1080x1920 --ratio 0.25 -o memmatte.pt

The exported graph has one input, frames t-2, t-1 and t stacked as 9 channels
(1, 9, H, W) float in [0, 1] sRGB, and one output (1, 4, H, W): foreground RGB (not
premultiplied) and alpha. The frame size and downsample ratio are fixed at export, so the
graph has no dynamic shapes. At the start of a shot, pass the first frame for the missing
ones (what Nuke's TimeOffset does when it holds the first frame).

    python -m core.export --format torchscript --flexible -o memmatte_any.pt

``--flexible`` writes a TorchScript module for any frame size and downsample ratio instead
(for the OpenFX plugin, hosts/ofx): ``forward(frames (1, 9, H, W), ratio: float)``, where a
ratio <= 0 means the checkpoint's auto ratio (``core.session.auto_downsample_ratio``). The
size-dependent steps (network size, down-sampling, padding to the stride) are scripted; the
convolutional stages are traced once and run at any size.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from core.cli import frame_size
from core.model import (
    STRIDE,
    Encoding,
    MattingNetwork,
    downsample,
    network_size,
    pad_to_stride,
)
from core.model.guided_filter import DeepGuidedFilter

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


class _Encode(nn.Module):
    """Padded (N, 3, H, W) → the skips f1, f2, f3, key and value (traced; no size logic)."""

    def __init__(self, network: MattingNetwork) -> None:
        super().__init__()
        self.network = network

    def forward(self, image: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        enc = self.network.encode(image)
        return (*enc.features, enc.key, enc.value)


class _MatteLow(nn.Module):
    """``MattingNetwork.matte_low`` with ``refine`` fixed, for tracing."""

    def __init__(self, network: MattingNetwork, refine: bool) -> None:
        super().__init__()
        self.network = network
        self.refine = refine

    def forward(
        self,
        image: Tensor,
        f1: Tensor,
        f2: Tensor,
        f3: Tensor,
        key: Tensor,
        value: Tensor,
        memory_keys: Tensor,
        memory_values: Tensor,
        image_lr: Tensor,
    ) -> Tensor:
        encoding = Encoding(image, (f1, f2, f3), key, value)
        return self.network.matte_low(encoding, memory_keys, memory_values, image_lr, self.refine)


class _Apply(nn.Module):
    """The Deep Guided Filter's full-resolution pass, for tracing."""

    def forward(self, image: Tensor, coefficients: Tensor) -> Tensor:
        fgr, pha = DeepGuidedFilter.apply(image, coefficients)
        return torch.cat([fgr, pha], dim=1)


def _scripted_network_size(height: int, width: int, ratio: float) -> tuple[int, int]:
    """``core.model.network_size`` in TorchScript (round half to even, as Python's; the
    ``int`` is needed because TorchScript's ``round`` returns a float)."""
    return max(1, int(round(height * ratio))), max(1, int(round(width * ratio)))  # noqa: RUF046


def _scripted_downsample(image: Tensor, h: int, w: int) -> Tensor:
    """``core.model.downsample`` in TorchScript."""
    height, width = image.shape[-2], image.shape[-1]
    if height == h and width == w:
        return image
    k = int(min(height / h, width / w))
    if k >= 2:
        image = F.avg_pool2d(image, k, ceil_mode=True, count_include_pad=False)
    if image.shape[-2] == h and image.shape[-1] == w:
        return image
    return F.interpolate(image, size=[h, w], mode="bilinear", align_corners=False)


def _scripted_pad_to_stride(image: Tensor, stride: int) -> Tensor:
    """``core.model.pad_to_stride`` in TorchScript."""
    pad_h, pad_w = -image.shape[-2] % stride, -image.shape[-1] % stride
    if pad_h == 0 and pad_w == 0:
        return image
    return F.pad(image, [0, pad_w, 0, pad_h], mode="replicate")


class FlexibleMatting(nn.Module):
    """(1, 9, H, W) frames t-2, t-1, t and a downsample ratio → (1, 4, H, W) foreground RGB
    + alpha, for any H, W and ratio; a ratio <= 0 picks the checkpoint's auto ratio.

    Build with ``flexible_module``, which traces the stages and scripts this glue."""

    def __init__(self, network: MattingNetwork) -> None:
        super().__init__()
        network = network.eval()
        self.auto_long_side = float(network.auto_long_side)
        self.stride = STRIDE
        # Traced at a size that needs padding, down-sampling and refinement; the traced
        # stages hold no sizes (tests/core/test_export.py checks other sizes against eager).
        frames = torch.rand(3, 3, 40, 56)
        size = network_size(40, 56, 0.5)
        image_lr = downsample(frames, size)
        padded = pad_to_stride(image_lr)
        encode = _Encode(network)
        f1, f2, f3, key, value = encode(padded)
        keys = torch.stack([key[1:2], key[0:1]], dim=1)
        values = torch.stack([value[1:2], value[0:1]], dim=1)
        low_args = (
            padded[2:],
            f1[2:],
            f2[2:],
            f3[2:],
            key[2:],
            value[2:],
            keys,
            values,
            image_lr[2:],
        )
        self.encode = torch.jit.trace(encode, padded, check_trace=False)
        self.low_refine = torch.jit.trace(_MatteLow(network, True), low_args, check_trace=False)
        self.low_plain = torch.jit.trace(_MatteLow(network, False), low_args, check_trace=False)
        coefficients = self.low_refine(*low_args)
        self.apply_full = torch.jit.trace(_Apply(), (frames[2:], coefficients), check_trace=False)

    def forward(self, stacked: Tensor, ratio: float) -> Tensor:
        height, width = stacked.shape[2], stacked.shape[3]
        if ratio <= 0.0:
            ratio = min(1.0, self.auto_long_side / max(height, width))
        frames = stacked.reshape(3, 3, height, width)  # t-2, t-1, t
        h, w = _scripted_network_size(height, width, ratio)
        image_lr = _scripted_downsample(frames, h, w)
        padded = _scripted_pad_to_stride(image_lr, self.stride)
        f1, f2, f3, key, value = self.encode(padded)
        keys = torch.stack([key[1:2], key[0:1]], dim=1)
        values = torch.stack([value[1:2], value[0:1]], dim=1)
        current = (padded[2:], f1[2:], f2[2:], f3[2:], key[2:], value[2:])
        if h == height and w == width:
            return self.low_plain(*current, keys, values, image_lr[2:])
        coefficients = self.low_refine(*current, keys, values, image_lr[2:])
        return self.apply_full(frames[2:], coefficients)


def flexible_module(network: MattingNetwork) -> torch.jit.ScriptModule:
    """``FlexibleMatting`` of ``network`` (float32, CPU), scripted and frozen: the weights
    become constants and batch norms fold into convolutions, so the first calls at a new
    size spend less time in TorchScript's profiling runs."""
    with torch.no_grad():
        scripted = torch.jit.script(FlexibleMatting(network.float().cpu().eval()).eval())
        return torch.jit.freeze(scripted)


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
    parser.add_argument("--size", type=frame_size, default=None, help="frame size HEIGHTxWIDTH")
    parser.add_argument(
        "--flexible",
        action="store_true",
        help="TorchScript for any frame size; the ratio is passed at run time (hosts/ofx)",
    )
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
    if args.flexible and (args.format != "torchscript" or args.size or args.ratio is not None):
        parser.error("--flexible writes TorchScript and takes no --size or --ratio")
    if not args.flexible and args.size is None:
        parser.error("--size HEIGHTxWIDTH is required (or --flexible for TorchScript)")

    from core.session import DEFAULT_WEIGHTS, auto_downsample_ratio
    from core.weights import load_network

    weights = args.weights or DEFAULT_WEIGHTS
    if not Path(weights).is_file():
        parser.error(f"no weights at {weights}; pass --weights CHECKPOINT.safetensors")
    network = load_network(weights)
    if args.flexible:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        torch.jit.save(flexible_module(network), str(args.output))
        print(f"wrote {args.output} (torchscript, any size, ratio at run time)")
        return 0
    ratio = args.ratio
    height, width = args.size
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
