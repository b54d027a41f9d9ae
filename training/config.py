"""Typed training configuration, read from TOML at the entry point only.

A config file has one table per section below; every key is optional except where a section's
docstring says otherwise, and an unknown key is an error that names it. ``--set a.b=value`` on
the command line overrides any key before the types are checked (the value is read as a TOML
literal when it parses as one, else as a string)::

    python -m training.train --config training/configs/stage2.toml \
        --set data.roots.videomatte=/data/VideoMatte240K_JPEG_SD --set data.batch_size=2

Relative dataset roots are taken relative to the working directory.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from core import runtime
from core.model import NetworkConfig

MATTING_SOURCES = ("imagematte", "aisegment", "videomatte", "videomatting108")
"""Matting readers a stage can draw from; each reads the same-named ``data.roots`` entry."""
SEGMENTATION_SOURCES = ("coco", "supervisely", "youtubevis", "matte_masks")
"""Segmentation readers; ``matte_masks`` turns the stage's own matting clips into person masks
(alpha > 0.5), for data such as the procedural clips that has no segmentation set."""
BACKGROUND_SOURCES = ("images", "videos")
MODEL_PRESETS = ("paper", "lite")
LR_DECAYS = ("none", "cosine")
PRECISIONS = ("auto", *runtime.PRECISIONS)


class ConfigError(ValueError):
    """A config file or override that cannot be used; the message names the key."""


@dataclass(frozen=True)
class ModelConfig:
    preset: str = "paper"
    """``paper`` (the published 9.69 GMACs network) or ``lite`` (tests and tiny CPU runs)."""

    def __post_init__(self) -> None:
        _choice("model.preset", self.preset, MODEL_PRESETS)

    def network(self) -> NetworkConfig:
        return getattr(NetworkConfig, self.preset)()


@dataclass(frozen=True)
class DataRoots:
    """Dataset folders (see docs/datasets.md for each tree). Empty means not configured."""

    imagematte: str = ""
    aisegment: str = ""
    videomatte: str = ""
    videomatting108: str = ""
    background_images: str = ""
    background_videos: str = ""
    coco: str = ""
    supervisely: str = ""
    youtubevis: str = ""


@dataclass(frozen=True)
class DataConfig:
    """The matting clips of a stage: every listed source, concatenated, composited over the
    background sets with eq. (1)."""

    matting: tuple[str, ...] = ("videomatte",)
    """Matting sources, read with ``split`` (VideoMatting108 maps ``valid`` to ``val``)."""
    split: str = "train"
    size: tuple[int, int] = (512, 512)
    """Training crop (H, W) in pixels."""
    clip_length: int = 1
    """T, frames per clip."""
    batch_size: int = 1
    """Clips per process and step (the global batch is this times the world size)."""
    workers: int = 4
    """DataLoader worker processes per training process; 0 loads in the training process."""
    augment: bool = True
    """RVM-style motion, colour and temporal augmentation; off gives centred, still clips."""
    backgrounds: tuple[str, ...] = ("images", "videos")
    """Background sets, drawn with equal chance per clip."""
    roots: DataRoots = field(default_factory=DataRoots)

    def __post_init__(self) -> None:
        _subset("data.matting", self.matting, MATTING_SOURCES, allow_empty=False)
        _subset("data.backgrounds", self.backgrounds, BACKGROUND_SOURCES, allow_empty=False)
        _positive("data.size", self.size)
        _positive("data.clip_length", (self.clip_length,))
        _positive("data.batch_size", (self.batch_size,))
        if self.workers < 0:
            raise ConfigError(f"data.workers must be >= 0, got {self.workers}")
        _enough_frames("data", self.batch_size, self.clip_length)


@dataclass(frozen=True)
class SegmentationConfig:
    """Person segmentation trained alongside matting (paper §5, after Robust Video Matting):
    after every ``every``-th matting step, one step of segmentation loss on the network's
    segmentation head."""

    every: int = 1
    """0 turns segmentation off."""
    sources: tuple[str, ...] = ()
    size: tuple[int, int] = (512, 512)
    clip_length: int = 1
    batch_size: int = 1

    def __post_init__(self) -> None:
        _subset("segmentation.sources", self.sources, SEGMENTATION_SOURCES, allow_empty=True)
        if self.every < 0:
            raise ConfigError(f"segmentation.every must be >= 0, got {self.every}")
        if self.every and not self.sources:
            raise ConfigError("segmentation.every > 0 needs segmentation.sources (or every = 0)")
        _positive("segmentation.size", self.size)
        _positive("segmentation.clip_length", (self.clip_length,))
        _positive("segmentation.batch_size", (self.batch_size,))
        _enough_frames("segmentation", self.batch_size, self.clip_length)


@dataclass(frozen=True)
class OptimConfig:
    """Adam with one learning rate per parameter group; a group with rate 0 is frozen."""

    lr_backbone: float = 1e-4
    """``backbone.*``: the MobileNetV3 encoder."""
    lr_rest: float = 2e-4
    """Everything that is neither backbone nor refiner (ASPP, memory, decoder, heads)."""
    lr_refiner: float = 0.0
    """``refiner.*``: the Deep Guided Filter, trained in stage 3."""
    lr_decay: str = "none"
    """``none`` (the paper's fixed rates) or ``cosine`` to 0 over the run."""
    warmup_steps: int = 0
    """Linear warm-up from 0, in matting steps."""
    precision: str = "fp16"
    """Autocast precision on CUDA (fp16 uses a gradient scaler). On the CPU only ``bf16``
    autocasts (fast with AVX-512 BF16 or AMX); ``fp16`` and ``fp32`` train in fp32 there.
    ``auto``: fp16 on CUDA; on the CPU bf16 where it has bf16 hardware, else fp32."""

    def __post_init__(self) -> None:
        for name in ("lr_backbone", "lr_rest", "lr_refiner"):
            if getattr(self, name) < 0:
                raise ConfigError(f"optim.{name} must be >= 0, got {getattr(self, name)}")
        if self.lr_backbone == self.lr_rest == self.lr_refiner == 0:
            raise ConfigError("optim: every learning rate is 0, nothing would train")
        _choice("optim.lr_decay", self.lr_decay, LR_DECAYS)
        _choice("optim.precision", self.precision, PRECISIONS)
        if self.warmup_steps < 0:
            raise ConfigError(f"optim.warmup_steps must be >= 0, got {self.warmup_steps}")


@dataclass(frozen=True)
class ScheduleConfig:
    stage: str = "stage1"
    """Written into every checkpoint's metadata."""
    epochs: int = 1
    """Passes over the concatenated matting sources."""
    max_steps: int = 0
    """If > 0, the run ends after this many matting steps even within an epoch."""
    downsample_ratio: float = 1.0
    """Network resolution over ``data.size``; below 1 the Deep Guided Filter restores full
    resolution and is trained (stage 3)."""
    seed: int = 0
    """Data order, augmentation and initialisation are functions of (seed, epoch, step, rank)."""

    def __post_init__(self) -> None:
        _positive("schedule.epochs", (self.epochs,))
        if self.max_steps < 0:
            raise ConfigError(f"schedule.max_steps must be >= 0, got {self.max_steps}")
        if not 0 < self.downsample_ratio <= 1:
            raise ConfigError(
                f"schedule.downsample_ratio must be in (0, 1], got {self.downsample_ratio}"
            )
        if self.seed < 0:
            raise ConfigError(f"schedule.seed must be >= 0, got {self.seed}")


@dataclass(frozen=True)
class RunConfig:
    dir: str = "runs/stage1"
    """Checkpoints, TensorBoard events, ``losses.jsonl`` and the resolved ``config.toml``."""
    init: str = ""
    """Safetensors weights to start from (stage 1: ``core.weights import-torchvision`` output
    or empty for random; stage 2: stage 1's ``final.safetensors``; ...)."""
    device: str = "auto"
    """``auto`` (CUDA when present), ``cpu`` or ``cuda``."""
    checkpoint_every: int = 1000
    """Matting steps between checkpoints; one is also written at every epoch end."""
    keep_checkpoints: int = 2
    log_every: int = 10
    """Matting steps between TensorBoard scalar points."""
    image_every: int = 500
    """Matting steps between TensorBoard sample mattes; 0 turns them off."""

    def __post_init__(self) -> None:
        _positive("run.checkpoint_every", (self.checkpoint_every,))
        _positive("run.keep_checkpoints", (self.keep_checkpoints,))
        _positive("run.log_every", (self.log_every,))
        if self.image_every < 0:
            raise ConfigError(f"run.image_every must be >= 0, got {self.image_every}")
        _choice("run.device", self.device, ("auto", "cpu", "cuda"))


@dataclass(frozen=True)
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    segmentation: SegmentationConfig = field(default_factory=SegmentationConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
    """Reads a TOML config, applies ``key.path=value`` overrides, and checks every key and type."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    for item in overrides:
        apply_override(raw, item)
    try:
        return from_dict(TrainConfig, raw)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def apply_override(raw: dict[str, Any], item: str) -> None:
    """Sets ``raw[a][b] = value`` for ``item = "a.b=value"``; the key is checked later."""
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {item!r} is not of the form key.path=value")
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text
    *parents, leaf = key.strip().split(".")
    table = raw
    for name in parents:
        table = table.setdefault(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"override {item!r}: {name} is not a table")
    table[leaf] = value


def from_dict(cls: type, raw: Any, prefix: str = "") -> Any:
    """Builds the frozen dataclass ``cls`` from TOML data, naming any unknown or mistyped key."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{prefix or 'config'} must be a table, got {raw!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        keys = ", ".join(f"{prefix}{k}" for k in unknown)
        raise ConfigError(f"unknown key(s) {keys}; known: {', '.join(sorted(names))}")
    values = {name: _convert(hints[name], raw[name], f"{prefix}{name}") for name in raw}
    return cls(**values)


def _convert(kind: Any, value: Any, key: str) -> Any:
    if dataclasses.is_dataclass(kind):
        return from_dict(kind, value, f"{key}.")
    origin = typing.get_origin(kind)
    if origin is tuple:
        args = typing.get_args(kind)
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{key} must be an array, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, key) for v in value)
        if len(value) != len(args):
            raise ConfigError(f"{key} must have {len(args)} entries, got {value!r}")
        return tuple(_convert(a, v, key) for a, v in zip(args, value, strict=True))
    if isinstance(kind, types.UnionType) or origin is not None:
        raise TypeError(f"unsupported config type {kind} for {key}")
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if (kind is not bool and isinstance(value, bool)) or not isinstance(value, kind):
        raise ConfigError(f"{key} must be {kind.__name__}, got {value!r}")
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _choice(key: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{key} must be one of {', '.join(choices)}; got {value!r}")


def _subset(key: str, values: tuple[str, ...], choices: tuple[str, ...], allow_empty: bool) -> None:
    bad = [v for v in values if v not in choices]
    if bad or (not values and not allow_empty) or len(set(values)) != len(values):
        raise ConfigError(
            f"{key} must list distinct names from {', '.join(choices)}; got {list(values)}"
        )


def _positive(key: str, values: tuple[int, ...]) -> None:
    if any(v < 1 for v in values):
        raise ConfigError(f"{key} must be positive, got {list(values)}")


def _enough_frames(section: str, batch_size: int, clip_length: int) -> None:
    # Batch norm after the ASPP's global pooling needs two values per channel in training.
    if batch_size * clip_length < 2:
        raise ConfigError(
            f"{section}.batch_size x {section}.clip_length must be at least 2 frames per process "
            f"(batch norm statistics); got {batch_size} x {clip_length}"
        )
