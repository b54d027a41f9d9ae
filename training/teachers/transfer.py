"""Robust Video Matting's encoder → memmatte's ``MobileNetV3LargeEncoder``.

Both are MobileNetV3-Large with the last stage dilated and tap the same four features (1/2 16
ch, 1/4 24 ch, 1/8 40 ch, 1/16 960 ch). The teacher's convolutions carry their batch norm
folded in (weight and bias); ours keep a BatchNorm2d after a bias-free convolution, so the
batch norm is set to identity plus the folded bias: gamma 1, beta = bias, running mean 0,
running variance 1 - eps (so that ``sqrt(var + eps)`` is exactly 1).

Weights derived from Robust Video Matting are GPL-3.0 (docs/teacher.md).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from core.model import MattingNetwork, NetworkConfig
from core.model.backbone import ConvNormActivation, MobileNetV3LargeEncoder, SqueezeExcitation
from training.teachers.rvm import ConvAct, RobustVideoMatting, load_teacher


def _teacher_layers(teacher: RobustVideoMatting) -> list[nn.Module]:
    """The teacher encoder's ConvAct / SqueezeExcitation modules in network order."""
    encoder = teacher.encoder
    layers: list[nn.Module] = [encoder.stem]
    for block in encoder.blocks:
        parts = (block.expand, block.depthwise, block.se, block.project)
        layers += [m for m in parts if m is not None]
    layers.append(encoder.last)
    return layers


def _student_layers(backbone: MobileNetV3LargeEncoder) -> list[nn.Module]:
    return [m for m in backbone.modules() if isinstance(m, ConvNormActivation | SqueezeExcitation)]


@torch.no_grad()
def _copy_conv_bn(target: ConvNormActivation, source: ConvAct) -> None:
    conv, bn = target[0], target[1]
    assert isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d)
    if conv.weight.shape != source.conv.weight.shape:
        raise ValueError(
            f"teacher conv {tuple(source.conv.weight.shape)} vs ours {tuple(conv.weight.shape)}"
        )
    conv.weight.copy_(source.conv.weight)
    bn.weight.fill_(1.0)
    bn.bias.copy_(source.conv.bias)
    bn.running_mean.zero_()
    bn.running_var.fill_(1.0 - bn.eps)


@torch.no_grad()
def transfer_rvm_encoder(network: MattingNetwork, teacher: RobustVideoMatting) -> None:
    """Copies the teacher's encoder into ``network.backbone``; nothing else is touched."""
    ours = _student_layers(network.backbone)
    theirs = _teacher_layers(teacher)
    if len(ours) != len(theirs):
        raise ValueError(f"{len(theirs)} teacher encoder layers vs {len(ours)} of ours")
    for target, source in zip(ours, theirs, strict=True):
        if isinstance(target, SqueezeExcitation):
            if not isinstance(source, nn.Module) or not hasattr(source, "fc1"):
                raise ValueError(f"layer order differs at {type(source).__name__}")
            for name in ("fc1", "fc2"):
                getattr(target, name).weight.copy_(getattr(source, name).weight)
                getattr(target, name).bias.copy_(getattr(source, name).bias)
        else:
            if not isinstance(source, ConvAct):
                raise ValueError(f"layer order differs at {type(source).__name__}")
            _copy_conv_bn(target, source)


def import_rvm(
    model_json: str | Path, *, config: NetworkConfig | None = None, seed: int = 0
) -> MattingNetwork:
    """A new network whose backbone holds Robust Video Matting's MobileNetV3 encoder (read
    from its TF.js export, ``rvm.json`` with its shards beside it); the rest is randomly
    initialised from ``seed``. ``python -m core.weights import-rvm`` writes it to a checkpoint."""
    teacher = load_teacher(model_json)
    torch.manual_seed(seed)
    network = MattingNetwork(config)
    transfer_rvm_encoder(network, teacher)
    return network
