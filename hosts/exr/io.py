"""OpenImageIO reading of plates and atomic writing of mattes with the plate's metadata.

Mattes are EXRs (half or float, scene-linear), or 16-bit PNG or TIFF files when the output
pattern ends in ``.png`` or ``.tif`` (keeping the plate's encoding, e.g. sRGB; PNG alpha is
straight, as the PNG standard defines it; TIFF alpha is premultiplied, "associated" in its
ExtraSamples tag, unless ``--unpremultiplied``).

Every output is written to ``.<name>.tmp-<pid>.<ext>`` in its target folder and renamed into
place with ``os.replace``, so a final file name always holds a complete file, whatever
happens to the process. Outputs carry a ``memmatte`` string attribute (JSON; in a TIFF, whose
writer keeps no custom attributes, the ``Software`` tag) recording the memmatte version, the
weights hash, the downsample ratio, the output settings and how the network ran (device,
precision, compiled, CPU threads); resuming trusts an existing output only when it opens and
its stamp matches the run, and refuses one whose stamp differs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import stat
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import torch

from hosts.client.runner import alive
from hosts.exr.errors import BadInputError, OutputError, UsageError

# OpenImageIO's reader on the OpenEXR core library reports a damaged file through
# ``geterror()``; the default (C++ library) path also prints the library's own line to stderr
# before our message names the file.
oiio.attribute("openexr:core", 1)

LAYOUTS = ("rgba", "alpha", "layers")
RGB_SOURCES = ("foreground", "plate")
"""What an output's R, G, B hold: the network's foreground, or the plate's own pixels."""

COMPRESSIONS = ("none", "rle", "zips", "zip", "piz", "pxr24", "b44", "b44a", "dwaa", "dwab")
PIXEL_TYPES = ("half", "float")
STAMP_ATTRIBUTE = "memmatte"
STAMP_KEYS = (
    "weights",
    "downsample_ratio",
    "layout",
    "rgb",
    "premultiplied",
    "pixel_type",
    "colorspace",
    "output_colorspace",
    "channels",
    "device",
    "precision",
    "compile",
    "threads",
)
"""Stamp fields that change an output's pixels (or its channels); resuming over an output
whose stamp differs in any of them is refused."""

# Attributes describing the file rather than the picture: never copied to an output.
_NOT_COPIED = re.compile(r"^(oiio:|compression$|tiles$|openexr:chunkCount$)")
_TEMP = re.compile(r"^\.(?P<stem>.+)\.tmp-(?P<pid>\d+)\.(exr|png|tiff?)$")
_SOFTWARE_STAMP = "memmatte "  # a TIFF's stamp: this prefix, then the JSON

MAX_FRAME_PIXELS = 1 << 28
"""Largest data window read (16384 x 16384): a damaged header can claim any size, and
allocating for it would exhaust the machine's memory before the read fails."""


@dataclass(frozen=True)
class Plate:
    """One frame as read: the data window of the part (subimage) holding its colour.

    pixels: (H, W, C) channels ``first_channel`` to ``first_channel + C - 1`` of that part
    (every channel unless read with ``rgb_only``), in their stored order and values: float16
    when all of them are half in the file, else float32 (integer formats scaled to [0, 1]).
    spec: that part's header. colour: indices in the part of the channels used as R, G, B
    (None: the channels named R, G, B).
    """

    path: Path
    spec: oiio.ImageSpec
    pixels: np.ndarray
    first_channel: int = 0
    colour: tuple[int, int, int] | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the data window."""
        return self.spec.width, self.spec.height

    def rgb(self) -> np.ndarray:
        """(H, W, 3) float16 or float32: the R, G, B channels; a view of ``pixels`` when they
        are adjacent and in order."""
        chosen = self.colour or select_channels(self.path, [self.spec])[1]
        r, g, b = (c - self.first_channel for c in chosen)
        if (g, b) == (r + 1, r + 2):
            return self.pixels[..., r : r + 3]
        return np.ascontiguousarray(self.pixels[..., [r, g, b]])


@dataclass(frozen=True)
class OutputFormat:
    """What a matte file holds.

    layout: "rgba" (R, G, B colour, A alpha), "alpha" (a single A channel) or
    "layers" (the plate's channels untouched, plus matte.A and fg.R, fg.G, fg.B).
    rgb: what the "rgba" layout's R, G, B are: "foreground" (the network's foreground) or
    "plate" (the plate's own pixels, so that premultiplied they are plate × alpha).
    premultiplied: colour × alpha (the EXR convention) or not. pixel_type: "half" or "float"
    for EXR, "uint16" for PNG and TIFF. container: the file type (``hosts.exr.sequence.CONTAINERS``).
    """

    layout: str = "rgba"
    premultiplied: bool = True
    pixel_type: str = "half"
    compression: str = "zip"
    rgb: str = "foreground"
    container: str = ".exr"

    @property
    def integer(self) -> bool:
        """A 16-bit PNG or TIFF rather than a float EXR."""
        return self.container != ".exr"

    def for_container(self, container: str) -> OutputFormat:
        """This format for files of type ``container``: 16-bit integer pixels for PNG and
        TIFF, and straight alpha for PNG (the only kind the PNG standard has)."""
        container = container.lower()
        if container == ".exr":
            return dataclasses.replace(self, container=container)
        return dataclasses.replace(
            self,
            container=container,
            pixel_type="uint16",
            premultiplied=self.premultiplied and container != ".png",
        )


COLOUR_LAYERS = ("rgb", "rgba", "diffuse")
"""Layers taken as the colour when no part has channels named plainly R, G and B."""


def check_channels(request: str | None) -> None:
    """``UsageError`` for a ``--channels`` value that is neither three channel names nor a
    layer name."""
    if request is None:
        return
    names = request.split(",")
    if "," in request and (len(names) != 3 or not all(n.strip() for n in names)):
        raise UsageError(
            f"--channels {request!r}: give three channel names (R,G,B or diffuse.R,diffuse.G,"
            "diffuse.B) or one layer name (diffuse)"
        )
    if not request.strip():
        raise UsageError("--channels: empty")


def select_channels(
    path: Path, specs: list[oiio.ImageSpec], request: str | None = None
) -> tuple[int, tuple[int, int, int]]:
    """(part, (r, g, b)): which part of a file, and which of its channels, are the plate's
    colour.

    request None: the channels named R, G, B (any case), else those of the layer ``rgb``,
    ``rgba`` or ``diffuse``. "A,B,C": those three channels. "name": the channels R, G, B of
    the layer ``name`` (``name.R``, ...) or of the part called ``name``. Every part of a
    multi-part file is searched; ``BadInputError`` naming the file and its channels when
    nothing or more than one candidate matches (a depth-only file, colour in two parts,
    a greyscale or two-channel plate).
    """
    if request is not None and "," in request:
        wanted = [n.strip() for n in request.split(",")]
        found = _find(specs, wanted)
        what = f"channels {','.join(wanted)}"
    elif request is not None:
        layer = request.strip()
        found = _find(specs, [f"{layer}.{c}" for c in "RGB"])
        found += [
            (s, idx)
            for s, spec in enumerate(specs)
            if spec.get_string_attribute("oiio:subimagename") == layer
            and (idx := _indices(list(spec.channelnames), list("RGB")))
        ]
        what = f"a layer or part {layer!r} with R, G, B"
    else:
        found = _find(specs, list("RGB"))
        what = "channels R, G, B"
        for layer in COLOUR_LAYERS:
            if found:
                break
            found = _find(specs, [f"{layer}.{c}" for c in "RGB"])
            what = "channels R, G, B or a layer " + ", ".join(COLOUR_LAYERS)
    if len(found) == 1:
        return found[0]
    if not found:
        raise BadInputError(
            f"{path}: no {what} (the file has {describe_channels(specs)}); "
            "choose the colour channels with --channels"
        )
    raise BadInputError(
        f"{path}: {what} found in more than one place ({describe_channels(specs)}); "
        "choose with --channels, e.g. a layer name"
    )


def describe_channels(specs: list[oiio.ImageSpec]) -> str:
    """``R,G,B,A`` for a one-part file; ``part 0 'rgba': R,G,B,A; part 1 'depth': Z``."""
    if len(specs) == 1:
        return "channels " + ",".join(specs[0].channelnames)
    return "; ".join(
        f"part {i} '{spec.get_string_attribute('oiio:subimagename')}': "
        + ",".join(spec.channelnames)
        for i, spec in enumerate(specs)
    )


def read_header(path: Path, channels: str | None = None) -> oiio.ImageSpec:
    """The header of the part holding the plate's colour (``select_channels``);
    ``BadInputError`` naming the file if it cannot be opened or has no unambiguous colour."""
    with _reading(path):
        inp = _open(path)
        try:
            specs = _part_specs(inp)
        finally:
            inp.close()
        return specs[select_channels(path, specs, channels)[0]]


def read_plate(path: Path, rgb_only: bool = False, channels: str | None = None) -> Plate:
    """Reads the part holding the colour (``select_channels`` with ``channels``): every
    channel, or with ``rgb_only`` the fewest adjacent channels that hold R, G and B.
    ``BadInputError`` naming the file when it is missing, truncated or corrupt, or has no
    unambiguous colour channels."""
    with _reading(path):
        inp = _open(path)
        try:
            specs = _part_specs(inp)
            part, colour = select_channels(path, specs, channels)
            spec = specs[part]
            _check_size(path, spec)
            # Every attribute is copied to the output: its text must decode here, where
            # the error names the plate, not in a writer thread.
            for attr in spec.extra_attribs:
                _ = attr.value
            first, stop = 0, spec.nchannels
            if rgb_only:
                first, stop = min(colour), max(colour) + 1
            # Half stays half: no conversion while reading, and the colour tables index it.
            half = all(_channel_type(spec, c) == oiio.BASETYPE.HALF for c in range(first, stop))
            pixels = inp.read_image(part, 0, first, stop, oiio.HALF if half else oiio.FLOAT)
            if pixels is None:
                raise BadInputError(f"{path}: truncated or corrupt ({_library_error(inp)})")
        finally:
            inp.close()
    pixels = np.asarray(pixels).reshape(spec.height, spec.width, stop - first)
    return Plate(path, spec, pixels, first, colour)


def matte_pixels(
    spec: oiio.ImageSpec,
    plate: np.ndarray | None,
    alpha: np.ndarray,
    foreground: np.ndarray | None,
    fmt: OutputFormat,
) -> tuple[list[str], np.ndarray]:
    """Channel names and (H, W, C) pixels of an output (float16 for half "rgba" and "alpha"
    outputs, else float32).

    spec, plate: the plate's header and (for the "layers" layout) its pixels. alpha: (H, W)
    in [0, 1]. foreground: (H, W, 3) the output's R, G, B (the foreground or the plate's
    colour, as ``fmt.rgb`` says) in the output's colour space, not premultiplied (unused by
    the "alpha" layout).
    """
    height, width = alpha.shape
    if fmt.layout == "layers":
        # Per-channel types (the plate keeps its own): OpenImageIO converts from float32.
        names = [*spec.channelnames, "matte.A", "fg.R", "fg.G", "fg.B"]
        pixels = np.empty((height, width, len(names)), np.float32)
        pixels[..., : spec.nchannels] = plate
        pixels[..., spec.nchannels] = alpha
        fg = pixels[..., spec.nchannels + 1 :]
        if fmt.premultiplied:
            np.multiply(foreground, alpha[..., None], out=fg)
        else:
            fg[...] = foreground
        return names, pixels
    # Converted here to the file's type, which is cheaper than OpenImageIO converting, and
    # by torch: numpy's float32 -> float16 cast is scalar code that slows down tenfold on
    # the tiny values of a soft matte's tails (subnormal halves), 100-300 ms a 1080p frame.
    dtype = torch.float16 if fmt.pixel_type == "half" else torch.float32  # uint16: OIIO
    a = torch.from_numpy(np.ascontiguousarray(alpha, np.float32))
    if fmt.layout == "alpha":
        return ["A"], a.to(dtype).unsqueeze(-1).numpy()
    rgba = torch.empty((height, width, 4), dtype=torch.float32)
    fg = torch.from_numpy(np.ascontiguousarray(foreground, np.float32))
    if fmt.premultiplied:
        torch.mul(fg, a.unsqueeze(-1), out=rgba[..., :3])
    else:
        rgba[..., :3] = fg
    rgba[..., 3] = a
    return ["R", "G", "B", "A"], rgba.to(dtype).numpy()


def output_spec(
    plate: oiio.ImageSpec,
    channels: list[str],
    fmt: OutputFormat,
    colorspace: str,
    stamp: Mapping[str, object],
) -> oiio.ImageSpec:
    """The output header: the plate's data and display windows and every metadata attribute
    (pixel aspect, timecode, frame rate, camera matrices, studio attributes), with our
    channels, pixel type, compression, colour space (``oiio:ColorSpace``), alpha kind and
    ``memmatte`` stamp."""
    pixel = {"half": oiio.HALF, "float": oiio.FLOAT, "uint16": oiio.UINT16}[fmt.pixel_type]
    spec = oiio.ImageSpec(plate.width, plate.height, len(channels), pixel)
    spec.x, spec.y = plate.x, plate.y
    spec.full_x, spec.full_y = plate.full_x, plate.full_y
    spec.full_width, spec.full_height = plate.full_width, plate.full_height
    spec.channelnames = tuple(channels)
    if fmt.layout == "layers":
        spec.channelformats = tuple(_plate_formats(plate)) + (oiio.TypeDesc(pixel),) * 4
        spec.alpha_channel = plate.alpha_channel
    else:
        spec.alpha_channel = channels.index("A")
    for attr in plate.extra_attribs:
        if not _NOT_COPIED.match(attr.name):
            spec.attribute(attr.name, attr.type, attr.value)
    if not fmt.integer:
        spec.attribute("compression", fmt.compression)
    if fmt.layout != "alpha":
        spec.attribute("oiio:ColorSpace", colorspace)
    if fmt.integer and not fmt.premultiplied:
        # Written as given and marked straight (PNG by definition; TIFF ExtraSamples 2).
        spec.attribute("oiio:UnassociatedAlpha", 1)
    text = json.dumps(dict(stamp), sort_keys=True)
    if fmt.container in (".tif", ".tiff"):
        spec.attribute("Software", _SOFTWARE_STAMP + text)
    else:
        spec.attribute(STAMP_ATTRIBUTE, text)
    return spec


def temp_path(path: Path) -> Path:
    """``.<name>.tmp-<pid>.<ext>`` beside ``path`` (the extension picks the writer)."""
    return path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix.lower()}")


def make_folder(folder: Path) -> None:
    """Creates an output folder (and its parents); ``OutputError`` naming it on failure."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot create the output folder ({exc})") from exc


def write_atomic(path: Path, spec: oiio.ImageSpec, pixels: np.ndarray) -> None:
    """Writes a temporary file in ``path``'s folder (which must exist: see ``make_folder``),
    reads it back, and renames it to ``path``. No partial file is left on failure;
    ``OutputError`` names the file.

    The read-back is what makes a full disk an error: OpenImageIO's EXR writer can report
    success for a file whose last chunks the disk had no room for.
    """
    if not path.parent.is_dir():
        raise OutputError(f"{path}: the output folder {path.parent} does not exist (removed?)")
    tmp = temp_path(path)
    try:
        out = oiio.ImageOutput.create(str(tmp))
        if out is None:
            raise OutputError(f"{path}: no writer ({_library_error(oiio)})")
        ok = out.open(str(tmp), spec) and out.write_image(np.ascontiguousarray(pixels))
        error = _library_error(out, "")
        ok = out.close() and ok
        if not ok:
            raise OutputError(f"{path}: write failed ({error or _library_error(out)})")
        _check_written(path, tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"{path}: write failed ({exc})") from exc
    finally:
        # On a read-only file system even removing a file that is not there fails.
        with contextlib.suppress(OSError):
            tmp.unlink()


def _check_written(path: Path, tmp: Path) -> None:
    """``OutputError`` unless ``tmp`` reads back whole (every chunk present and decoded)."""
    inp = oiio.ImageInput.open(str(tmp))
    if inp is None:
        raise OutputError(f"{path}: write failed (the file does not read back: disk full?)")
    try:
        whole = inp.read_image(0, 0, 0, inp.spec().nchannels, oiio.UNKNOWN) is not None
        error = _library_error(inp, "")
    finally:
        inp.close()
    if not whole:
        raise OutputError(f"{path}: write failed, the file is incomplete (disk full?): {error}")


def read_stamp(path: Path) -> dict | None:
    """The ``memmatte`` stamp of an existing output, or None when the file is missing, does
    not open, or has no valid stamp."""
    if not path.is_file():
        return None
    inp = oiio.ImageInput.open(str(path))
    if inp is None:
        _library_error(oiio)  # clear the thread's error
        return None
    try:
        text = inp.spec().get_string_attribute(STAMP_ATTRIBUTE)
        software = inp.spec().get_string_attribute("Software")
    except UnicodeDecodeError:
        return None
    finally:
        inp.close()
    if not text and software.startswith(_SOFTWARE_STAMP):
        text = software[len(_SOFTWARE_STAMP) :]
    try:
        stamp = json.loads(text)
    except ValueError:
        return None
    return stamp if isinstance(stamp, dict) else None


def stamp_value(stamp: Mapping[str, object], key: str) -> object:
    """A stamp's field; for the fields that outputs of earlier versions lack, what they had:
    the foreground as RGB, in the plates' own colour space."""
    if key == "rgb":
        return stamp.get(key, "foreground")
    if key == "output_colorspace":
        return stamp.get(key, stamp.get("colorspace"))
    return stamp.get(key)


def stamp_matches(stamp: Mapping[str, object] | None, expected: Mapping[str, object]) -> bool:
    return stamp is not None and all(stamp_value(stamp, k) == expected.get(k) for k in STAMP_KEYS)


def remove_stale_temps(outputs: Iterable[Path]) -> list[Path]:
    """Removes temporary files left for ``outputs`` by processes that no longer run on this
    machine (a run killed with SIGKILL); returns what was removed."""
    stems_by_folder: dict[Path, set[str]] = {}
    for path in outputs:
        stems_by_folder.setdefault(path.parent, set()).add(path.stem)
    removed = []
    for folder, stems in stems_by_folder.items():
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            match = _TEMP.match(entry.name)
            if match and match["stem"] in stems and not alive(int(match["pid"])):
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
                    removed.append(entry)
    return removed


# -- internals ---------------------------------------------------------------------------


def _open(path: Path) -> oiio.ImageInput:
    if not path.is_file():
        raise BadInputError(f"{path}: {not_a_frame(path)}")
    inp = oiio.ImageInput.open(str(path))
    if inp is None:
        raise BadInputError(f"{path}: cannot be read ({_library_error(oiio)})")
    return inp


def not_a_frame(path: Path) -> str:
    """Why ``path``, which is not a regular file, cannot be a frame."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return "missing frame"
    if stat.S_ISDIR(mode):
        return "not a file but a folder"
    kind = "a fifo" if stat.S_ISFIFO(mode) else "a device or socket"
    return f"not a regular file but {kind}"


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Text in a damaged header (a channel or attribute name, a string value) need not be
    UTF-8, and OpenImageIO's Python binding fails to decode it: a damaged file, not a bug."""
    try:
        with _library_prints(path):
            yield
    except UnicodeDecodeError as exc:
        text = _decode(exc)[:80]
        raise BadInputError(f"{path}: damaged header (text that is not UTF-8: {text!r})") from None


_PRINTING = {".png": "libpng "}
"""Readers whose library prints its errors on stderr itself, and how its lines start:
libpng as OpenImageIO's wheels build it (OpenImageIO's own message repeats the text)."""
_STDERR = threading.Lock()


@contextlib.contextmanager
def _library_prints(path: Path) -> Iterator[None]:
    """For those readers, file descriptor 2 goes to a temporary file during the read: the
    library's lines are dropped (our error names the file and says the same), anything else
    written meanwhile (by another thread) is passed on. One such read at a time."""
    prefix = _PRINTING.get(path.suffix.lower())
    if prefix is None:
        yield
        return
    with _STDERR, tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            for line in sink.read().decode(errors="replace").splitlines(keepends=True):
                if not line.startswith(prefix):
                    sys.stderr.write(line)
            sys.stderr.flush()


def _check_size(path: Path, spec: oiio.ImageSpec) -> None:
    if spec.depth > 1:
        raise BadInputError(f"{path}: volume images are not supported")
    if not 0 < spec.width * spec.height <= MAX_FRAME_PIXELS:
        raise BadInputError(
            f"{path}: damaged header ({spec.width}x{spec.height} pixels; at most "
            f"{MAX_FRAME_PIXELS} are read)"
        )


def _part_specs(inp: oiio.ImageInput) -> list[oiio.ImageSpec]:
    """The header of every part (subimage) of an open file."""
    specs = []
    while inp.seek_subimage(len(specs), 0):
        specs.append(oiio.ImageSpec(inp.spec()))
    _library_error(inp)  # seeking past the last part sets an error; clear it
    return specs


def _indices(names: list[str], wanted: list[str]) -> tuple[int, int, int] | None:
    """Indices of ``wanted`` in ``names``: exact names, else ignoring case."""
    for fold in (False, True):
        keys = [n.lower() for n in names] if fold else names
        want = [w.lower() for w in wanted] if fold else wanted
        if all(w in keys for w in want):
            r, g, b = (keys.index(w) for w in want)
            return r, g, b
    return None


def _find(specs: list[oiio.ImageSpec], wanted: list[str]) -> list[tuple[int, tuple[int, int, int]]]:
    """(part, indices) of every part that has the channels ``wanted``."""
    return [
        (s, idx)
        for s, spec in enumerate(specs)
        if (idx := _indices(list(spec.channelnames), wanted))
    ]


def _channel_type(spec: oiio.ImageSpec, channel: int) -> oiio.BASETYPE:
    formats = spec.channelformats
    return (formats[channel] if formats else spec.format).basetype


def _plate_formats(plate: oiio.ImageSpec) -> list[oiio.TypeDesc]:
    """Half and float channels keep their type (so the plate is copied bit for bit);
    anything else is stored as float."""
    formats = list(plate.channelformats) or [plate.format] * plate.nchannels
    return [
        oiio.TypeDesc(oiio.HALF) if f.basetype == oiio.BASETYPE.HALF else oiio.TypeDesc("float")
        for f in formats
    ]


def _library_error(source: object, default: str = "unknown error") -> str:
    """The pending error of OpenImageIO (the module) or of one of its readers or writers,
    on one line. Its messages quote bytes of a damaged file, which need not be UTF-8: the
    binding then fails to decode them, and they are decoded here with replacement
    characters instead."""
    get: Callable[[], str] = source.geterror  # type: ignore[attr-defined]
    try:
        message = get()
    except UnicodeDecodeError as exc:
        message = _decode(exc)
    return " ".join(message.split()) or default


def _decode(exc: UnicodeDecodeError) -> str:
    raw = exc.object
    return bytes(raw).decode("utf-8", "replace") if raw is not None else ""
