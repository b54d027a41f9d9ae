"""Robust Video Matting (MobileNetV3 variant) as a torch teacher, loaded from its TF.js export.

The architecture follows the published model: a MobileNetV3-Large encoder whose last stage is
dilated (features at 1/2, 1/4, 1/8, 1/16), an LR-ASPP head, a recurrent decoder (bottleneck
block, three upsampling blocks and an output block, each carrying half of its channels through
a ConvGRU) and a 1x1 projection to a foreground residual (3) and alpha (1). With
``downsample_ratio != 1`` the frame is shrunk with bilinear resampling, run, and brought back to
full size by the refiner the export contains: a Fast Guided Filter (radius 1, eps 1e-5) on
[RGB, grey] guides (read from the graph's ``fast_guided_filter_refiner`` nodes); the Deep
Guided Filter refiner, the PyTorch release's default, is not in the export.

Shapes and rounding follow the TF.js graph, not the PyTorch release: stride-2 convolutions pad
symmetrically (explicit ZeroPadding2D, VALID convolution); the decoder's source pyramid is
2x2 average pooling with SAME padding (odd sizes: the last row/column averages what exists);
upsampling is bilinear x2 (half-pixel centres) cropped to the skip's size; the downsampled size
is ``int(float32(H) * ratio)``; the guided filter's 3x3 box filter is VALID (the low-resolution
coefficient maps are 2 pixels smaller before bilinear upsampling to full size). The guided
filter divides by a local variance that can be as small as its eps, so the refiner's inputs
(downsampling, grey guide, box filter, coefficient upsampling) round as TF.js's CPU kernels do;
elsewhere torch's float32 ops agree with TF.js to about 1e-6.

Weights are found by name in the export (batch norm is folded into the convolutions, so they
all have a bias, except LR-ASPP's gate, which has none). The weights are GPL-3.0; see
docs/teacher.md.

    teacher = load_teacher(rvm_model_json())
    fgr, pha = run_clip(teacher, frames, downsample_ratio=0.5)  # frames: (T, 3, H, W) in [0, 1]
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.model.backbone import LARGE_BLOCKS, BlockSpec, make_divisible
from training.teachers.tfjs import GraphModel, TfjsFormatError, read_model

_SCOPE = "StatefulPartitionedCall/matting_network_wrapper/StatefulPartitionedCall/"


class ConvAct(nn.Module):
    """Convolution (batch norm folded in: it has a bias) → optional activation."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int,
        *,
        stride: int = 1,
        groups: int = 1,
        dilation: int = 1,
        activation: str | None = "relu",
        bias: bool = True,
    ) -> None:
        super().__init__()
        padding = (kernel - 1) // 2 * dilation
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel, stride, padding, dilation, groups, bias=bias
        )
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv(x)
        if self.activation == "relu":
            return F.relu(x)
        if self.activation == "hardswish":
            return F.hardswish(x)
        return x


class SqueezeExcitation(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        squeeze = make_divisible(channels // 4)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        scale = x.mean((2, 3), keepdim=True)
        return x * F.hardsigmoid(self.fc2(F.relu(self.fc1(scale))))


class InvertedResidual(nn.Module):
    def __init__(self, cfg: BlockSpec) -> None:
        super().__init__()
        act = "hardswish" if cfg.hardswish else "relu"
        self.expand = (
            ConvAct(cfg.in_channels, cfg.expanded, 1, activation=act)
            if cfg.expanded != cfg.in_channels
            else None
        )
        self.depthwise = ConvAct(
            cfg.expanded,
            cfg.expanded,
            cfg.kernel,
            stride=cfg.stride,
            groups=cfg.expanded,
            dilation=cfg.dilation,
            activation=act,
        )
        self.se = SqueezeExcitation(cfg.expanded) if cfg.use_se else None
        self.project = ConvAct(cfg.expanded, cfg.out_channels, 1, activation=None)
        self.residual = cfg.stride == 1 and cfg.in_channels == cfg.out_channels

    def forward(self, x: Tensor) -> Tensor:
        y = self.expand(x) if self.expand is not None else x
        y = self.depthwise(y)
        if self.se is not None:
            y = self.se(y)
        y = self.project(y)
        return x + y if self.residual else y


class Encoder(nn.Module):
    """ImageNet-normalises (N, 3, H, W) sRGB in [0, 1]; features at 1/2 (16 ch), 1/4 (24),
    1/8 (40) and 1/16 (960). Sizes round up: a stride-2 layer maps n to ceil(n / 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(1, 3, 1, 1))
        self.register_buffer("inv_std", torch.ones(1, 3, 1, 1))
        self.stem = ConvAct(3, 16, 3, stride=2, activation="hardswish")
        self.blocks = nn.ModuleList(InvertedResidual(cfg) for cfg in LARGE_BLOCKS)
        self.last = ConvAct(160, 960, 1, activation="hardswish")

    def normalize(self, src: Tensor) -> Tensor:
        """ImageNet normalisation with the export's constants (stored uint8-quantized, so they
        differ from the usual mean/std in the fourth decimal)."""
        return (src - self.mean) * self.inv_std

    def forward(self, src: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        return self.features(self.normalize(src))

    def features(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The four taps from an already normalised input."""
        f1 = self.blocks[0](self.stem(x))
        f2 = self.blocks[2](self.blocks[1](f1))
        f3 = f2
        for block in self.blocks[3:6]:
            f3 = block(f3)
        f4 = f3
        for block in self.blocks[6:]:
            f4 = block(f4)
        return f1, f2, f3, self.last(f4)


class LRASPP(nn.Module):
    def __init__(self, in_channels: int = 960, out_channels: int = 128) -> None:
        super().__init__()
        self.branch = ConvAct(in_channels, out_channels, 1)
        self.gate = nn.Conv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.branch(x) * torch.sigmoid(self.gate(x.mean((2, 3), keepdim=True)))


class ConvGRU(nn.Module):
    """h' = (1 - z) h + z tanh(W [x, r h]); [r, z] = sigmoid(W' [x, h]); h = 0 when None."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.ih = nn.Conv2d(channels * 2, channels * 2, 3, padding=1)
        self.hh = nn.Conv2d(channels * 2, channels, 3, padding=1)

    def forward(self, x: Tensor, h: Tensor | None) -> tuple[Tensor, Tensor]:
        if h is None:
            h = torch.zeros_like(x)
        r, z = torch.sigmoid(self.ih(torch.cat([x, h], 1))).chunk(2, 1)
        c = torch.tanh(self.hh(torch.cat([x, r * h], 1)))
        h = (1 - z) * h + z * c
        return h, h


def _half_gru(gru: ConvGRU, x: Tensor, r: Tensor | None) -> tuple[Tensor, Tensor]:
    a, b = x.chunk(2, 1)
    b, r = gru(b, r)
    return torch.cat([a, b], 1), r


def _axis_taps(old: int, new: int, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
    # TF half-pixel centres: source = (i + 0.5) * old / new - 0.5, both taps clamped inside.
    source = (torch.arange(new, dtype=torch.float64, device=device) + 0.5) * (old / new) - 0.5
    low = source.floor().clamp(min=0)
    high = source.ceil().clamp(max=old - 1)
    return low.long(), high.long(), source - low


def resize_bilinear(x: Tensor, size: tuple[int, int]) -> Tensor:
    """TF ``ResizeBilinear`` (half-pixel centres, no antialiasing) as TF.js computes it: the
    interpolation in double precision, rounded once to ``x``'s dtype. Small differences from
    ``F.interpolate`` matter here because the guided filter amplifies them."""
    top, bottom, row_frac = _axis_taps(x.shape[-2], size[0], x.device)
    left, right, col_frac = _axis_taps(x.shape[-1], size[1], x.device)
    x64 = x.double()
    upper, lower = x64[..., top, :], x64[..., bottom, :]
    upper = upper[..., left] + (upper[..., right] - upper[..., left]) * col_frac
    lower = lower[..., left] + (lower[..., right] - lower[..., left]) * col_frac
    return (upper + (lower - upper) * row_frac[:, None]).to(x.dtype)


def _upsample_to(x: Tensor, like: Tensor) -> Tensor:
    """Bilinear x2 (half-pixel centres, as TF), then the top-left crop to ``like``'s size.

    ``F.interpolate`` rounds slightly differently from TF.js, which is harmless here (about
    1e-6 on the outputs); only the refiner's inputs need ``resize_bilinear``."""
    h, w = x.shape[-2:]
    x = F.interpolate(x, size=(h * 2, w * 2), mode="bilinear", align_corners=False)
    return x[..., : like.shape[-2], : like.shape[-1]]


class UpsamplingBlock(nn.Module):
    def __init__(self, in_channels: int, skip_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = ConvAct(in_channels + skip_channels + 3, out_channels, 3)
        self.gru = ConvGRU(out_channels // 2)

    def forward(
        self, x: Tensor, skip: Tensor, src: Tensor, r: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        x = self.conv(torch.cat([_upsample_to(x, skip), skip, src], 1))
        return _half_gru(self.gru, x, r)


class OutputBlock(nn.Module):
    def __init__(self, in_channels: int = 32, out_channels: int = 16) -> None:
        super().__init__()
        self.conv1 = ConvAct(in_channels + 3, out_channels, 3)
        self.conv2 = ConvAct(out_channels, out_channels, 3)

    def forward(self, x: Tensor, src: Tensor) -> Tensor:
        return self.conv2(self.conv1(torch.cat([_upsample_to(x, src), src], 1)))


def _avg_pool_same(x: Tensor) -> Tensor:
    """2x2 / stride 2 average, TF SAME padding: a window cut by the border averages what exists."""
    return F.avg_pool2d(x.double(), 2, 2, ceil_mode=True).to(x.dtype)


class RecurrentDecoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.bottleneck = ConvGRU(64)
        self.decode3 = UpsamplingBlock(128, 40, 80)
        self.decode2 = UpsamplingBlock(80, 24, 40)
        self.decode1 = UpsamplingBlock(40, 16, 32)
        self.output = OutputBlock(32, 16)

    def forward(
        self,
        s0: Tensor,
        features: tuple[Tensor, Tensor, Tensor, Tensor],
        states: tuple[Tensor | None, ...],
    ) -> tuple[Tensor, tuple[Tensor, Tensor, Tensor, Tensor]]:
        f1, f2, f3, f4 = features
        r1, r2, r3, r4 = states
        s1 = _avg_pool_same(s0)
        s2 = _avg_pool_same(s1)
        s3 = _avg_pool_same(s2)
        x4, r4 = _half_gru(self.bottleneck, f4, r4)
        x3, r3 = self.decode3(x4, f3, s3, r3)
        x2, r2 = self.decode2(x3, f2, s2, r2)
        x1, r1 = self.decode1(x2, f1, s1, r1)
        return self.output(x1, s0), (r1, r2, r3, r4)


def _box3_valid(x: Tensor) -> Tensor:
    """3x3 mean without padding: a vertical then a horizontal 3-tap filter of float32 1/3.

    Each tap is accumulated and rounded as TF.js's depthwise convolution does (exact product,
    float32 sum), because the guided filter's variance is a difference of close numbers.
    """
    third = float(np.float32(1.0 / 3.0))

    def taps(a: Tensor, b: Tensor, c: Tensor) -> Tensor:
        acc = (a.double() * third).to(x.dtype)
        acc = (acc.double() + b.double() * third).to(x.dtype)
        return (acc.double() + c.double() * third).to(x.dtype)

    x = taps(x[..., :-2, :], x[..., 1:-1, :], x[..., 2:, :])
    return taps(x[..., :-2], x[..., 1:-1], x[..., 2:])


def fast_guided_filter(lr_x: Tensor, lr_y: Tensor, hr_x: Tensor, eps: float = 1e-5) -> Tensor:
    """Channel-wise fast guided filter (radius 1): fits y ≈ A x + b on the low-resolution
    pair, upsamples A and b bilinearly to ``hr_x``'s size and returns A hr_x + b."""
    mean_x = _box3_valid(lr_x)
    mean_y = _box3_valid(lr_y)
    cov_xy = _box3_valid(lr_x * lr_y) - mean_x * mean_y
    var_x = _box3_valid(lr_x * lr_x) + (eps - mean_x * mean_x)
    a = cov_xy / var_x
    b = mean_y - a * mean_x
    size = (hr_x.shape[-2], hr_x.shape[-1])
    return resize_bilinear(a, size) * hr_x + resize_bilinear(b, size)


def downsampled_size(height: int, width: int, ratio: float) -> tuple[int, int]:
    """The size the export resizes to: ``int(float32(n) * float32(ratio))`` per side."""
    r = np.float32(ratio)
    return int(np.float32(height) * r), int(np.float32(width) * r)


class RobustVideoMatting(nn.Module):
    """Robust Video Matting, MobileNetV3 variant (the TF.js export's graph, in torch).

    ``forward(src, r1, r2, r3, r4, downsample_ratio)``: ``src`` (B, 3, H, W) float32 sRGB in
    [0, 1]; recurrent states None on a clip's first frame. Returns ``fgr`` (B, 3, H, W) and
    ``pha`` (B, 1, H, W), both clamped to [0, 1], and the next states r1..r4 (16, 20, 40, 64
    channels at 1/2, 1/4, 1/8, 1/16 of the downsampled frame).
    """

    state_channels = (16, 20, 40, 64)

    def __init__(self) -> None:
        super().__init__()
        self.encoder = Encoder()
        self.aspp = LRASPP()
        self.decoder = RecurrentDecoder()
        self.project = nn.Conv2d(16, 4, 1)

    def forward(
        self,
        src: Tensor,
        r1: Tensor | None = None,
        r2: Tensor | None = None,
        r3: Tensor | None = None,
        r4: Tensor | None = None,
        downsample_ratio: float = 1.0,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
        if not 0.0 < downsample_ratio <= 1.0:
            raise ValueError(f"downsample_ratio must be in (0, 1], got {downsample_ratio}")
        if downsample_ratio == 1.0:
            src_sm = src
        else:
            size = downsampled_size(src.shape[-2], src.shape[-1], downsample_ratio)
            src_sm = resize_bilinear(src, size)
        f1, f2, f3, f4 = self.encoder(src_sm)
        x0, (r1, r2, r3, r4) = self.decoder(src_sm, (f1, f2, f3, self.aspp(f4)), (r1, r2, r3, r4))
        out = self.project(x0)
        if downsample_ratio != 1.0:
            out = fast_guided_filter(_with_grey(src_sm), out, _with_grey(src))
        fgr_residual, pha = out.split([3, 1], 1)
        fgr = (fgr_residual + src).clamp(0.0, 1.0)
        return fgr, pha.clamp(0.0, 1.0), r1, r2, r3, r4


def _with_grey(src: Tensor) -> Tensor:
    """[R, G, B, grey]: the guided filter's guide. The grey is TF.js's mean (each value divided
    by 3, summed in double, rounded once); the filter amplifies a last-bit difference."""
    grey = (src / 3).double().sum(1, keepdim=True).to(src.dtype)
    return torch.cat([src, grey], 1)


@torch.no_grad()
def run_clip(
    teacher: RobustVideoMatting, frames: Tensor, downsample_ratio: float = 1.0
) -> tuple[Tensor, Tensor]:
    """Mattes a clip frame by frame, carrying the recurrent state.

    ``frames``: (T, 3, H, W) float in [0, 1] → ``fgr`` (T, 3, H, W), ``pha`` (T, 1, H, W).
    """
    if frames.ndim != 4 or frames.shape[1] != 3:
        raise ValueError(f"frames must be (T, 3, H, W), got {tuple(frames.shape)}")
    states: tuple[Tensor | None, ...] = (None, None, None, None)
    fgrs, phas = [], []
    for frame in frames:
        fgr, pha, *states = teacher(frame[None], *states, downsample_ratio=downsample_ratio)
        fgrs.append(fgr[0])
        phas.append(pha[0])
    return torch.stack(fgrs), torch.stack(phas)


# --- loading the TF.js export by name --------------------------------------------------------

_CONV_PATTERNS = (
    (re.compile(r"^(?P<layer>.+)/Conv2D_weights$"), "weight", "conv"),
    (re.compile(r"^(?P<layer>.+)/Conv2D_bn_offset$"), "bias", "conv"),
    (re.compile(r"^(?P<layer>.+)/depthwise_weights$"), "weight", "depthwise"),
    (re.compile(r"^(?P<layer>.+)/depthwise_bn_offset$"), "bias", "depthwise"),
    (re.compile(r"^(?P<layer>.+)/Conv2D/ReadVariableOp$"), "weight", "conv"),
    (re.compile(r"^(?P<layer>.+)/BiasAdd/ReadVariableOp$"), "bias", "conv"),
    (re.compile(r"^(?P<layer>.+)/depthwise/ReadVariableOp$"), "weight", "depthwise"),
)
_BN_SCALE = re.compile(r"^(?P<scope>.+)/batch_normalization(_\d+)?/FusedBatchNormV3/Scaled$")
_BN_OFFSET = re.compile(r"^(?P<scope>.+)/batch_normalization(_\d+)?/FusedBatchNormV3/Offset$")


@dataclass
class _TfConv:
    name: str
    kind: str
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None

    def torch_weight(self) -> Tensor:
        # TF: conv (kh, kw, in, out), depthwise (kh, kw, channels, 1) → torch (out, in/g, kh, kw)
        axes = (3, 2, 0, 1) if self.kind == "conv" else (2, 3, 0, 1)
        assert self.weight is not None
        return torch.from_numpy(np.ascontiguousarray(self.weight.transpose(axes)))


class _ExportConvs:
    """The export's convolutions by scope: ``scope/layer`` → weight and (folded) bias."""

    def __init__(self, source: str, weights: Mapping[str, np.ndarray]) -> None:
        self.source = source
        self.layers: dict[str, _TfConv] = {}
        self.loaded: set[str] = set()
        scales: dict[str, np.ndarray] = {}
        offsets: dict[str, np.ndarray] = {}
        for full_name, array in weights.items():
            if not full_name.startswith(_SCOPE) or array.dtype != np.float32:
                continue
            name = full_name[len(_SCOPE) :]
            if m := _BN_SCALE.match(name):
                scales[m["scope"]] = array
                continue
            if m := _BN_OFFSET.match(name):
                offsets[m["scope"]] = array
                continue
            for pattern, field, kind in _CONV_PATTERNS:
                if m := pattern.match(name):
                    layer = self.layers.setdefault(m["layer"], _TfConv(m["layer"], kind))
                    setattr(layer, field, array)
                    break
        # A batch norm the converter left unfolded (after the dilated depthwise convolutions):
        # y = conv(x) * scale + offset, folded here into the convolution.
        for scope, scale in scales.items():
            convs = self.under(scope)
            if len(convs) != 1 or scope not in offsets:
                raise TfjsFormatError(f"{source}: cannot fold the batch norm of {scope!r}")
            conv = convs[0]
            assert conv.weight is not None
            conv.weight = (conv.weight * scale.reshape(1, 1, -1, 1)).astype(np.float32)
            conv.bias = offsets[scope]

    def under(self, scope: str) -> list[_TfConv]:
        """Convolutions directly in ``scope`` (a layer name below it), in creation order."""
        prefix = f"{scope}/" if scope else ""
        found = [
            conv
            for name, conv in self.layers.items()
            if name.startswith(prefix) and "/" not in name[len(prefix) :]
        ]
        return sorted(found, key=lambda c: _layer_number(c.name))

    def load(self, module: nn.Conv2d, scope: str, index: int = 0, count: int = 1) -> None:
        convs = self.under(scope)
        if len(convs) != count:
            raise TfjsFormatError(
                f"{self.source}: expected {count} convolution(s) in {_SCOPE}{scope}, "
                f"found {[c.name for c in convs]}"
            )
        conv = convs[index]
        self.loaded.add(conv.name)
        if conv.weight is None:
            raise TfjsFormatError(f"{self.source}: {_SCOPE}{conv.name} has a bias but no kernel")
        weight = conv.torch_weight()
        if weight.shape != module.weight.shape:
            raise TfjsFormatError(
                f"{self.source}: {_SCOPE}{conv.name} has shape {tuple(weight.shape)} "
                f"(torch layout); the teacher expects {tuple(module.weight.shape)}"
            )
        with torch.no_grad():
            module.weight.copy_(weight)
            if module.bias is not None:
                if conv.bias is None:
                    raise TfjsFormatError(f"{self.source}: {_SCOPE}{conv.name} has no bias")
                module.bias.copy_(torch.from_numpy(conv.bias))
            elif conv.bias is not None:
                raise TfjsFormatError(f"{self.source}: {_SCOPE}{conv.name} has a bias")


def _layer_number(name: str) -> int:
    match = re.search(r"_(\d+)$", name.rsplit("/", 1)[-1])
    return int(match.group(1)) if match else 0


def _keras(name: str, index: int) -> str:
    """Keras's automatic layer names: ``name``, ``name_1``, ``name_2``, …"""
    return name if index == 0 else f"{name}_{index}"


def load_weights(teacher: RobustVideoMatting, model: GraphModel) -> None:
    """Copies the export's weights into ``teacher`` by name; raises TfjsFormatError on any gap."""
    source = str(model.path)
    convs = _ExportConvs(source, model.weights)
    enc = "mobile_net_v3_encoder"
    encoder = teacher.encoder
    try:
        mean = model.weights[f"{_SCOPE}{enc}/Const"]
        inv_std = model.weights[f"ConstantFolding/{_SCOPE}{enc}/truediv_recip"]
    except KeyError as exc:
        raise TfjsFormatError(f"{source}: no input normalisation constant {exc}") from exc
    encoder.mean.copy_(torch.from_numpy(mean).view(1, 3, 1, 1))
    encoder.inv_std.copy_(torch.from_numpy(inv_std).view(1, 3, 1, 1))

    counter = 0  # Keras numbers conv_bn_activation layers across the whole encoder

    def conv_bn(module: ConvAct, scope: str) -> None:
        nonlocal counter
        convs.load(module.conv, f"{scope}/{_keras('conv_bn_activation', counter)}")
        counter += 1

    conv_bn(encoder.stem, enc)
    se_index = 0
    for i, block in enumerate(encoder.blocks):
        scope = f"{enc}/{_keras('inverted_residual', i)}/{_keras('sequential', i)}"
        if block.expand is not None:
            conv_bn(block.expand, scope)
        conv_bn(block.depthwise, scope)
        if block.se is not None:
            se_scope = f"{scope}/{_keras('squeeze_excitation', se_index)}"
            convs.load(block.se.fc1, se_scope, 0, 2)
            convs.load(block.se.fc2, se_scope, 1, 2)
            se_index += 1
        conv_bn(block.project, scope)
    conv_bn(encoder.last, enc)

    convs.load(teacher.aspp.branch.conv, "lraspp/sequential_15")
    convs.load(teacher.aspp.gate, "lraspp")
    dec = "recurrent_decoder"
    for gru, scope in (
        (teacher.decoder.bottleneck, f"{dec}/bottleneck_block/conv_gru"),
        (teacher.decoder.decode3.gru, f"{dec}/upsampling_block/conv_gru_1"),
        (teacher.decoder.decode2.gru, f"{dec}/upsampling_block_1/conv_gru_2"),
        (teacher.decoder.decode1.gru, f"{dec}/upsampling_block_2/conv_gru_3"),
    ):
        convs.load(gru.ih, scope, 0, 2)
        convs.load(gru.hh, scope, 1, 2)
    for block, scope in (
        (teacher.decoder.decode3, f"{dec}/upsampling_block/sequential_16"),
        (teacher.decoder.decode2, f"{dec}/upsampling_block_1/sequential_17"),
        (teacher.decoder.decode1, f"{dec}/upsampling_block_2/sequential_18"),
    ):
        convs.load(block.conv.conv, scope)
    out_scope = f"{dec}/output_block/sequential_19"
    convs.load(teacher.decoder.output.conv1.conv, out_scope, 0, 2)
    convs.load(teacher.decoder.output.conv2.conv, out_scope, 1, 2)
    convs.load(teacher.project, "")
    unused = sorted(set(convs.layers) - convs.loaded)
    if unused:
        raise TfjsFormatError(f"{source}: convolutions the teacher does not use: {unused}")


def load_teacher(model_json: str | Path) -> RobustVideoMatting:
    """Robust Video Matting with the weights of a TF.js export (eval mode, float32, CPU)."""
    teacher = RobustVideoMatting()
    with torch.no_grad():
        load_weights(teacher, read_model(model_json))
    return teacher.eval()
