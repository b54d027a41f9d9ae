"""Stateless exports for other runtimes (Nuke's Inference node, onnxruntime, TensorRT...).

    python -m core.export --format onnx --size 1920x1080 --ratio 0.25 -o memmatte.onnx
    python -m core.export --format torchscript --size 1920x1080 --ratio 0.25 -o memmatte.pt
    python -m core.export --format torchscript --legacy-ops ... -o memmatte.pt  # Nuke 13-15

The exported graph has one input, frames t-2, t-1 and t stacked as 9 channels
(1, 9, H, W) float in [0, 1] sRGB, and one output (1, 4, H, W): foreground RGB (not
premultiplied) and alpha. The frame size and downsample ratio are fixed at export, so the
graph has no dynamic shapes. At the start of a shot, pass the first frame for the missing
ones (what Nuke's TimeOffset does when it holds the first frame): ``stacked_frames(t)`` lists
the frames of frame t's input.

The TorchScript export is traced on the CPU in float32 and not frozen: its weights stay
parameters and buffers, and it makes no tensor of its own, so it runs wherever its loader
moves it, ``.to("cuda")`` and ``.half()`` as Nuke's Inference node does with *Use GPU if
available* and *Optimize for Speed and Memory* (a frozen module would keep its weights as
constants on the CPU: PyTorch issues #57569, #48437).

A TorchScript file is loaded by compiling its code against the loading libtorch's operators.
A trace by this torch calls ``aten::pad`` and the 13-argument ``aten::_convolution``, which
libtorch 1.12 has and 1.6 has not. ``--legacy-ops`` traces replicate padding as slices and
concatenations and rewrites every convolution as the 7-argument ``aten::conv2d`` and every
bilinear resize as the 5-argument ``aten::upsample_bilinear2d``, leaving only the operators
of ``LEGACY_OPS``, and leaves out the archive's debug records, which libtorch 1.6 cannot
read (docs/hosts/nuke.md: which Nuke loads what; benchmarks/old_libtorch.py runs both
exports under older torch releases).

    python -m core.export --format torchscript --flexible -o memmatte_any.pt

``--flexible`` writes a TorchScript module for any frame size and downsample ratio instead
(for the OpenFX plugin, hosts/ofx): ``forward(frames (1, 9, H, W), ratio: float)``, where a
ratio <= 0 means the checkpoint's auto ratio (``core.session.auto_downsample_ratio``). The
size-dependent steps (network size, down-sampling, padding to the stride) are scripted; the
convolutional stages are traced once and run at any size.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from core.cli import frame_size
from core.model import (
    MEMORY_FRAMES,
    STRIDE,
    Encoding,
    MattingNetwork,
    downsample,
    memory_window,
    network_size,
    pad_to_stride,
)
from core.model.guided_filter import DeepGuidedFilter

log = logging.getLogger("memmatte")

STACKED = MEMORY_FRAMES + 1
"""Frames in the stacked input: frame t's memory, oldest first, then frame t."""
CURRENT = MEMORY_FRAMES
"""Frame t's place in the stacked input."""


def stacked_frames(index: int) -> tuple[int, ...]:
    """The frames whose channels make frame ``index``'s input: t-2, t-1, t (its
    ``memory_window``, oldest first; the first frame stands in before the shot)."""
    return (*reversed(memory_window(index)), index)


_MEMORY_SLOTS = tuple(stacked_frames(CURRENT).index(i) for i in memory_window(CURRENT))
"""Where each frame of the memory, newest first, sits in the stacked input: (1, 0)."""


def split_stacked(enc: Encoding) -> tuple[Encoding, Tensor, Tensor]:
    """Encodings of the ``STACKED`` frames of one input → frame t's encoding, and the keys
    and values of its memory, (1, MEMORY_FRAMES, C, h, w) newest first (the session's
    order). Traced only: the slots are fixed at trace time."""
    keys = torch.stack([enc.key[s : s + 1] for s in _MEMORY_SLOTS], dim=1)
    values = torch.stack([enc.value[s : s + 1] for s in _MEMORY_SLOTS], dim=1)
    current = Encoding(
        enc.image[CURRENT:],
        tuple(f[CURRENT:] for f in enc.features),
        enc.key[CURRENT:],
        enc.value[CURRENT:],
    )
    return current, keys, values


class StatelessMatting(nn.Module):
    """(1, 9, H, W) frames t-2, t-1, t → (1, 4, H, W) foreground RGB + alpha, for one size."""

    def __init__(self, network: MattingNetwork, height: int, width: int, ratio: float) -> None:
        super().__init__()
        self.network = network.eval()
        self.full = (height, width)
        self.size = network_size(height, width, ratio)

    def forward(self, stacked: Tensor) -> Tensor:
        net = self.network
        frames = stacked.reshape(STACKED, 3, *self.full)
        image_lr = downsample(frames, self.size)
        current, keys, values = split_stacked(net.encode(pad_to_stride(image_lr)))
        fgr, pha = net.matte(current, keys, values, frames[CURRENT:], image_lr[CURRENT:])
        return torch.cat([fgr, pha], dim=1)


LEGACY_OPS = frozenset(
    "aten::" + name
    for name in [
        "adaptive_avg_pool2d",
        "avg_pool2d",
        "batch_norm",
        "bmm",
        "cat",
        "clamp",
        "conv2d",
        "div",
        "expand",
        "flatten",
        "hardsigmoid",
        "hardswish_",
        "Int",
        "mean",
        "mul",
        "relu",
        "relu_",
        "reshape",
        "size",
        "slice",
        "softmax",
        "stack",
        "sub",
        "transpose",
        "upsample_bilinear2d",
        "add",
    ]
)
"""The operators a ``--legacy-ops`` TorchScript graph may call, each with a signature that
PyTorch 1.6 (Nuke 13) and 1.12 (Nuke 14 and 15) have; graph plumbing (``prim::``) aside."""

_CONVOLUTION = """
graph(%x, %w, %b, %stride: int[], %padding: int[], %dilation: int[], %transposed: bool,
      %output_padding: int[], %groups: int, %benchmark: bool, %deterministic: bool,
      %cudnn: bool, %tf32: bool):
    %y = aten::_convolution(%x, %w, %b, %stride, %padding, %dilation, %transposed,
                            %output_padding, %groups, %benchmark, %deterministic, %cudnn, %tf32)
    return (%y)"""
_CONV2D = """
graph(%x, %w, %b, %stride: int[], %padding: int[], %dilation: int[], %transposed: bool,
      %output_padding: int[], %groups: int, %benchmark: bool, %deterministic: bool,
      %cudnn: bool, %tf32: bool):
    %y = aten::conv2d(%x, %w, %b, %stride, %padding, %dilation, %groups)
    return (%y)"""
_UPSAMPLE_VEC = """
graph(%x, %size: int[], %align: bool, %scales):
    %y = aten::upsample_bilinear2d(%x, %size, %align, %scales)
    return (%y)"""
_UPSAMPLE = """
graph(%x, %size: int[], %align: bool, %scales):
    %none : NoneType = prim::Constant()
    %y = aten::upsample_bilinear2d(%x, %size, %align, %none, %none)
    return (%y)"""


def graphs(module: torch.jit.ScriptModule) -> list[torch.Graph]:
    """The forward graph of a TorchScript module and of every submodule that has one: a
    loading libtorch compiles each of them, whether the module's forward calls it or not."""
    return [sub.graph for sub in module.modules() if sub._c._has_method("forward")]


def graph_nodes(module: torch.jit.ScriptModule) -> Iterator[torch.Node]:
    """Every node of ``graphs(module)``, those in blocks (if, loop) included."""

    def walk(nodes: Iterator[torch.Node]) -> Iterator[torch.Node]:
        for node in nodes:
            yield node
            for block in node.blocks():
                yield from walk(block.nodes())

    for graph in graphs(module):
        yield from walk(graph.nodes())


def graph_ops(module: torch.jit.ScriptModule) -> set[str]:
    """The operators a TorchScript module's code calls (``aten::conv2d``, ...)."""
    return {node.kind() for node in graph_nodes(module)}


def _replicate_pad(x: Tensor, pad: tuple[int, ...]) -> Tensor:
    """``F.pad(x, (left, right, top, bottom), mode="replicate")`` as slices of the edge rows
    and columns, expanded and concatenated (sizes fixed at trace time). No index tensor is
    made, so the graph holds no tensor of its own that would stay on the CPU when the
    module moves to the GPU."""
    left, right, top, bottom = (int(p) for p in pad)  # fixed at trace time, as the size is
    lead = (-1,) * (x.dim() - 2)
    rows = [x[..., :1, :].expand(*lead, top, -1)] if top else []
    rows += [x, *([x[..., -1:, :].expand(*lead, bottom, -1)] if bottom else [])]
    x = torch.cat(rows, dim=-2) if len(rows) > 1 else x
    cols = [x[..., :1].expand(*lead, -1, left)] if left else []
    cols += [x, *([x[..., -1:].expand(*lead, -1, right)] if right else [])]
    return torch.cat(cols, dim=-1) if len(cols) > 1 else x


@contextlib.contextmanager
def _legacy_padding() -> Iterator[None]:
    """While tracing: replicate padding as ``_replicate_pad`` instead of ``aten::pad``. The
    network's modules call ``F.pad`` through ``torch.nn.functional``, so that name is
    swapped for the trace only."""
    original = torch.nn.functional.pad

    def pad(x, pad, mode="constant", value=None):
        if mode == "replicate" and len(pad) == 4:
            return _replicate_pad(x, tuple(pad))
        return original(x, pad, mode, value)

    torch.nn.functional.pad = pad
    try:
        yield
    finally:
        torch.nn.functional.pad = original


def _legacy_rewrite(module: torch.jit.ScriptModule) -> None:
    """Rewrites the convolutions and bilinear resizes of a traced module and its submodules
    to their old signatures."""
    rewrite = torch._C._jit_pass_custom_pattern_based_rewrite_graph
    for graph in graphs(module):
        for node in graph.findAllNodes("aten::_convolution"):
            transposed = node.inputsAt(6).node()
            if transposed.kind() != "prim::Constant" or transposed.output().toIValue():
                raise ValueError("a transposed or non-constant convolution has no conv2d form")
        rewrite(_CONVOLUTION, _CONV2D, graph)
        rewrite(_UPSAMPLE_VEC, _UPSAMPLE, graph)
    left = graph_ops(module) - LEGACY_OPS
    left = {op for op in left if op.startswith("aten::")}
    if left:
        raise ValueError(f"--legacy-ops: operators without an old form: {sorted(left)}")


def _drop_debug_info(path: Path) -> None:
    """Removes the ``code/*.debug_pkl`` records (source ranges for error messages) from a
    TorchScript archive: libtorch 1.6 (Nuke 13) fails on the format this torch writes them
    in ("Expected Tuple but got String") and loads the archive without them."""
    with zipfile.ZipFile(path) as archive:
        records = [(info, archive.read(info)) for info in archive.infolist()]
    temporary = path.with_name(f".{path.name}.tmp")
    with zipfile.ZipFile(temporary, "w", zipfile.ZIP_STORED) as archive:
        for info, data in records:
            if not info.filename.endswith(".debug_pkl"):
                archive.writestr(info, data)
    temporary.replace(path)


class _Encode(nn.Module):
    """Padded (N, 3, H, W) → the skips f1, f2, f3, key and value (traced; no size logic)."""

    def __init__(self, network: MattingNetwork) -> None:
        super().__init__()
        self.network = network

    def forward(self, image: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        enc = self.network.encode(image)
        return (*enc.features, enc.key, enc.value)


class _MatteLow(nn.Module):
    """``MattingNetwork.matte_low`` of frame t with ``refine`` fixed, for tracing: takes
    the padded images, skips, keys, values and network-size images of all stacked frames."""

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
        image_lr: Tensor,
    ) -> Tensor:
        current, keys, values = split_stacked(Encoding(image, (f1, f2, f3), key, value))
        return self.network.matte_low(current, keys, values, image_lr[CURRENT:], self.refine)


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


@contextlib.contextmanager
def _key_width_is_constant() -> Iterator[None]:
    """Silences the one TracerWarning that tracing the network gives, which is harmless:
    ``read_memory`` divides the attention by sqrt(Ck) with ``math.sqrt`` of the query's
    channel count, so the trace records that number as a constant ("might not generalize to
    other inputs"). Ck is the key width, fixed by the weights' shapes, the same at every
    frame size and ratio (tests/core/test_export.py compares other sizes with eager)."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message=r"Converting a tensor to a Python float",
            category=torch.jit.TracerWarning,
        )
        yield


class FlexibleMatting(nn.Module):
    """(1, 9, H, W) frames t-2, t-1, t and a downsample ratio → (1, 4, H, W) foreground RGB
    + alpha, for any H, W and ratio; a ratio <= 0 picks the checkpoint's auto ratio.

    Build with ``flexible_module``, which traces the stages and scripts this glue."""

    def __init__(self, network: MattingNetwork) -> None:
        super().__init__()
        network = network.eval()
        self.auto_long_side = float(network.auto_long_side)
        self.stride = STRIDE
        self.stacked = STACKED
        self.current = CURRENT
        # Traced at a size that needs padding, down-sampling and refinement; the traced
        # stages hold no sizes (tests/core/test_export.py checks other sizes against eager).
        frames = torch.rand(STACKED, 3, 40, 56)
        size = network_size(40, 56, 0.5)
        image_lr = downsample(frames, size)
        padded = pad_to_stride(image_lr)
        encode = _Encode(network)
        low_args = (padded, *encode(padded), image_lr)
        with _key_width_is_constant():
            self.encode = torch.jit.trace(encode, padded, check_trace=False)
            low_refine = _MatteLow(network, True)
            self.low_refine = torch.jit.trace(low_refine, low_args, check_trace=False)
            low_plain = _MatteLow(network, False)
            self.low_plain = torch.jit.trace(low_plain, low_args, check_trace=False)
        coefficients = self.low_refine(*low_args)
        self.apply_full = torch.jit.trace(
            _Apply(), (frames[CURRENT:], coefficients), check_trace=False
        )

    def forward(self, stacked: Tensor, ratio: float) -> Tensor:
        height, width = stacked.shape[2], stacked.shape[3]
        if ratio <= 0.0:
            ratio = min(1.0, self.auto_long_side / max(height, width))
        frames = stacked.reshape(self.stacked, 3, height, width)
        h, w = _scripted_network_size(height, width, ratio)
        image_lr = _scripted_downsample(frames, h, w)
        padded = _scripted_pad_to_stride(image_lr, self.stride)
        f1, f2, f3, key, value = self.encode(padded)
        if h == height and w == width:
            return self.low_plain(padded, f1, f2, f3, key, value, image_lr)
        coefficients = self.low_refine(padded, f1, f2, f3, key, value, image_lr)
        return self.apply_full(frames[self.current :], coefficients)


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
    legacy_ops: bool = False,
) -> Path:
    """Writes ``network`` as a stateless ONNX or TorchScript graph for (height, width);
    ``legacy_ops`` (TorchScript only): only the operators of ``LEGACY_OPS``."""
    if legacy_ops and fmt != "torchscript":
        raise ValueError("legacy_ops applies to the torchscript format only")
    model = StatelessMatting(network.float().cpu().eval(), height, width, ratio).eval()
    example = torch.rand(1, 9, height, width)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The graph is for this one size and ratio by design, so the tracer's warnings that
    # sizes become constants ("might not generalize to other inputs") are all expected.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        # The TorchScript-based ONNX exporter is chosen on purpose (dynamo=False below).
        warnings.filterwarnings(
            "ignore", message=r"You are using the legacy TorchScript-based ONNX export"
        )
        if fmt == "torchscript":
            with _legacy_padding() if legacy_ops else contextlib.nullcontext():
                traced = torch.jit.trace(model, example, check_trace=False)
            # Not frozen: the weights stay parameters and buffers, so the module moves
            # with .to(device) and .half() as Nuke's Inference node moves it (a frozen
            # module keeps its constants where they were frozen: PyTorch #57569, #48437).
            if legacy_ops:
                _legacy_rewrite(traced)
            torch.jit.save(traced, str(path))
            if legacy_ops:
                _drop_debug_info(path)
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
    parser.add_argument(
        "--size", type=frame_size, default=None, help="frame size WIDTHxHEIGHT, e.g. 1920x1080"
    )
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
    parser.add_argument(
        "--legacy-ops",
        action="store_true",
        help="TorchScript for older libtorch (Nuke 13 to 15, PyTorch 1.6 and 1.12): no "
        "aten::pad, 7-argument conv2d (docs/hosts/nuke.md)",
    )
    args = parser.parse_args(argv)
    if args.legacy_ops and args.format != "torchscript":
        parser.error("--legacy-ops needs --format torchscript")
    if args.flexible and (args.format != "torchscript" or args.size or args.ratio is not None):
        parser.error("--flexible writes TorchScript and takes no --size or --ratio")
    if args.flexible and args.legacy_ops:
        parser.error("--flexible and --legacy-ops cannot be combined")
    if not args.flexible and args.size is None:
        parser.error("--size WIDTHxHEIGHT is required (or --flexible for TorchScript)")

    from core.runtime import resolve_weights
    from core.session import auto_downsample_ratio
    from core.weights import load_network

    hint = "pass --weights CHECKPOINT.safetensors"
    try:
        weights = resolve_weights(args.weights, hint)
    except FileNotFoundError as exc:
        parser.error(str(exc))
    if not weights.is_file():
        parser.error(f"no weights at {weights}; {hint}")
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
        legacy_ops=args.legacy_ops,
    )
    legacy = ", legacy operators" if args.legacy_ops else ""
    print(f"wrote {args.output} ({args.format}{legacy}, {width}x{height}, ratio {ratio:g})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
