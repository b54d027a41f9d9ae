"""``MattingSession``: streaming matting of a shot, one result per frame.

    from core import MattingSession
    for result in MattingSession(frames):
        result.alpha        # (H, W) float32 in [0, 1]
        result.foreground   # (H, W, 3) float32 in [0, 1], sRGB, not premultiplied

The network is stateless; the session owns the keys and values of the two previous frames,
so memory stays flat however long the shot is. Frame t depends only on frames t-2..t (the
first frame stands in for frames before it), which makes ``session[i]`` return exactly what
sequential iteration returns for frame i, and makes farm chunks equal a whole-shot run.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.compiled import GraphCache, GraphKey, network_digest
from core.engines import AotEngine, CompiledEngine, EagerEngine, Engine, MemoryWindow, aot
from core.model import MEMORY_FRAMES, MattingNetwork, network_size
from core.runtime import (
    cpu_identity,
    device_identity,
    resolve_device,
    resolve_precision,
    resolve_weights,
)
from core.trust import UntrustedError
from core.weights import file_hash, load_network

log = logging.getLogger("memmatte")

COMPILE_MODES = (False, True, "aot", "cached")

__all__ = [
    "COMPILE_MODES",
    "FrameError",
    "MatteResult",
    "MattingSession",
    "auto_downsample_ratio",
    "frame_to_tensor",
]


class FrameError(ValueError):
    """A frame that cannot be matted; the message names its index."""


@dataclass(frozen=True)
class MatteResult:
    """The matte of one frame.

    alpha: (H, W) float32 in [0, 1]. foreground: (H, W, 3) float32 in [0, 1], in the
    colour space of the input frames, not premultiplied.
    """

    index: int
    alpha: np.ndarray
    foreground: np.ndarray

    def premultiplied(self) -> np.ndarray:
        """(H, W, 3) foreground × alpha."""
        return self.foreground * self.alpha[..., None]

    def composite(self, background: Sequence[float] | np.ndarray) -> np.ndarray:
        """The foreground over ``background``: an RGB colour or an (H, W, 3) image (eq. 1)."""
        bg = np.asarray(background, dtype=np.float32)
        if bg.ndim == 1:
            bg = bg.reshape(1, 1, 3)
        elif bg.shape != self.foreground.shape:
            raise ValueError(
                f"background shape {bg.shape} does not match frame {self.foreground.shape}"
            )
        a = self.alpha[..., None]
        return self.foreground * a + bg * (1.0 - a)


def frame_to_tensor(frame: Any, index: int) -> torch.Tensor:
    """An H×W×3 frame → (1, 3, H, W) float32 in [0, 1], channels-last (the frame's own
    memory layout, so nothing is transposed; a float32 frame is not even copied).

    uint8 is divided by 255 and uint16 by 65535; float frames must already lie in [0, 1].
    Anything else is refused with a ``FrameError`` naming the frame.
    """
    if isinstance(frame, torch.Tensor):
        frame = frame.detach().cpu().numpy()
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise FrameError(f"frame {index}: expected an H×W×3 array, got shape {frame.shape}")
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise FrameError(f"frame {index}: empty frame of shape {frame.shape}")
    if frame.dtype in (np.uint8, np.uint16):
        scale = 255.0 if frame.dtype == np.uint8 else 65535.0
        # Same float32 division as numpy's astype(float32) / scale, without the copies.
        image = torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1).unsqueeze(0)
        return image.to(torch.float32).div_(scale)
    if frame.dtype not in (np.float16, np.float32, np.float64):
        raise FrameError(f"frame {index}: unsupported dtype {frame.dtype}")
    data = np.ascontiguousarray(frame, dtype=np.float32)
    lo, hi = float(data.min()), float(data.max())
    if not 0.0 <= lo <= hi <= 1.0:  # also false when NaN is present
        finite = np.isfinite(data)
        if not finite.all():
            bad = int(data.size - finite.sum())
            raise FrameError(f"frame {index}: {bad} NaN or Inf values")
        raise FrameError(
            f"frame {index}: float values must lie in [0, 1], found [{lo:.4g}, {hi:.4g}]; "
            "convert to display-referred sRGB first (core.batch does this for EXR plates)"
        )
    return torch.from_numpy(data).permute(2, 0, 1).unsqueeze(0)


def auto_downsample_ratio(height: int, width: int, long_side: int = 512) -> float:
    """The ratio that brings the frame's long side to ``long_side`` (1 for smaller frames).

    Sessions pass the network's ``auto_long_side``: 512 for the paper's weights, or what a
    checkpoint records it was trained at.
    """
    return min(1.0, long_side / max(height, width))


def _load(weights: str | Path | MattingNetwork | None) -> tuple[MattingNetwork, str]:
    if isinstance(weights, MattingNetwork):
        return weights, "in-memory"
    path = resolve_weights(weights)
    return load_network(path), file_hash(path)


class MattingSession:
    """Mattes a shot. Iterate for one ``MatteResult`` per frame, or index for random access.

    frames: an iterable of H×W×3 frames (numpy uint8, uint16 or float in [0, 1], or torch
    tensors), or a sequence with ``len`` and indexing for ``session[i]``. Every frame must
    have the size of the first.

    weights: a checkpoint path, a ``MattingNetwork``, or None for the bundled default.
    device: "auto" (CUDA when present, else CPU), or any torch device.
    downsample_ratio: "auto" (the network runs at the long side its weights were trained
    for, ``network.auto_long_side``: 512 px for the paper's; the Deep Guided Filter restores
    full resolution) or a float in (0, 1].
    precision: "auto" (fp32 on CPU, fp16 on CUDA), "fp32", "bf16" (CPU or CUDA autocast)
    or "fp16" (CUDA only).
    batch_frames: frames encoded per backbone call (time-batched). 1, the default, encodes
    every frame alone, which makes results independent of where a run starts; larger values
    are faster on some machines but may differ from it in the last bits.
    compile: False (eager), or one fused step per frame (encode, memory readout, decode,
    refine) plus one full-resolution guided-filter pass, with the weights frozen into the
    graphs: the fastest CPU mode (docs/performance.md). Frames then go one per call
    (``batch_frames`` must be 1); results are close to, not bit-identical with, eager mode.
    True: ``torch.compile`` in this process, about half a minute or more of compiling per
    session. "aot": ahead-of-time compiled packages from the cache folder
    (``core.compiled``), compiled and stored there once when missing, then loaded in well
    under a second by every later session with the same key. "cached": those packages when the
    cache already has them for this shot's size and settings, else eager.
    cache_dir: the packages' folder (default ``$MEMMATTE_CACHE`` or
    ``~/.cache/memmatte/compiled``). Packages are native code: they are loaded only from a
    cache nobody but this user or root can write (``core.trust``), else "cached" runs eager
    with a warning and "aot" raises ``core.trust.UntrustedError``. trusted_group: a group
    whose members may write a shared cache too (None: ``$MEMMATTE_TRUSTED_GROUP``).
    """

    def __init__(
        self,
        frames: Iterable[Any] | Sequence[Any],
        *,
        weights: str | Path | MattingNetwork | None = None,
        device: str | torch.device = "auto",
        downsample_ratio: float | str = "auto",
        precision: str = "auto",
        batch_frames: int = 1,
        compile: bool | str = False,
        cache_dir: str | Path | None = None,
        trusted_group: str | None = None,
    ) -> None:
        if batch_frames < 1:
            raise ValueError(f"batch_frames must be >= 1, got {batch_frames}")
        if compile not in COMPILE_MODES:
            raise ValueError(f"compile must be False, True, 'aot' or 'cached'; got {compile!r}")
        if compile and batch_frames != 1:
            raise ValueError("compile=True runs one fused step per frame; use batch_frames=1")
        self._frames = frames
        self.batch_frames = batch_frames
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        network, self.weights_hash = _load(weights)
        # Channels-last lets oneDNN (CPU) and cuDNN pick their fastest convolutions.
        self.network = network.to(self.device).eval().to(memory_format=torch.channels_last)
        self.compile = compile
        self.cache = GraphCache(cache_dir, trusted_group) if compile in ("aot", "cached") else None
        # The engine that runs each frame. "aot" and "cached" sessions run eager until their
        # first frame gives the shot's size and the cache its packages.
        self._engine: Engine = (
            CompiledEngine(self.network, self.device, self.precision)
            if compile is True
            else EagerEngine(self.network, self.device, self.precision, batch_frames)
        )
        self._packages_pending = self.cache is not None
        if downsample_ratio != "auto" and not 0 < float(downsample_ratio) <= 1:
            raise ValueError(
                f"downsample_ratio must be 'auto' or in (0, 1], got {downsample_ratio}"
            )
        self.downsample_ratio: float | None = (
            None if downsample_ratio == "auto" else float(downsample_ratio)
        )
        self._size: tuple[int, int] | None = None

    # -- public API ----------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._sequence())

    def __iter__(self) -> Iterator[MatteResult]:
        return self._stream(enumerate(self._frames), first=0, start=0)

    def __getitem__(self, index: int) -> MatteResult:
        frames = self._sequence()
        n = len(frames)
        if not -n <= index < n:
            raise IndexError(f"frame {index} out of range for a shot of {n} frames")
        index %= n
        return next(self.iter_range(index, index + 1))

    def iter_range(self, start: int, stop: int | None = None) -> Iterator[MatteResult]:
        """Results for frames start..stop-1 of a sequence, encoding the two frames before
        ``start`` as memory pre-roll; equal to the same frames of a whole-shot iteration."""
        frames = self._sequence()
        stop = len(frames) if stop is None else min(stop, len(frames))
        if not 0 <= start < stop:
            raise IndexError(f"empty or invalid frame range [{start}, {stop})")
        first = max(0, start - MEMORY_FRAMES)
        indexed = ((i, frames[i]) for i in range(first, stop))
        return self._stream(indexed, first=first, start=start)

    def graph_key(self, height: int, width: int) -> GraphKey:
        """The cache key of this session's packages for frames of ``height`` × ``width``."""
        ratio = self.downsample_ratio
        if ratio is None:
            ratio = auto_downsample_ratio(height, width, self.network.auto_long_side)
        size = network_size(height, width, ratio)
        if self.weights_hash == "in-memory":
            self.weights_hash = f"in-memory {network_digest(self.network)}"
        return GraphKey(
            weights=self.weights_hash,
            frame=(height, width),
            network=size,
            refine=size != (height, width),
            precision=self.precision,
            device=device_identity(self.device),
            cpu=cpu_identity(),
            threads=torch.get_num_threads() if self.device.type == "cpu" else 0,
            torch=torch.__version__,
            code=aot.graph_code(),
        )

    def precompile(self, height: int, width: int, *, build: bool = True) -> bool:
        """Loads this session's packages for frames of ``height`` × ``width`` from the cache,
        compiling and storing them first when missing and ``build``; True when the session
        will run them, False when it will run eager (nothing cached and not ``build``).
        Only for ``compile="aot"`` or ``"cached"`` sessions, before their first frame."""
        if self.cache is None:
            raise ValueError("precompile needs a session made with compile='aot' or 'cached'")
        if self._size is not None and self._size != (height, width):
            raise FrameError(
                f"precompile for {width}x{height}, but the shot is {self._size[1]}x{self._size[0]}"
            )
        if not self._packages_pending:
            return isinstance(self._engine, AotEngine)
        # The packages hold this size: the shot's frames must have it.
        self._size = (height, width)
        if self.downsample_ratio is None:
            self.downsample_ratio = auto_downsample_ratio(
                height, width, self.network.auto_long_side
            )
        key = self.graph_key(height, width)
        try:
            packages = self.cache.get(
                key,
                build=lambda folder: aot.build(
                    self.network, self.device, self.precision, key, folder
                ),
                load=lambda folder: aot.load(folder, self.device),
                build_missing=build,
            )
        except UntrustedError as exc:
            if build:
                raise
            log.warning("memmatte: %s; running eager", exc)
            packages = None
        else:
            if packages is None:
                log.info(
                    "memmatte: no compiled graphs cached for %s; running eager", key.describe()
                )
        if packages is not None:
            self._engine = AotEngine(self.network, self.device, self.precision, packages)
        self._packages_pending = False
        return packages is not None

    # -- internals -----------------------------------------------------------------------

    def _sequence(self) -> Sequence[Any]:
        if not (hasattr(self._frames, "__getitem__") and hasattr(self._frames, "__len__")):
            raise TypeError(
                "random access needs frames with len() and indexing (a list, array or "
                "sequence object); this session was given a one-pass iterable"
            )
        return self._frames  # type: ignore[return-value]

    def _check(self, frame: Any, index: int) -> torch.Tensor:
        image = frame_to_tensor(frame, index)
        height, width = image.shape[-2:]
        if self._size is None:
            self._size = (height, width)
            if self.downsample_ratio is None:
                self.downsample_ratio = auto_downsample_ratio(
                    height, width, self.network.auto_long_side
                )
        elif (height, width) != self._size:
            raise FrameError(
                f"frame {index}: size {width}x{height} differs from the shot's "
                f"{self._size[1]}x{self._size[0]}"
            )
        return image

    @torch.inference_mode()
    def _stream(
        self, indexed: Iterable[tuple[int, Any]], first: int, start: int
    ) -> Iterator[MatteResult]:
        """Frames must arrive in order from ``first``, the shot's or the pre-roll's start;
        frames before ``start`` are pre-roll: they fill the memory window, not the output."""
        if self._packages_pending:
            indexed = self._load_packages_for(indexed)
        engine = self._engine
        window: MemoryWindow[Any] = MemoryWindow(first)
        count = 0
        source = iter(indexed)
        while batch := list(itertools.islice(source, engine.batch_frames)):
            images = torch.cat([self._check(raw, index) for index, raw in batch])
            images = images.to(self.device).contiguous(memory_format=torch.channels_last)
            size = network_size(*self._size, self.downsample_ratio)
            for (index, _), state in zip(batch, engine.prepare(images, size), strict=True):
                matte = engine.matte(state, window.push(index, state), output=index >= start)
                if matte is not None:
                    yield MatteResult(index, *matte)
                count += 1
        if count == 0:
            raise FrameError("no frames: the session was given an empty input")

    def _load_packages_for(self, indexed: Iterable[tuple[int, Any]]) -> Iterator[tuple[int, Any]]:
        """Reads the first frame for the shot's size, loads (or builds) the packages for it,
        and gives back the frames, that one included."""
        source = iter(indexed)
        head = next(source, None)
        if head is None:
            raise FrameError("no frames: the session was given an empty input")
        image = self._check(head[1], head[0])
        self.precompile(*image.shape[-2:], build=self.compile == "aot")
        return itertools.chain([head], source)
