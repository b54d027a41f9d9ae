"""Image sequences on disk: command-line arguments → shots, and a shot's output paths.

Arguments may be globs (``shots/*.exr``, also what a shell expands them to), single files,
folders, or sequence patterns in any syntax fileseq parses: ``plate.####.exr``,
``plate.%04d.exr``, ``plate.@@@@.exr``, ``plate.$F4.exr``, or an explicit range
``plate.1001-1100#.exr``. Files are grouped into shots by fileseq; the padding of the files
on disk wins over the padding written in a pattern.

A shot's frames are every frame from its first to its last at its step (the greatest common
divisor of the gaps between the frames found), so a frame missing in the middle of a shot is
reported as missing instead of silently shifting the memory pre-roll. An explicit range
defines the shot exactly.
"""

from __future__ import annotations

import dataclasses
import glob
import itertools
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import fileseq

from hosts.exr.errors import BadInputError, UsageError

_GLOB_CHARS = set("*?[")
CONTAINERS = (".exr", ".png", ".tif", ".tiff")
"""Output file types, by extension: EXR (float), else 16-bit integer PNG or TIFF."""


@cache
def readable_extensions() -> frozenset[str]:
    """Lower-case file extensions (with the dot) that this OpenImageIO build reads."""
    import OpenImageIO as oiio

    exts = set()
    for entry in oiio.get_string_attribute("extension_list").split(";"):
        _, _, names = entry.partition(":")
        exts.update("." + n.lower() for n in names.split(",") if n)
    return frozenset(exts)


@dataclass(frozen=True)
class Shot:
    """One image sequence: ``dirname + basename + frame (zero-padded to zfill) + extension``.

    frames: the shot's frame numbers in order (first to last at a constant step). A single
    file without a frame number is a one-frame shot with ``numbered=False``.
    only: the frames to write when the shot was named by some of its files
    (``plate.1007.exr``): the others are read only as those frames' memory. None: all.
    """

    dirname: str
    basename: str
    extension: str
    zfill: int
    frames: tuple[int, ...]
    numbered: bool = True
    only: tuple[int, ...] | None = None

    def path(self, frame: int) -> Path:
        if not self.numbered:
            return Path(f"{self.dirname}{self.basename}{self.extension}")
        return Path(f"{self.dirname}{self.basename}{frame:0{self.zfill}d}{self.extension}")

    def paths(self) -> list[Path]:
        return [self.path(f) for f in self.frames]

    @property
    def first(self) -> int:
        return self.frames[0]

    @property
    def last(self) -> int:
        return self.frames[-1]

    @property
    def step(self) -> int:
        return self.frames[1] - self.frames[0] if len(self.frames) > 1 else 1

    @property
    def name(self) -> str:
        """``plate.####.exr (1001-1100)``: how logs and messages name the shot."""
        if not self.numbered:
            return f"{self.dirname}{self.basename}{self.extension}"
        hashes = "#" * max(self.zfill, 1)
        frames = f"{self.first}-{self.last}" if len(self.frames) > 1 else f"{self.first}"
        if self.step != 1:
            frames += f"x{self.step}"
        name = f"{self.dirname}{self.basename}{hashes}{self.extension} ({frames})"
        if self.only is not None:
            name += f", frame{'s' if len(self.only) > 1 else ''} {_ranges(self.only)}"
        return name

    def pattern(self) -> str:
        """The shot as one explicit-range pattern, e.g. ``/shots/plate.1001-1100@@@@.exr``;
        ``find_shots([shot.pattern()])`` returns this same shot (used by farm templates)."""
        if not self.numbered:
            return f"{self.dirname}{self.basename}{self.extension}"
        frames = f"{self.first}-{self.last}" if len(self.frames) > 1 else f"{self.first}"
        if self.step != 1:
            frames += f"x{self.step}"
        return f"{self.dirname}{self.basename}{frames}{'@' * max(self.zfill, 1)}{self.extension}"

    def index(self, frame: int) -> int:
        """The position of ``frame`` in the shot (the session's index)."""
        offset = frame - self.first
        if offset % self.step or not 0 <= offset // self.step < len(self.frames):
            raise UsageError(f"frame {frame} is not part of the shot {self.name}")
        return offset // self.step


def find_shots(arguments: Sequence[str]) -> list[Shot]:
    """Every shot the arguments name, in the order first named. Raises ``BadInputError``
    when an argument matches no file, ``UsageError`` for an unparsable pattern."""
    shots: dict[tuple[str, str, str], Shot] = {}
    loose: list[str] = []
    on_disk: dict[str, fileseq.FileSequence | None] = {}
    for arg in arguments:
        if _GLOB_CHARS & set(arg):
            matches = [m for m in sorted(glob.glob(arg)) if _is_image(m)]
            if not matches:
                raise BadInputError(f"{arg}: no image files match")
            loose.extend(matches)
        elif os.path.isdir(arg):
            matches = [
                str(p) for p in sorted(Path(arg).iterdir()) if p.is_file() and _is_image(str(p))
            ]
            if not matches:
                raise BadInputError(f"{arg}: the folder holds no image files")
            loose.extend(matches)
        elif os.path.isfile(arg):
            framed = _frame_of_sequence(arg, on_disk)
            if framed is None:
                loose.append(arg)
            else:
                _add(shots, framed)
        elif _has_padding(arg):
            _add(shots, _pattern_shot(arg))
        else:
            raise BadInputError(f"{arg}: no such file")
    for seq in fileseq.findSequencesInList(loose):
        _add(shots, _disk_shot(seq))
    # Every file of a sequence named one by one (what a shell expands shots/*.exr to) is the
    # whole sequence.
    return [
        dataclasses.replace(s, only=None) if s.only is not None and s.only == s.frames else s
        for s in shots.values()
    ]


def output_shot(shot: Shot, pattern: str | None) -> Shot:
    """Where ``shot``'s mattes go: ``pattern`` formatted for this shot, as a shot with the
    same frame numbers.

    pattern: None → a ``matte/`` folder beside the plate, same base name, ``.exr``. Else a
    path that may contain ``{dir}`` (the plate's folder) and ``{name}`` (its base name
    without the trailing ``.`` or ``_``), and a frame number in any of ``####`` (one digit
    per ``#`` or ``@``, as in Nuke), ``%04d`` or ``$F4``. A pattern ending in ``/`` or naming
    an existing folder keeps the plate's file names.
    """
    if pattern is None:
        return Shot(
            f"{shot.dirname}matte{os.sep}" if shot.dirname else f"matte{os.sep}",
            shot.basename,
            ".exr",
            shot.zfill,
            shot.frames,
            shot.numbered,
            shot.only,
        )
    folder = shot.dirname.rstrip("/\\") or "."
    try:
        text = pattern.format(dir=folder, name=shot.basename.rstrip("._-") or shot.basename)
    except (KeyError, IndexError, ValueError) as exc:
        raise UsageError(
            f"--output {pattern!r}: unknown placeholder {exc}; use {{dir}} and {{name}}"
        ) from exc
    if text.endswith(("/", os.sep)) or os.path.isdir(text):
        base = os.path.join(text, "")
        return Shot(base, shot.basename, ".exr", shot.zfill, shot.frames, shot.numbered, shot.only)
    try:
        seq = fileseq.FileSequence(text, pad_style=fileseq.PAD_STYLE_HASH1)
    except fileseq.ParseException as exc:
        raise UsageError(f"--output {pattern!r}: not a path pattern ({exc})") from exc
    if seq.extension().lower() not in CONTAINERS:
        raise UsageError(
            f"--output {pattern!r}: mattes are written as EXR, PNG or TIFF; end it in .exr "
            "(scene-linear float), .png or .tif (16-bit, the plate's encoding)"
        )
    if seq.frameSet() is not None:
        raise UsageError(f"--output {pattern!r}: give a padding (####), not a frame range")
    numbered = bool(seq.padding())
    if not numbered and len(shot.only or shot.frames) > 1:
        raise UsageError(
            f"--output {pattern!r}: {shot.name} has {len(shot.frames)} frames; "
            "the output pattern needs a frame number such as ####"
        )
    return Shot(
        seq.dirname(),
        seq.basename(),
        seq.extension(),
        seq.zfill(),
        shot.frames,
        numbered,
        shot.only,
    )


# -- internals ---------------------------------------------------------------------------


def _is_image(path: str) -> bool:
    name = os.path.basename(path)
    return (
        not name.startswith(".")
        and os.path.isfile(path)
        and os.path.splitext(name)[1].lower() in readable_extensions()
    )


def _has_padding(arg: str) -> bool:
    try:
        return bool(fileseq.FileSequence(arg).padding())
    except fileseq.ParseException:
        return False


def _pattern_shot(pattern: str) -> Shot:
    try:
        seq = fileseq.FileSequence(pattern)
    except fileseq.ParseException as exc:
        raise UsageError(f"{pattern}: not a sequence pattern ({exc})") from exc
    try:
        on_disk = fileseq.findSequenceOnDisk(pattern)
    except fileseq.FileSeqException:
        on_disk = None
    explicit = seq.frameSet()
    if explicit is not None:
        # An explicit range is the shot, whatever else is on disk; missing frames are
        # reported when they are needed.
        zfill = on_disk.zfill() if on_disk is not None else len(str(explicit.start()))
        return Shot(seq.dirname(), seq.basename(), seq.extension(), zfill, tuple(explicit), True)
    if on_disk is None:
        raise BadInputError(f"{pattern}: no frames on disk match")
    return _disk_shot(on_disk)


def _disk_shot(seq: fileseq.FileSequence) -> Shot:
    frameset = seq.frameSet()
    if frameset is None or not seq.padding():
        return Shot(seq.dirname(), seq.basename(), seq.extension(), 0, (0,), numbered=False)
    return Shot(seq.dirname(), seq.basename(), seq.extension(), seq.zfill(), _full_range(frameset))


def _frame_of_sequence(path: str, on_disk: dict) -> Shot | None:
    """``plate.1007.exr`` as frame 1007 of the sequence on disk it belongs to (so its matte
    has frames 1005 and 1006 as memory, as in a whole-shot run), or None when the file has
    no ``.1007``/``_1007`` frame number or is alone."""
    try:
        seq = fileseq.FileSequence(path)
    except fileseq.ParseException:
        return None
    frames = seq.frameSet()
    if frames is None or not seq.padding() or not seq.basename().endswith((".", "_")):
        return None
    pattern = f"{seq.dirname()}{seq.basename()}{'@' * seq.zfill()}{seq.extension()}"
    if pattern not in on_disk:
        try:
            on_disk[pattern] = fileseq.findSequenceOnDisk(pattern)
        except fileseq.FileSeqException:
            on_disk[pattern] = None
    found = on_disk[pattern]
    if found is None or len(found) < 2:
        return None
    shot = _disk_shot(found)
    return dataclasses.replace(shot, only=tuple(frames))


def _ranges(frames: tuple[int, ...]) -> str:
    return str(fileseq.FrameSet(list(frames)))


def _full_range(found: Iterable[int]) -> tuple[int, ...]:
    frames = sorted(set(found))
    step = 0
    for a, b in itertools.pairwise(frames):
        step = math.gcd(step, b - a)
    return tuple(range(frames[0], frames[-1] + 1, step or 1))


def _add(shots: dict[tuple[str, str, str], Shot], shot: Shot) -> None:
    key = (os.path.abspath(shot.dirname or "."), shot.basename, shot.extension)
    known = shots.get(key)
    if known is None:
        shots[key] = shot
    elif known.numbered and shot.numbered:
        frames = _full_range(known.frames + shot.frames)
        only = None
        if known.only is not None and shot.only is not None:
            only = tuple(sorted(set(known.only + shot.only)))
        shots[key] = Shot(
            known.dirname, known.basename, known.extension, known.zfill, frames, True, only
        )
