"""The image-sequence processor: plates on disk → one matte file (EXR, PNG or TIFF) per frame.

    from hosts.exr import process_shot
    report = process_shot("shots/plate.####.exr", weights="checkpoint.safetensors",
                          frames="1001-1050", layout="rgba", resume=True)

Per shot: a pool of reader threads reads, sanitises and colour-converts frames ahead of
the network (a bounded prefetch), the ``MattingSession`` runs on the calling thread, and a
pool of writer threads converts the foreground back, builds the channels and writes each
EXR atomically behind it (bounded too), so I/O overlaps inference and memory stays flat.

The session's index space is always the whole shot, and every frame range processed starts
with the session's memory pre-roll of the two real frames before it, so a chunk
(``frames="1051-1100"``), a resumed run or a whole-shot run write bit-identical files.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import fileseq
import numpy as np

import core
from core.compiled import GraphKey
from core.model import MEMORY_FRAMES, MattingNetwork
from core.runtime import resolve_weights
from core.session import FrameError, MattingSession, auto_downsample_ratio
from core.trust import UntrustedError
from hosts.client import events
from hosts.exr import colour
from hosts.exr.errors import BadInputError, BatchError, Cancelled, OutputError, UsageError
from hosts.exr.io import (
    COMPRESSIONS,
    LAYOUTS,
    PIXEL_TYPES,
    RGB_SOURCES,
    STAMP_KEYS,
    OutputFormat,
    check_channels,
    make_folder,
    matte_pixels,
    output_spec,
    read_header,
    read_plate,
    read_stamp,
    remove_stale_temps,
    select_channels,
    stamp_matches,
    stamp_value,
    write_atomic,
)
from hosts.exr.sequence import Shot, find_shots, output_shot

log = logging.getLogger("memmatte.batch")


@dataclass(frozen=True)
class BatchOptions:
    """How shots are processed (everything but the inputs and the weights).

    output: output pattern (see ``hosts.exr.sequence.output_shot``); None → ``matte/``
    beside the plate. frames: a frame range such as "1001-1050" (fileseq syntax), None for
    the whole shot. colorspace: the plates' OCIO colour space, None to take it from each
    file's metadata or format. compile: ``MattingSession``'s mode: "cached" (the default: the
    ahead-of-time compiled graphs when the cache has them for the shot's size, else eager),
    "aot" (compile them into the cache first when missing), False (eager) or True
    (``torch.compile`` in this process); chunks stay bit-identical to a whole-shot run made
    the same way. cache_dir: the compiled graphs' folder (None: ``$MEMMATTE_CACHE`` or
    ``~/.cache/memmatte/compiled``). trusted_group: a group whose members may write the cache
    too (None: ``$MEMMATTE_TRUSTED_GROUP``; see ``core.trust``). io_threads: reader and
    writer threads each (0: automatic). channels: which channels are the plates' colour
    (``hosts.exr.io.select_channels``): None for R, G, B or the ``rgb``/``diffuse`` layer,
    "A,B,C" or a layer name.
    prefetch: frames read ahead of the network (0: automatic).
    """

    output: str | None = None
    frames: str | None = None
    colorspace: str | None = None
    channels: str | None = None
    format: OutputFormat = field(default_factory=OutputFormat)
    resume: bool = False
    downsample_ratio: float | str = "auto"
    device: str = "auto"
    precision: str = "auto"
    compile: bool | str = "cached"
    cache_dir: str | Path | None = None
    trusted_group: str | None = None
    io_threads: int = 0
    prefetch: int = 0

    def check(self) -> None:
        """Raises ``UsageError`` for options that cannot work."""
        fmt = self.format
        for value, allowed, name in (
            (fmt.layout, LAYOUTS, "layout"),
            (fmt.compression, COMPRESSIONS, "compression"),
            (fmt.pixel_type, PIXEL_TYPES, "pixel type"),
            (fmt.rgb, RGB_SOURCES, "--rgb"),
        ):
            if value not in allowed:
                raise UsageError(f"unknown {name} {value!r}; choose from {', '.join(allowed)}")
        if fmt.rgb == "plate" and fmt.layout != "rgba":
            raise UsageError(
                "--rgb plate chooses the colour of RGBA outputs; --alpha-only writes no colour "
                "and --layers writes the plate and the foreground both"
            )
        if self.frames is not None:
            frame_set(self.frames)
        check_channels(self.channels)
        if self.colorspace is not None:
            colour.check_space(self.colorspace)
        if self.downsample_ratio != "auto":
            try:
                ratio = float(self.downsample_ratio)
            except ValueError:
                ratio = 0.0
            if not 0 < ratio <= 1:
                raise UsageError(
                    f"downsample ratio must be 'auto' or in (0, 1], got {self.downsample_ratio}"
                )
        if self.io_threads < 0 or self.prefetch < 0:
            raise UsageError("io_threads and prefetch must be >= 0")
        check_device(self.device)


def check_device(device: str) -> None:
    """Refuses a device this machine does not have, before any frame is read or any weights
    are loaded (torch would otherwise fail later with an assertion deep in its CUDA code)."""
    import torch

    if device == "auto":
        return
    try:
        chosen = torch.device(device)
    except (RuntimeError, ValueError):
        raise UsageError(
            f"--device {device}: not a device; use auto, cpu, cuda or cuda:N"
        ) from None
    if chosen.type != "cuda":
        return
    if not torch.cuda.is_available():
        why = "is built without CUDA" if torch.version.cuda is None else "finds no CUDA GPU"
        raise UsageError(
            f"--device {device}: this torch ({torch.__version__}) {why}; use --device cpu or auto"
        )
    count = torch.cuda.device_count()
    if chosen.index is not None and chosen.index >= count:
        raise UsageError(f"--device {device}: this machine has {count} CUDA device(s)")


@dataclass(frozen=True)
class Model:
    """A loaded network and the hash recorded in outputs (file hash, or "in-memory")."""

    network: MattingNetwork
    weights_hash: str


Event = events.Event
"""Progress events are the typed records of ``hosts.client.events``: ``core.batch
--log-format json`` prints them as they are, and a host reads them back with the same types.
The processor emits ShotStart, Resume, StaleTemp, Note, ShotWarning, Sanitised, Compiled,
Frame (in frame order) and ShotDone."""

ProgressCallback = Callable[[Event], None]


@dataclass(frozen=True)
class ShotReport:
    """What one shot's run did. read_wait/write_wait: seconds the inference thread waited for
    a frame to be read, or for a write slot and the last writes (0 when I/O fully overlaps
    inference)."""

    shot: str
    output: str
    written: tuple[int, ...]
    skipped: tuple[int, ...]
    seconds: float
    read_wait: float
    write_wait: float


Failure = events.Failure
"""One failed shot of a run that keeps going: the JSON summary's own record."""


@dataclass(frozen=True)
class BatchReport:
    reports: tuple[ShotReport, ...]
    failures: tuple[Failure, ...]


# -- public entry points -----------------------------------------------------------------


def load_model(weights: str | Path | MattingNetwork | Model | None) -> Model:
    """Loads a checkpoint once for many shots; None is the bundled default weights."""
    from core.weights import WeightsError, file_hash, load_network

    if isinstance(weights, Model):
        return weights
    if isinstance(weights, MattingNetwork):
        return Model(weights.eval(), "in-memory")
    try:
        path = resolve_weights(weights, "pass --weights path/to/checkpoint.safetensors")
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from None
    if not path.is_file():
        raise UsageError(f"{path}: no such weights file")
    try:
        return Model(load_network(path), file_hash(path))
    except WeightsError as exc:
        raise UsageError(str(exc)) from exc


def process_shot(
    input_pattern: str | Shot,
    output_pattern: str | None = None,
    *,
    weights: str | Path | MattingNetwork | Model | None = None,
    frames: str | None = None,
    colorspace: str | None = None,
    channels: str | None = None,
    layout: str = "rgba",
    rgb: str = "foreground",
    premultiplied: bool = True,
    compression: str = "zip",
    pixel_type: str = "half",
    resume: bool = False,
    downsample_ratio: float | str = "auto",
    device: str = "auto",
    precision: str = "auto",
    compile: bool | str = "cached",
    cache_dir: str | Path | None = None,
    io_threads: int = 0,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> ShotReport:
    """Mattes one shot; the API the Blender and Nuke adapters use.

    input_pattern: a sequence pattern, file or glob that names exactly one shot (or a
    ``Shot``). rgb: what the "rgba" layout's R, G, B hold: "foreground" (the network's) or
    "plate" (the plate's own pixels, premultiplied: plate × alpha). io_threads: reader and
    writer threads each (0: half the cores, 2 to 8).
    Returns a ``ShotReport``; raises ``BatchError`` subclasses (``UsageError``,
    ``BadInputError``, ``OutputError``, ``Cancelled``) with a message naming the file.
    Setting ``cancel`` stops after the frame in flight; finished outputs stay, nothing
    partial is left, and a rerun with ``resume=True`` completes the shot.
    """
    options = BatchOptions(
        output=output_pattern,
        frames=frames,
        colorspace=colorspace,
        channels=channels,
        format=OutputFormat(layout, premultiplied, pixel_type, compression, rgb),
        resume=resume,
        downsample_ratio=downsample_ratio,
        device=device,
        precision=precision,
        compile=compile,
        cache_dir=cache_dir,
        io_threads=io_threads,
    )
    options.check()
    if isinstance(input_pattern, Shot):
        shot = input_pattern
    else:
        shots = find_shots([input_pattern])
        if len(shots) != 1:
            names = ", ".join(s.name for s in shots)
            raise UsageError(f"{input_pattern}: names {len(shots)} shots ({names}), not one")
        shot = shots[0]
    check_outputs([shot], options)
    check_writable([shot], options)
    return run_shot(shot, options, load_model(weights), progress=progress, cancel=cancel)


def process(
    inputs: Sequence[str],
    options: BatchOptions,
    *,
    weights: str | Path | MattingNetwork | Model | None = None,
    keep_going: bool = False,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> BatchReport:
    """Mattes every shot the inputs name, one after another.

    Without ``keep_going`` the first failing shot's error is raised; with it, failures are
    collected in the report and the other shots still run. ``Cancelled`` always stops.
    """
    options.check()
    shots = find_shots(inputs)
    check_outputs(shots, options)
    check_writable(shots, options)
    model = load_model(weights)
    reports, failures = [], []
    for shot in shots:
        try:
            reports.append(run_shot(shot, options, model, progress=progress, cancel=cancel))
        except Cancelled:
            raise
        except BatchError as exc:
            if not keep_going:
                raise
            failures.append(Failure(shot.name, exc.exit_code, str(exc)))
        except Exception as exc:
            if not keep_going:
                raise
            log.exception("internal error on %s", shot.name)
            failures.append(Failure(shot.name, 1, f"internal error: {exc!r}"))
    return BatchReport(tuple(reports), tuple(failures))


def precompile(
    inputs: Sequence[str],
    options: BatchOptions,
    *,
    weights: str | Path | MattingNetwork | Model | None = None,
    progress: ProgressCallback | None = None,
) -> list[Path]:
    """Compiles the graphs every shot needs (its frame size, and the options' ratio,
    precision and device) into the cache, reading only each shot's first frame header;
    returns the cache entries. A farm job runs this once before its chunks, so that no
    chunk compiles and all of them run the same graphs."""
    options.check()
    model = load_model(weights)
    entries = []
    for shot in find_shots(inputs):
        emit = _Emitter(progress, shot.name)
        header = read_header(shot.path(_targets(shot, options.frames, emit)[0]))
        session = _session([], replace(options, compile="aot"), model, header.width, header.height)
        entries.append(_use_compiled(session, header.width, header.height, shot.name, emit))
    return entries


def frame_set(text: str) -> list[int]:
    """A frame range → sorted frames. fileseq syntax ("1001-1050", "1001-1100x2",
    "1001,1005") or Open Job Description's ("1001-1100:2", what farm chunks expand to)."""
    expression = re.sub(r"(\d)-(-?\d+):(\d+)", r"\1-\2x\3", str(text).replace(" ", ""))
    try:
        return sorted(set(fileseq.FrameSet(expression)))
    except (fileseq.ParseException, ValueError):
        # fileseq's message is its parser's regular expression: say what is accepted instead.
        raise UsageError(
            f"frames {text!r}: not a frame range; use e.g. 1001-1050, 1001-1100x2 or 1001,1005"
        ) from None


def check_outputs(shots: Sequence[Shot], options: BatchOptions) -> None:
    """Refuses an output that is an input of any shot, and two shots writing the same file."""
    inputs = {os.path.realpath(p) for shot in shots for p in shot.paths()}
    owner: dict[str, str] = {}
    for shot in shots:
        outputs = output_shot(shot, options.output)
        if outputs.extension.lower() != ".exr" and options.format.layout == "layers":
            raise UsageError(
                f"--layers writes multi-channel EXRs, not {outputs.extension} files; "
                "end --output in .exr"
            )
        for path in outputs.paths():
            real = os.path.realpath(path)
            if real in inputs:
                raise UsageError(
                    f"refusing to overwrite input {path} with a matte; choose another --output"
                )
            if owner.setdefault(real, shot.name) != shot.name:
                raise UsageError(
                    f"{owner[real]} and {shot.name} would both write {path}; "
                    "put {name} or {dir} in --output"
                )


def check_writable(shots: Sequence[Shot], options: BatchOptions) -> None:
    """``OutputError`` for an output folder that cannot be created or written, found before
    the weights load and the first frame is read."""
    folders = {output_shot(shot, options.output).path(shot.first).parent for shot in shots}
    for folder in sorted(folders):
        existing = folder.absolute()
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            raise OutputError(f"{folder}: cannot create the output folder ({existing} is a file)")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise OutputError(f"{folder}: the output folder is not writable ({existing})")


# -- one shot ----------------------------------------------------------------------------


@dataclass
class _Loaded:
    """A frame read and prepared by a reader thread."""

    frame: int
    spec: Any  # oiio.ImageSpec
    plate: np.ndarray | None  # all channels, kept only for the "layers" layout
    network_input: np.ndarray  # (H, W, 3) sRGB in [0, 1]
    conversion: colour.Conversion
    rgb: np.ndarray | None  # (H, W, 3) the plate's colour as sanitised, for --rgb plate
    colour_channels: tuple[int, int, int]  # R, G, B among ``plate``'s channels
    counts: colour.SanitiseCounts


def run_shot(
    shot: Shot,
    options: BatchOptions,
    model: Model,
    *,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> ShotReport:
    """Processes one shot (options already checked); see ``process_shot``."""
    started = time.perf_counter()
    cancel = cancel or threading.Event()
    emit = _Emitter(progress, shot.name)
    outputs = output_shot(shot, options.output)
    targets = _targets(shot, options.frames, emit)
    reference = read_header(shot.path(targets[0]), options.channels)
    size = (reference.width, reference.height)
    ratio = _ratio(options, model, *size)
    options, eager_note = _resolve_cached(options, model, *size, shot.name)
    fmt = options.format.for_container(outputs.extension)
    options = replace(options, format=fmt)
    stamp = {
        "version": core.__version__,
        "weights": model.weights_hash,
        "downsample_ratio": ratio,
        "layout": fmt.layout,
        "rgb": fmt.rgb,
        "premultiplied": fmt.premultiplied,
        "pixel_type": fmt.pixel_type,
        "channels": options.channels,
        **_execution(options),
    }

    done = _complete(shot, outputs, targets, stamp, options) if options.resume else []
    complete = set(done)
    todo = [f for f in targets if f not in complete]
    emit(events.ShotStart(shot.name, len(todo), outputs.name))
    if done:
        emit(events.Resume(shot.name, len(done), len(targets)))
    for stale in remove_stale_temps(outputs.path(f) for f in todo):
        emit(events.StaleTemp(shot.name, str(stale)))
    if not todo:
        seconds = time.perf_counter() - started
        emit(events.ShotDone(shot.name, 0, 0, round(seconds, 3)))
        return ShotReport(shot.name, outputs.name, (), tuple(done), seconds, 0.0, 0.0)

    runs = _runs([shot.index(f) for f in todo])
    order = [i for start, stop in runs for i in range(max(0, start - MEMORY_FRAMES), stop)]
    # Found before any work; a folder or fifo in a frame's place is found when it is read,
    # like a damaged file, after the frames before it are written.
    missing = sorted(
        {shot.path(shot.frames[i]) for i in order if not os.path.lexists(shot.path(shot.frames[i]))}
    )
    if missing:
        listed = ", ".join(str(p) for p in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise BadInputError(f"{shot.name}: missing frame {listed}{more}")

    threads = options.io_threads or max(2, min(8, (os.cpu_count() or 2) // 2))
    depth = options.prefetch or threads + 2

    def load(index: int) -> _Loaded:
        return _load(shot, index, size, options, emit)

    def write(position: int, loaded: _Loaded, alpha: np.ndarray, foreground: np.ndarray) -> None:
        path = outputs.path(loaded.frame)
        plate_space = loaded.conversion.plate_space
        space = colour.output_space(plate_space, fmt.container)
        rgb, plate = None, loaded.plate
        if loaded.rgb is not None:  # --rgb plate
            rgb = colour.convert(loaded.rgb, plate_space, space)
        elif fmt.layout != "alpha":
            rgb = colour.convert(foreground, loaded.conversion.network_space, space)
        if plate is not None and space != plate_space:
            # --layers from plates that are not scene-linear: their colour channels are
            # decoded too, so that every colour channel of the EXR is in ``space``.
            plate = plate.astype(np.float32)
            channels = list(loaded.colour_channels)
            plate[..., channels] = colour.convert(plate[..., channels], plate_space, space)
        names, pixels = matte_pixels(loaded.spec, plate, alpha, rgb, fmt)
        meta = {
            **stamp,
            "colorspace": plate_space,
            "output_colorspace": space,
            "source": shot.path(loaded.frame).name,
        }
        write_atomic(path, output_spec(loaded.spec, names, fmt, space, meta), pixels)
        emit.frame(position, loaded.frame, len(todo), str(path))

    source = _Prefetch(len(shot.frames), order, load, threads, depth, cancel)
    try:
        session = _session(source, options, model, *size)
        if session.cache is not None:
            _use_compiled(session, *size, shot.name, emit)
        elif eager_note is not None:
            emit(eager_note)
        # Made once, here, after the run is known to go ahead (a refused one leaves nothing):
        # a folder removed while the shot runs (with the frames written in it) is then an
        # error, not silently made again.
        for folder in sorted({outputs.path(f).parent for f in todo}):
            make_folder(folder)
    except BaseException:
        source.close()
        raise
    writer = _WriteBehind(threads, depth)
    written: list[int] = []
    replaced = _Replaced()
    ok = False
    try:
        for start, stop in runs:
            for result in session.iter_range(start, stop):
                loaded = source.take(result.index)
                writer.submit(write, len(written), loaded, result.alpha, result.foreground)
                written.append(loaded.frame)
                replaced.add(loaded, shot)
                if cancel.is_set():
                    raise Cancelled(f"{shot.name}: cancelled")
        writer.finish()
        ok = True
    except (BadInputError, FrameError) as exc:
        # The frames before a damaged one are computed: they are written before stopping.
        with contextlib.suppress(Exception):
            writer.finish()
        if isinstance(exc, FrameError):
            raise BadInputError(f"{shot.name}: {exc}") from exc
        raise
    finally:
        source.close()
        if not ok:
            writer.abort()
    seconds = time.perf_counter() - started
    if replaced.first is not None:
        emit(replaced.event(shot.name))
    emit(events.ShotDone(shot.name, len(written), len(todo), round(seconds, 3)))
    return ShotReport(
        shot.name,
        outputs.name,
        tuple(written),
        tuple(done),
        seconds,
        source.wait_seconds,
        writer.wait_seconds,
    )


def _ratio(options: BatchOptions, model: Model, width: int, height: int) -> float:
    if options.downsample_ratio == "auto":
        return auto_downsample_ratio(height, width, model.network.auto_long_side)
    return float(options.downsample_ratio)


def _resolve_cached(
    options: BatchOptions, model: Model, width: int, height: int, shot: str
) -> tuple[BatchOptions, Event | None]:
    """``compile="cached"`` becomes what will run, before anything is written or resumed:
    "aot" when the cache holds this shot's graphs, else eager (False). The output stamp then
    records the graphs that made the pixels, so ``--resume`` never mixes eager frames with
    compiled ones (they differ in the last bits). Also the "compiled" event to emit when the
    shot runs eager for want of cached graphs."""
    if options.compile != "cached":
        return options, None
    session = _session([], options, model, width, height)
    assert session.cache is not None
    key = session.graph_key(height, width)
    if session.cache.has(key):
        problems = session.cache.untrusted(key)
        if not problems:
            return replace(options, compile="aot"), None
        # One warning, and the shot runs eager: a cache others could write is never loaded.
        refused = UntrustedError(
            f"not loading the compiled graphs in {session.cache.path(key)}", problems
        )
        return replace(options, compile=False), events.Compiled(
            shot, f"{refused}; running eager", str(session.cache.path(key))
        )
    return replace(options, compile=False), events.Compiled(
        shot, _no_graphs(session, key), str(session.cache.path(key))
    )


def _no_graphs(session: MattingSession, key: GraphKey) -> str:
    assert session.cache is not None
    return (
        f"no compiled graphs cached for {key.describe()} in {session.cache.folder}; running "
        "eager (python -m core.batch --precompile builds them)"
    )


def _session(
    source: Sequence[Any], options: BatchOptions, model: Model, width: int, height: int
) -> MattingSession:
    try:
        return MattingSession(
            source,
            weights=model.network,
            device=options.device,
            downsample_ratio=_ratio(options, model, width, height),
            precision=options.precision,
            compile=options.compile,
            cache_dir=options.cache_dir,
            trusted_group=options.trusted_group,
        )
    except (ValueError, RuntimeError) as exc:
        raise UsageError(f"cannot run the network: {exc}") from exc


def _use_compiled(
    session: MattingSession, width: int, height: int, shot: str, emit: _Emitter
) -> Path:
    """Loads the session's compiled graphs (building them in "aot" mode) and says which
    graphs the shot runs; returns their cache entry."""
    assert session.cache is not None
    key = session.graph_key(height, width)
    entry = session.cache.path(key)
    build = session.compile == "aot"
    existed = session.cache.has(key)
    started = time.perf_counter()
    try:
        used = session.precompile(height, width, build=build)
    except UntrustedError as exc:
        raise UsageError(str(exc)) from None
    except (OSError, RuntimeError) as exc:
        raise UsageError(f"cannot compile the network for {key.describe()}: {exc}") from exc
    if used:
        how = "loaded" if existed else "compiled and cached"
        seconds = time.perf_counter() - started
        message = f"{how} compiled graphs for {key.describe()} in {seconds:.2f} s: {entry}"
    else:
        message = _no_graphs(session, key)
    emit(events.Compiled(shot, message, str(entry)))
    return entry


def _targets(shot: Shot, frames: str | None, emit: _Emitter) -> list[int]:
    """The frames to write. Requested frames outside the shot are dropped with a warning
    (some schedulers' last chunk runs past the end); none inside is a usage error."""
    if shot.only is not None:
        first, last = shot.frames[0], shot.frames[-1]
        emit(
            events.Note(
                shot.name,
                f"named by file: matting frame(s) {_frames_text(shot.only)} of the "
                f"sequence {first}-{last} on disk, with the two frames before each as memory "
                f"(as in a whole-shot run); writing only frame(s) {_frames_text(shot.only)}",
            )
        )
    if frames is None:
        return list(shot.only or shot.frames)
    in_shot = set(shot.only or shot.frames)
    wanted = frame_set(frames)
    inside = [f for f in wanted if f in in_shot]
    if not inside:
        raise UsageError(f"frames {frames}: none of them is in {shot.name}")
    if len(inside) < len(wanted):
        emit(
            events.ShotWarning(
                shot.name,
                f"frames {frames}: {len(wanted) - len(inside)} frame(s) outside the shot skipped",
            )
        )
    return inside


def _execution(options: BatchOptions) -> dict[str, object]:
    """How the network runs, as far as it changes pixels: the device type, the precision,
    compiled or not, and on the CPU the number of threads (a different thread count sums
    convolutions in another order and changes ~2 % of pixels by a half-float step)."""
    import torch

    from core.runtime import resolve_device, resolve_precision

    try:
        device = resolve_device(options.device)
        precision = resolve_precision(options.precision, device)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    threads = torch.get_num_threads() if device.type == "cpu" else None
    return {
        "device": device.type,
        "precision": precision,
        "compile": options.compile,
        "threads": threads,
    }


def _frames_text(frames: Sequence[int]) -> str:
    return str(fileseq.FrameSet(list(frames)))


def _complete(
    shot: Shot, outputs: Shot, targets: list[int], stamp: dict, options: BatchOptions
) -> list[int]:
    """Targets whose output exists, opens, and was made with these weights and settings.

    ``UsageError`` when an output was made with other weights or settings (another layout,
    thread count, ...): resuming would mix them in one shot, or overwrite them with other
    outputs; the message names the file and the settings that differ.
    """
    complete = []
    for frame in targets:
        path = outputs.path(frame)
        found = read_stamp(path)
        if found is None or not shot.path(frame).is_file():
            continue
        space = options.colorspace or colour.default_space(
            read_header(shot.path(frame), options.channels)
        )
        output_space = colour.output_space(space, options.format.container)
        expected = {**stamp, "colorspace": space, "output_colorspace": output_space}
        if not stamp_matches(found, expected):
            changes = ", ".join(
                f"{key} {_or_unknown(stamp_value(found, key))!r} there, {expected.get(key)!r} now"
                for key in STAMP_KEYS
                if stamp_value(found, key) != expected.get(key)
            )
            same = "--threads"
            if found.get("compile") != expected.get("compile"):
                same = (
                    "--eager for frames made without compiled graphs"
                    if found.get("compile") is False
                    else "--compile for frames made with them"
                )
            raise UsageError(
                f"--resume: {path} was written with other settings ({changes}); rerun with "
                f"the same settings (e.g. {same}), another --output, or without --resume "
                "to replace every frame"
            )
        complete.append(frame)
    return complete


def _or_unknown(value: object) -> object:
    return "unknown" if value is None else value


def _runs(indices: list[int]) -> list[tuple[int, int]]:
    """Sorted indices → contiguous [start, stop) runs."""
    runs: list[tuple[int, int]] = []
    for i in indices:
        if runs and runs[-1][1] == i:
            runs[-1] = (runs[-1][0], i + 1)
        else:
            runs.append((i, i + 1))
    return runs


def _load(
    shot: Shot,
    index: int,
    size: tuple[int, int],
    options: BatchOptions,
    emit: _Emitter,
) -> _Loaded:
    frame = shot.frames[index]
    keep_plate = options.format.layout == "layers"
    plate = read_plate(shot.path(frame), rgb_only=not keep_plate, channels=options.channels)
    if plate.size != size:
        raise BadInputError(
            f"{plate.path}: {plate.size[0]}x{plate.size[1]} pixels, but the shot's frames "
            f"are {size[0]}x{size[1]}; a shot must not change resolution"
        )
    rgb, counts = colour.sanitise(plate.rgb())
    space = options.colorspace or colour.default_space(plate.spec)
    conversion = colour.conversion(space)
    keep = plate.pixels if keep_plate else None
    channels = plate.colour or select_channels(plate.path, [plate.spec])[1]
    first = plate.first_channel
    return _Loaded(
        frame,
        plate.spec,
        keep,
        conversion.to_network(rgb),
        conversion,
        rgb if options.format.rgb == "plate" else None,
        (channels[0] - first, channels[1] - first, channels[2] - first),
        counts,
    )


class _Replaced:
    """NaN, Inf and negative values replaced in a shot's written frames (not in the pre-roll
    frames read only as memory), reported once per shot."""

    def __init__(self) -> None:
        self.counts = colour.SanitiseCounts()
        self.frames = 0
        self.first: tuple[int, str] | None = None

    def add(self, loaded: _Loaded, shot: Shot) -> None:
        if not loaded.counts.total:
            return
        self.counts += loaded.counts
        self.frames += 1
        if self.first is None:
            self.first = (loaded.frame, str(shot.path(loaded.frame)))

    def event(self, shot: str) -> events.Sanitised:
        assert self.first is not None
        c = self.counts
        frame, path = self.first
        return events.Sanitised(
            shot,
            frame,
            path,
            f"replaced {c.nan} NaN, {c.inf} Inf and {c.negative} negative values (below "
            f"-{colour.NEGATIVE_TOLERANCE:g}) in {self.frames} frame(s), the first {frame}",
        )


class _Emitter:
    """Thread-safe delivery of events to the progress callback.

    Writer threads finish frames in any order; ``frame`` reports them in the order they were
    submitted (``position`` 0, 1, 2, ...), so "frame" events come in frame order and every
    frame reported has all the frames before it written too."""

    def __init__(self, callback: ProgressCallback | None, shot: str) -> None:
        self._callback = callback
        self._shot = shot
        self._lock = threading.Lock()
        self._done = 0
        self._finished: dict[int, tuple[int, int, str]] = {}

    def __call__(self, event: Event) -> None:
        if self._callback is not None:
            with self._lock:
                self._callback(event)

    def frame(self, position: int, frame: int, total: int, path: str) -> None:
        with self._lock:
            self._finished[position] = (frame, total, path)
            while self._done in self._finished:
                frame, total, path = self._finished.pop(self._done)
                self._done += 1
                if self._callback is not None:
                    self._callback(events.Frame(self._shot, frame, self._done, total, path))


class _Prefetch(Sequence):
    """The shot as the session sees it: ``source[i]`` is frame i's network input, (H, W, 3)
    sRGB in [0, 1].

    Reader threads load frames in ``order`` (the order the session will ask for them), at
    most ``depth`` ahead. ``take(i)`` hands the processor the rest of frame i (its header,
    plate and colour conversion) after the session has read it.
    """

    def __init__(
        self,
        length: int,
        order: list[int],
        load: Callable[[int], _Loaded],
        threads: int,
        depth: int,
        cancel: threading.Event,
    ) -> None:
        self._length = length
        self._order = deque(order)
        self._load = load
        self._depth = depth
        self._cancel = cancel
        self._pool = ThreadPoolExecutor(
            threads, thread_name_prefix="memmatte-read", initializer=_behind_inference
        )
        self._pending: deque[tuple[int, Future[_Loaded]]] = deque()
        self._served: dict[int, _Loaded] = {}
        self.wait_seconds = 0.0

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: int) -> np.ndarray:  # type: ignore[override]
        if self._cancel.is_set():
            raise Cancelled("cancelled")
        self._fill()
        if self._pending and self._pending[0][0] == index:
            _, future = self._pending.popleft()
            self._fill()
            started = time.perf_counter()
            loaded = future.result()
            self.wait_seconds += time.perf_counter() - started
        else:
            loaded = self._load(index)  # not in the plan: read it now
        self._served[index] = loaded
        return loaded.network_input

    def take(self, index: int) -> _Loaded:
        """Frame ``index`` as read; forgets it and every frame before it."""
        loaded = self._served[index]
        self._served = {i: f for i, f in self._served.items() if i > index}
        return loaded

    def close(self) -> None:
        for _, future in self._pending:
            future.cancel()
        self._pending.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _fill(self) -> None:
        while self._order and len(self._pending) < self._depth:
            index = self._order.popleft()
            self._pending.append((index, self._pool.submit(self._load, index)))


IO_NICENESS = 10


def _behind_inference() -> None:
    """Lowers the calling I/O thread's scheduling priority (Linux threads have their own
    nice value), so that on a machine with few cores the inference thread is not preempted
    by reads and writes: the I/O then fills the time inference leaves, and waits for it."""
    if hasattr(os, "setpriority"):  # Unix
        with contextlib.suppress(OSError):  # not permitted: keep the default priority
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), IO_NICENESS)


class _WriteBehind:
    """Runs writes on a thread pool, at most ``limit`` queued; re-raises their errors."""

    def __init__(self, threads: int, limit: int) -> None:
        self._pool = ThreadPoolExecutor(
            threads, thread_name_prefix="memmatte-write", initializer=_behind_inference
        )
        self._pending: deque[Future[None]] = deque()
        self._limit = limit
        self.wait_seconds = 0.0

    def submit(self, fn: Callable[..., None], *args: Any) -> None:
        while self._pending and (self._pending[0].done() or len(self._pending) >= self._limit):
            started = time.perf_counter()
            self._pending.popleft().result()
            self.wait_seconds += time.perf_counter() - started
        self._pending.append(self._pool.submit(fn, *args))

    def finish(self) -> None:
        """Waits for every write (counted in ``wait_seconds``); re-raises the first error."""
        started = time.perf_counter()
        try:
            while self._pending:
                self._pending.popleft().result()
        finally:
            self._pool.shutdown(wait=True)
            self.wait_seconds += time.perf_counter() - started

    def abort(self) -> None:
        """Drops writes not started, lets running ones finish (each is atomic), ignores
        their errors: the error being raised already explains the failure."""
        for future in self._pending:
            future.cancel()
        self._pending.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)
