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

import contextlib
import itertools
import logging
import types
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.compiled import (
    GraphCache,
    GraphKey,
    code_digest,
    cpu_identity,
    device_identity,
    load_package,
    network_digest,
    package,
)
from core.model import (
    MEMORY_FRAMES,
    STRIDE,
    Encoding,
    MattingNetwork,
    downsample,
    network_size,
    pad_to_stride,
)
from core.model.guided_filter import frame_taps
from core.weights import file_hash, load_network

log = logging.getLogger("memmatte")

DEFAULT_WEIGHTS = Path(__file__).parent / "assets" / "memmatte_default.safetensors"

PRECISIONS = ("fp32", "bf16", "fp16")

COMPILE_MODES = (False, True, "aot", "cached")


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


def resolve_device(device: str | torch.device) -> torch.device:
    if str(device) == "auto":
        chosen = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        log.info("memmatte: running on %s", chosen)
        return chosen
    return torch.device(device)


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 in hardware (AVX-512 BF16 or AMX). Without it,
    PyTorch emulates bf16 convolutions and matrix products hundreds of times slower
    than fp32."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def resolve_precision(precision: str, device: torch.device) -> str:
    if precision == "auto":
        return "fp16" if device.type == "cuda" else "fp32"
    if precision not in PRECISIONS:
        raise ValueError(
            f"precision must be one of auto, {', '.join(PRECISIONS)}; got {precision!r}"
        )
    if precision == "fp16" and device.type != "cuda":
        raise ValueError("precision='fp16' needs a CUDA device; use 'bf16' on the CPU")
    if precision == "bf16" and device.type == "cpu" and not cpu_has_native_bf16():
        log.warning(
            "precision='bf16': this CPU has no AVX-512 BF16 or AMX, so bf16 is emulated and "
            "far slower than fp32; use precision='fp32' here"
        )
    return precision


def auto_downsample_ratio(height: int, width: int, long_side: int = 512) -> float:
    """The ratio that brings the frame's long side to ``long_side`` (1 for smaller frames).

    Sessions pass the network's ``auto_long_side``: 512 for the paper's weights, or what a
    checkpoint records it was trained at.
    """
    return min(1.0, long_side / max(height, width))


def _load(weights: str | Path | MattingNetwork | None) -> tuple[MattingNetwork, str]:
    if isinstance(weights, MattingNetwork):
        return weights, "in-memory"
    path = Path(weights) if weights is not None else DEFAULT_WEIGHTS
    if weights is None and not path.is_file():
        raise FileNotFoundError(
            "memmatte has no bundled default weights in this install "
            f"({path} is missing); pass weights='path/to/checkpoint.safetensors' "
            "(see docs/weights.md for how to train one)"
        )
    return load_network(path), file_hash(path)


@dataclass
class _Frame:
    image: torch.Tensor  # (1, 3, H, W) on the device, full resolution
    image_lr: torch.Tensor  # (1, 3, h, w) the network's input before padding
    encoding: Encoding


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
    ``~/.cache/memmatte/compiled``).
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
        self.cache = GraphCache(cache_dir) if compile in ("aot", "cached") else None
        # Two graphs per frame, no breaks: everything at the network's resolution, then the
        # Deep Guided Filter's full-resolution pass (one graph with both runs the
        # full-resolution part several times slower on the CPU). Packages load on the first
        # frame, once its size is known.
        self._step = self._apply = None
        self._packages_pending = self.cache is not None
        if compile is True:
            # Each session compiles its own copies: dynamo keeps graphs per code object, so
            # sessions sharing one hit its recompile limit after a few sizes or precisions
            # (and kept every earlier session's frozen weights alive).
            self._step = torch.compile(_own_code(self._fused_step), fullgraph=True, dynamic=False)
            self._apply = torch.compile(_own_code(self._fused_apply), fullgraph=True, dynamic=False)
        if downsample_ratio != "auto" and not 0 < float(downsample_ratio) <= 1:
            raise ValueError(
                f"downsample_ratio must be 'auto' or in (0, 1], got {downsample_ratio}"
            )
        self._ratio_setting = downsample_ratio
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

    # -- internals -----------------------------------------------------------------------

    def _sequence(self) -> Sequence[Any]:
        if not (hasattr(self._frames, "__getitem__") and hasattr(self._frames, "__len__")):
            raise TypeError(
                "random access needs frames with len() and indexing (a list, array or "
                "sequence object); this session was given a one-pass iterable"
            )
        return self._frames  # type: ignore[return-value]

    def _autocast(self):
        if self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

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

    def _prepare(self, batch: list[tuple[int, Any]]) -> list[_Frame]:
        """Encodes a batch of frames in one backbone call."""
        images = torch.cat([self._check(raw, index) for index, raw in batch])
        images = images.to(self.device).contiguous(memory_format=torch.channels_last)
        size = network_size(*self._size, self.downsample_ratio)
        images_lr = downsample(images, size)
        with self._autocast():
            enc = self.network.encode(pad_to_stride(images_lr))
        return [
            _Frame(
                images[i : i + 1],
                images_lr[i : i + 1],
                Encoding(
                    enc.image[i : i + 1],
                    tuple(f[i : i + 1] for f in enc.features),
                    enc.key[i : i + 1],
                    enc.value[i : i + 1],
                ),
            )
            for i in range(len(batch))
        ]

    def _finish(self, index: int, frame: _Frame, memory: list[_Frame]) -> MatteResult:
        keys = torch.stack([m.encoding.key for m in memory], dim=1)
        values = torch.stack([m.encoding.value for m in memory], dim=1)
        with self._autocast():
            fgr, pha = self.network.matte(frame.encoding, keys, values, frame.image, frame.image_lr)
        return _result(index, fgr, pha)

    @torch.inference_mode()
    def _stream(
        self, indexed: Iterable[tuple[int, Any]], first: int, start: int
    ) -> Iterator[MatteResult]:
        """Frames must arrive in order from ``first``, the shot's or the pre-roll's start;
        frames before ``start`` are pre-roll: encoded for memory, not yielded."""
        if self._packages_pending:
            indexed = self._load_packages_for(indexed)
        if self._step is not None:
            yield from self._stream_fused(indexed, first, start)
            return
        history: dict[int, _Frame] = {}
        count = 0
        source = iter(indexed)
        while batch := list(itertools.islice(source, self.batch_frames)):
            for (index, _), frame in zip(batch, self._prepare(batch), strict=True):
                history[index] = frame
                memory = [history[max(index - k, first)] for k in range(1, MEMORY_FRAMES + 1)]
                if index >= start:
                    yield self._finish(index, frame, memory)
                # Keep only what the next two frames will read.
                history = {i: f for i, f in history.items() if i > index - MEMORY_FRAMES}
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
            code=code_digest(MattingSession._fused_step, _Step, _Apply),
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
            return self._step is not None
        # The packages hold this size: the shot's frames must have it.
        self._size = (height, width)
        if self.downsample_ratio is None:
            self.downsample_ratio = auto_downsample_ratio(
                height, width, self.network.auto_long_side
            )
        key = self.graph_key(height, width)
        graphs = self.cache.get(
            key,
            build=lambda folder: self._build_packages(key, folder),
            load=lambda folder: self._load_packages(folder),
            build_missing=build,
        )
        if graphs is None:
            log.info("memmatte: no compiled graphs cached for %s; running eager", key.describe())
        else:
            self._step, self._apply = graphs
        self._packages_pending = False
        return graphs is not None

    def _build_packages(self, key: GraphKey, folder: Path) -> None:
        (height, width), size = key.frame, key.network
        cfg = self.network.config
        grid = (-(-size[0] // STRIDE), -(-size[1] // STRIDE))
        image = torch.rand(1, 3, height, width, device=self.device)
        image = image.contiguous(memory_format=torch.channels_last)
        keys, values = (
            torch.zeros(1, MEMORY_FRAMES, channels, *grid, device=self.device)
            for channels in (cfg.key_channels, cfg.value_channels)
        )
        package(_Step(self, size), (image, keys, values), folder / "step.pt2")
        if key.refine:
            # The full-resolution pass is exported for the coefficients' real layout: the
            # one the step package returns.
            step = load_package(folder / "step.pt2", self.device)
            with torch.inference_mode():
                coefficients = step(image, keys, values)[0]
            taps = frame_taps((height, width), size, self.device)
            package(_Apply(self.network), (image, coefficients.clone(), taps), folder / "apply.pt2")

    def _load_packages(self, folder: Path) -> tuple[Any, Any]:
        step = load_package(folder / "step.pt2", self.device)
        apply = folder / "apply.pt2"
        return step, load_package(apply, self.device) if apply.is_file() else None

    def _call_step(
        self, image: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, size: tuple[int, int]
    ) -> tuple[torch.Tensor, ...]:
        if self.compile is True:
            return self._compiled(self._step, image, keys, values, size)
        # Packages are compiled for one layout of their inputs and do not check it.
        return self._step(image, keys.contiguous(), values.contiguous())

    def _call_apply(
        self, image: torch.Tensor, coefficients: torch.Tensor, taps: tuple[torch.Tensor, ...]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.compile is True:
            return self._compiled(self._apply, image, coefficients, taps)
        return self._apply(image, coefficients, taps)

    def _compiled(self, fn: Any, *args: Any) -> Any:
        # Freezing folds the weights (and their bf16 casts) into constants so oneDNN can use
        # pre-packed convolutions: about 25 % faster on the CPU. It must be on whenever a
        # graph (re)compiles, which happens inside a call; compile(options=...) does not
        # reach that setting.
        from torch._inductor import config as inductor

        with inductor.patch(freezing=True):
            return fn(*args)

    def _fused_step(
        self, image: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, size: tuple[int, int]
    ) -> tuple[torch.Tensor, ...]:
        """The compiled path's per-frame graph at the network's resolution → (fgr and alpha
        (1, 4, h, w), or the guided filter's coefficients (1, 8, h, w) when the frame is
        larger; key; value). Everything leaves in float32, so every call sees the same
        input types (no recompiles) and the full-resolution pass runs in float32."""
        refine = tuple(size) != tuple(image.shape[-2:])
        with self._autocast():
            image_lr = downsample(image, size)
            encoding = self.network.encode(pad_to_stride(image_lr))
            out = self.network.matte_low(encoding, keys, values, image_lr, refine)
        return out.float(), encoding.key.float(), encoding.value.float()

    def _fused_apply(
        self, image: torch.Tensor, coefficients: torch.Tensor, taps: tuple[torch.Tensor, ...]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The compiled path's full-resolution graph: the guided filter, written straight
        into the result's layouts, alpha (H, W) and foreground (H, W, 3)."""
        return self.network.refiner.apply_frame(image, coefficients, taps)

    def _stream_fused(
        self, indexed: Iterable[tuple[int, Any]], first: int, start: int
    ) -> Iterator[MatteResult]:
        """``_stream`` through the compiled step. A frame's key and value come from the same
        compiled graph wherever a run starts, so ``session[i]`` still equals iteration."""
        memory: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        taps = None  # the guided filter's bilinear taps, one set per shot size
        for index, raw in indexed:
            image = self._check(raw, index).to(self.device)
            image = image.contiguous(memory_format=torch.channels_last)
            size = network_size(*self._size, self.downsample_ratio)
            if index == first:
                # The first frame is its own memory: one step for its key and value (they
                # do not depend on the memory passed in), then the real one.
                cfg = self.network.config
                grid = (-(-size[0] // STRIDE), -(-size[1] // STRIDE))
                zeros = [
                    torch.zeros(1, MEMORY_FRAMES, channels, *grid, device=self.device)
                    for channels in (cfg.key_channels, cfg.value_channels)
                ]
                memory[index] = tuple(self._call_step(image, *zeros, size)[1:])
            previous = [memory[max(index - k, first)] for k in range(1, MEMORY_FRAMES + 1)]
            keys = torch.stack([k for k, _ in previous], dim=1)
            values = torch.stack([v for _, v in previous], dim=1)
            out, key, value = self._call_step(image, keys, values, size)
            memory[index] = (key, value)
            memory.pop(index - MEMORY_FRAMES, None)
            if index < start:
                continue
            if out.shape[1] == 8:
                if taps is None:
                    taps = frame_taps(self._size, size, self.device)
                alpha, foreground = self._call_apply(image, out, taps)
                yield MatteResult(index, alpha.cpu().numpy(), foreground.cpu().numpy())
            else:
                yield _result(index, out[:, :3], out[:, 3:])
        if not memory:
            raise FrameError("no frames: the session was given an empty input")


def _result(index: int, fgr: torch.Tensor, pha: torch.Tensor) -> MatteResult:
    alpha = pha[0, 0].float().cpu().numpy()
    foreground = fgr[0].float().permute(1, 2, 0).cpu().numpy()
    return MatteResult(index, np.ascontiguousarray(alpha), np.ascontiguousarray(foreground))


class _Step(torch.nn.Module):
    """A session's ``_fused_step`` at one network size, as a module for ``torch.export``
    (the network is a submodule, so its weights are the exported program's parameters)."""

    def __init__(self, session: MattingSession, size: tuple[int, int]) -> None:
        super().__init__()
        self.network = session.network
        self.step = session._fused_step
        self.size = size

    def forward(
        self, image: torch.Tensor, keys: torch.Tensor, values: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        return self.step(image, keys, values, self.size)


class _Apply(torch.nn.Module):
    """``DeepGuidedFilter.apply_frame`` as a module for ``torch.export``."""

    def __init__(self, network: MattingNetwork) -> None:
        super().__init__()
        self.refiner = network.refiner

    def forward(
        self, image: torch.Tensor, coefficients: torch.Tensor, taps: tuple[torch.Tensor, ...]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.refiner.apply_frame(image, coefficients, taps)


def _own_code(method: Any) -> Any:
    """``method`` bound to a function with its own code object, so dynamo's graphs for it
    (kept per code object) belong to this session alone and die with it."""
    fn = method.__func__
    own = types.FunctionType(
        fn.__code__.replace(), fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__
    )
    return types.MethodType(own, method.__self__)
