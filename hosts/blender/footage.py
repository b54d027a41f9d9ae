"""The footage feeding a Memmatte node, and which of its frames a scene needs.

``find_footage`` follows the node's Image input upstream (through reroutes and muted
nodes) to an Image node holding an image sequence or a movie, or to a Movie Clip node, and
describes it as a ``Footage``. ``plan_frames`` decides how the worker gets those frames:

* an OpenEXR sequence in linear Rec.709 (Blender's default for EXR) is read by the batch
  processor directly, and the matte sequence takes the footage's frame numbers;
* anything else (movies, clips, PNG/JPEG/TIFF sequences, other colour spaces) is first
  rendered by a background Blender to linear EXR frames numbered by scene frame, so the
  network sees exactly what the compositor shows.

Everything here except ``find_footage`` is plain Python, so tests can check the frame maths
without Blender.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

from .client import frames

LINEAR_REC709 = ("Linear Rec.709", "Linear")
"""Colour-space names Blender gives linear Rec.709 (4.x and 5.x; "Linear" before 4.0)."""


class FootageError(ValueError):
    """The node has no footage memmatte can read; the message says what to change."""


@dataclass(frozen=True)
class ImageUser:
    """How an Image node maps a scene frame to a file or movie frame number (Blender's
    ImageUser: ``frame_start``, ``frame_offset``, ``frame_duration``, ``use_cyclic``)."""

    frame_start: int
    frame_offset: int
    frame_duration: int
    cyclic: bool = False

    def number(self, scene_frame: int) -> int:
        """The file (sequence) or 1-based movie frame number Blender shows at ``scene_frame``;
        a port of ``BKE_image_user_frame_get``: before the start it gives ``offset`` (a frame
        that usually does not exist), after the end it holds the last frame."""
        length = self.frame_duration
        if length <= 0:
            return 0
        frame = scene_frame - self.frame_start + 1
        if self.cyclic:
            frame %= length
            if frame == 0:
                frame = length
        frame = min(max(frame, 0), length)
        return frame + self.frame_offset

    def scene_range(self) -> tuple[int, int] | None:
        """Scene frames that show a footage frame of their own (None: every frame, cyclic)."""
        if self.cyclic:
            return None
        return self.frame_start, self.frame_start + self.frame_duration - 1


@dataclass(frozen=True)
class Footage:
    """What feeds a Memmatte node.

    kind: "sequence" or "movie" (an Image node) or "clip" (a Movie Clip node).
    filepath: absolute path of the movie, or of any one file of the sequence.
    user: the scene-frame → footage-frame mapping of the node (for a clip: its start frame
    and offset, with the clip's duration).
    """

    node_name: str
    kind: str
    filepath: str
    colorspace: str
    user: ImageUser

    @property
    def direct(self) -> bool:
        """True when the batch processor can read the files as they are."""
        return (
            self.kind == "sequence"
            and self.filepath.lower().endswith(".exr")
            and self.colorspace in LINEAR_REC709
        )


@dataclass(frozen=True)
class FramePlan:
    """Which frames to matte and how the node reads the result back.

    scene_frames: first and last scene frame with footage in the scene's range.
    input_frames: first and last frame number the batch processor reads (file numbers of a
    direct sequence, otherwise scene frames of the rendered frames).
    matte_user: the ImageUser of the inner Image node that reads the matte sequence.
    """

    scene_frames: tuple[int, int]
    input_frames: tuple[int, int]
    matte_user: ImageUser


def split_frame_number(path: str) -> tuple[str, str, str]:
    """(head, digits, tail) around the last run of digits of a file name, as Blender reads
    sequence numbers: "/a/plate_v2.0001.exr" → ("/a/plate_v2.", "0001", ".exr")."""
    pattern, number = _sequence(path)
    return pattern.prefix, f"{number:0{pattern.padding}d}", pattern.suffix


def sequence_path(path: str, number: int) -> str:
    """The file of frame ``number`` in the sequence that ``path`` belongs to."""
    return _sequence(path)[0].frame(number)


def hash_pattern(path: str) -> str:
    """The sequence of ``path`` with one ``#`` per digit: "/a/plate.0001.exr" → "/a/plate.####.exr"."""
    return _sequence(path)[0].hashes()


def _sequence(path: str) -> tuple[frames.FramePattern, int]:
    try:
        return frames.FramePattern.of_file(path)
    except ValueError:
        raise FootageError(
            f"{path}: no frame number in the file name of this image sequence"
        ) from None


def plan_frames(footage: Footage, scene_start: int, scene_end: int) -> FramePlan:
    """The frames to matte for scene frames ``scene_start``..``scene_end``."""
    first, last = scene_start, scene_end
    content = footage.user.scene_range()
    if content is not None:
        first, last = max(first, content[0]), min(last, content[1])
    if first > last:
        raise FootageError(
            f"'{footage.node_name}' has no frames in the scene's range {scene_start}-{scene_end} "
            f"(its footage covers scene frames {content[0]}-{content[1]})"
        )
    if footage.direct:
        numbers = {footage.user.number(f) for f in range(first, last + 1)}
        return FramePlan((first, last), (min(numbers), max(numbers)), footage.user)
    if first < 0:
        raise FootageError(
            f"scene frame {first}: memmatte numbers rendered frames by scene frame, which "
            "must not be negative; start the scene at frame 0 or later"
        )
    user = ImageUser(frame_start=first, frame_offset=first - 1, frame_duration=last - first + 1)
    return FramePlan((first, last), (first, last), user)


def missing_files(footage: Footage, first: int, last: int) -> list[str]:
    """Files of a sequence's frames ``first``..``last`` that are not on disk."""
    paths = (sequence_path(footage.filepath, n) for n in range(first, last + 1))
    return [p for p in paths if not os.path.isfile(p)]


# -- Blender side ----------------------------------------------------------------------


def _upstream(socket: Any) -> Any | None:
    """The node that feeds ``socket``, through reroutes and muted nodes."""
    seen = set()
    while socket.is_linked:
        link = socket.links[0]
        node = link.from_node
        if node.as_pointer() in seen:
            return None
        seen.add(node.as_pointer())
        if node.bl_idname == "NodeReroute" or node.mute:
            inputs = [s for s in node.inputs if s.enabled and not getattr(s, "is_unavailable", 0)]
            if not inputs:
                return node
            socket = inputs[0]
            continue
        return node
    return None


def find_footage(node: Any) -> Footage:
    """The footage linked to a Memmatte node's Image input; ``FootageError`` says what is
    wrong when there is none memmatte can read."""
    import bpy

    source = _upstream(node.inputs["Image"])
    if source is None:
        raise FootageError(
            f"'{node.name}' has no footage: link an Image node (image sequence or movie) or "
            "a Movie Clip node to its Image input"
        )
    if source.bl_idname == "CompositorNodeImage":
        image = source.image
        if image is None:
            raise FootageError(f"the Image node '{source.name}' feeding '{node.name}' has no image")
        if image.source not in ("SEQUENCE", "MOVIE"):
            raise FootageError(
                f"'{image.name}' in '{source.name}' is a single image, not footage: set the "
                "image's source to Image Sequence or Movie"
            )
        if image.packed_file is not None:
            raise FootageError(
                f"'{image.name}' is packed into the .blend; unpack it to files first"
            )
        user = ImageUser(
            source.frame_start, source.frame_offset, source.frame_duration, source.use_cyclic
        )
        kind = "sequence" if image.source == "SEQUENCE" else "movie"
        filepath = bpy.path.abspath(image.filepath, library=image.library)
        colorspace = image.colorspace_settings.name
    elif source.bl_idname == "CompositorNodeMovieClip":
        clip = source.clip
        if clip is None:
            raise FootageError(
                f"the Movie Clip node '{source.name}' feeding '{node.name}' has no clip"
            )
        user = ImageUser(
            clip.frame_start, clip.frame_offset, clip.frame_duration - clip.frame_offset
        )
        kind = "clip"
        filepath = bpy.path.abspath(clip.filepath, library=clip.library)
        colorspace = clip.colorspace_settings.name
    else:
        raise FootageError(
            f"'{node.name}' is fed by '{source.name}' ({source.bl_label}); memmatte reads the "
            "footage itself, so link an Image or Movie Clip node straight to its input "
            "(reroutes are fine) and grade after the Memmatte node"
        )
    if user.frame_duration < 1:
        raise FootageError(f"'{source.name}' has no frames (frame duration {user.frame_duration})")
    path_ok = (
        os.path.isfile(filepath) if kind != "sequence" else os.path.isdir(os.path.dirname(filepath))
    )
    if not path_ok:
        raise FootageError(f"'{source.name}': footage file {filepath} does not exist")
    return Footage(node.name, kind, os.path.normpath(filepath), colorspace, user)


# -- what a matte was computed from ------------------------------------------------------

_DIGESTS: dict[tuple[str, int, int], str] = {}
SAMPLE_BYTES = 1 << 16


def file_digest(path: str) -> str:
    """A hash of a file's size and its first and last 64 KiB: changes when the file is
    replaced by other footage, not when it is copied, synced or moved (as a full hash would
    not either, but this reads 128 KiB however large the frame). Cached per size and mtime,
    so a render that checks every frame reads each file once."""
    stat = os.stat(path)
    key = (os.path.abspath(path), stat.st_size, stat.st_mtime_ns)
    digest = _DIGESTS.get(key)
    if digest is None:
        h = hashlib.sha256(str(stat.st_size).encode())
        with open(path, "rb") as f:
            h.update(f.read(SAMPLE_BYTES))
            if stat.st_size > 2 * SAMPLE_BYTES:
                f.seek(-SAMPLE_BYTES, os.SEEK_END)
                h.update(f.read(SAMPLE_BYTES))
        digest = _DIGESTS[key] = h.hexdigest()
    return digest


def footage_files(footage: Footage, plan: FramePlan) -> list[str]:
    """The files the matte of ``plan`` is computed from."""
    if footage.kind != "sequence":
        return [footage.filepath]
    if footage.direct:
        numbers = range(plan.input_frames[0], plan.input_frames[1] + 1)
    else:
        first, last = plan.scene_frames
        numbers = sorted({footage.user.number(f) for f in range(first, last + 1)})
    return [sequence_path(footage.filepath, n) for n in numbers]


def footage_key(footage: Footage, plan: FramePlan) -> str:
    """What a matte depends on in the footage: its kind, colour space, frame mapping, the
    frames planned, and each file's name and ``file_digest`` (not its folder, so a synced
    copy of footage and cache on another machine keeps the key). ``FootageError`` names a
    missing file."""
    files = []
    for path in footage_files(footage, plan):
        if not os.path.isfile(path):
            raise FootageError(f"'{footage.node_name}': footage file {path} is missing")
        files.append((os.path.basename(path), file_digest(path)))
    data = {
        "kind": footage.kind,
        "colorspace": footage.colorspace,
        "user": dataclasses.asdict(footage.user),
        "scene_frames": list(plan.scene_frames),
        "input_frames": list(plan.input_frames),
        "files": files,
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
