"""Numbered file sequences and frame ranges as hosts name them.

``FramePattern.parse`` reads one frame token in a file name: ``####`` (one digit each, as
Nuke and Blender write it), ``@@@@``, printf's ``%04d`` / ``%d``, or Houdini's ``$F4`` /
``$F``. ``FramePattern.of_file`` reads the frame number of one file of a sequence, as
Blender does (the last run of digits). ``parse_range`` reads "1001-1100" or "1050".
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

_TOKEN = re.compile(r"#+|@+|%0?(\d*)d|\$F(\d*)")
_RANGE = re.compile(r"(-?\d+)(?:\s*-\s*(-?\d+))?")


@dataclass(frozen=True)
class FramePattern:
    """A numbered file sequence: ``prefix`` + frame + ``suffix``.

    padding: digits; frames with more digits are written in full (printf's ``%0Nd``).
    """

    prefix: str
    padding: int
    suffix: str

    @classmethod
    def parse(cls, path: str) -> FramePattern:
        """``/a/plate.####.exr``, ``/a/plate.%04d.exr``, ``/a/plate.%d.exr``, ``/a/p_$F4.exr``.
        ``ValueError`` when the file name has no frame token or more than one."""
        head, name = os.path.split(path)
        tokens = list(_TOKEN.finditer(name))
        if not tokens:
            raise ValueError(f"{path!r} has no frame number: use #### or %04d in the file name")
        if len(tokens) > 1:
            raise ValueError(f"{path!r} has {len(tokens)} frame numbers; use one")
        token = tokens[0]
        text = token.group(0)
        digits = token.group(1) or token.group(2)
        padding = len(text) if text[0] in "#@" else int(digits or 1)
        prefix = os.path.join(head, name[: token.start()]) if head else name[: token.start()]
        return cls(prefix, padding, name[token.end() :])

    @classmethod
    def of_file(cls, path: str) -> tuple[FramePattern, int]:
        """The sequence of one of its files and that file's frame, from the last run of
        digits of the file name: "/a/plate_v2.0001.exr" → (/a/plate_v2.####.exr, 1).
        ``ValueError`` when the file name has no digits."""
        folder, name = os.path.split(path)
        match = re.match(r"^(.*?)(\d+)(\D*)$", name)
        if match is None:
            raise ValueError(f"{path}: no frame number in the file name")
        head, digits, tail = match.groups()
        return cls(os.path.join(folder, head), len(digits), tail), int(digits)

    def frame(self, frame: int) -> str:
        """The file of one frame."""
        return f"{self.prefix}{frame:0{self.padding}d}{self.suffix}"

    def hashes(self) -> str:
        """``####`` form (Nuke's file knob, Blender, ``core.batch`` patterns)."""
        return f"{self.prefix}{'#' * self.padding}{self.suffix}"

    def printf(self) -> str:
        return f"{self.prefix}%0{self.padding}d{self.suffix}"

    def explicit_range(self, first: int, last: int) -> str:
        """fileseq's explicit-range form, ``/shot/plate.997-1003@@@@.exr`` (one ``@`` per
        digit): for ``core.batch`` the shot is exactly these frames."""
        if last < first:
            raise ValueError(f"frame range {first}-{last} is empty")
        frames = f"{first}-{last}" if last > first else f"{first}"
        return f"{self.prefix}{frames}{'@' * self.padding}{self.suffix}"

    def owns(self, path: str) -> int | None:
        """The frame number if ``path`` is one of this sequence's files, else None."""
        pattern = re.escape(self.prefix) + r"(-?\d+)" + re.escape(self.suffix) + r"\Z"
        m = re.match(pattern, path)
        if m is None or self.frame(int(m.group(1))) != path:
            return None
        return int(m.group(1))


def parse_range(text: str) -> tuple[int, int]:
    """ "1001-1100" → (1001, 1100); "1050" → (1050, 1050). ``ValueError`` otherwise, or when
    the last frame comes before the first."""
    m = _RANGE.fullmatch(text.strip())
    if not m:
        raise ValueError(f"frames must look like 1001-1100 or 1050, got {text!r}")
    first = int(m.group(1))
    last = int(m.group(2)) if m.group(2) is not None else first
    if last < first:
        raise ValueError(f"frames {text!r}: the last frame comes before the first")
    return first, last


def range_text(first: int, last: int) -> str:
    """(1001, 1100) → "1001-1100", the form ``core.batch --frames`` takes."""
    return f"{first}-{last}"
