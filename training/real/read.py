"""Decoding the cached files: stills as RGB arrays, videos (mp4, webm, gif) as RGB frame stacks."""

from __future__ import annotations

import cv2
import numpy as np

from training.real.manifest import Item


class ReadError(ValueError):
    """A cached file is missing or cannot be decoded; the message names the item."""


def _resize(frame: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    if size is None:
        return frame
    h, w = size
    shrinking = h * w < frame.shape[0] * frame.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(frame, (w, h), interpolation=interpolation)


_ROTATIONS = {
    90: cv2.ROTATE_90_CLOCKWISE,
    180: cv2.ROTATE_180,
    270: cv2.ROTATE_90_COUNTERCLOCKWISE,
}


def _upright(frame: np.ndarray, item: Item) -> np.ndarray:
    """``frame`` turned by the manifest's ``rotate`` (pictures stored on their side)."""
    return cv2.rotate(frame, _ROTATIONS[item.rotate]) if item.rotate else frame


def _missing(item: Item) -> ReadError:
    return ReadError(f"{item.id}: {item.path} is not there; run `python -m training.real fetch`")


def read_image(item: Item, size: tuple[int, int] | None = None) -> np.ndarray:
    """The still ``item`` as (H, W, 3) uint8 RGB (sRGB, alpha dropped), upright, resized to
    ``size = (H, W)`` when given. A video gives its first frame."""
    if not item.path.is_file():
        raise _missing(item)
    if item.kind == "video":
        return read_video(item, max_frames=1, size=size)[0]
    image = cv2.imread(str(item.path), cv2.IMREAD_COLOR)
    if image is None:
        # Formats imread lacks (gif before OpenCV 4.11) still decode through VideoCapture.
        capture = cv2.VideoCapture(str(item.path))
        ok, image = capture.read()
        capture.release()
        if not ok:
            raise ReadError(f"{item.id}: {item.path} cannot be decoded as an image")
    return np.ascontiguousarray(_resize(_upright(image, item), size)[..., ::-1])


def read_video(
    item: Item,
    max_frames: int | None = None,
    size: tuple[int, int] | None = None,
    start: int = 0,
    step: int = 1,
) -> np.ndarray:
    """Frames ``start``, ``start + step``, ... of ``item`` (at most ``max_frames``; all when
    None) as (T, H, W, 3) uint8 RGB, upright, resized to ``size = (H, W)`` when given, decoded
    with ``cv2.VideoCapture``."""
    if not item.path.is_file():
        raise _missing(item)
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"{item.id}: max_frames must be 1 or more, got {max_frames}")
    if start < 0 or step < 1:
        raise ValueError(f"{item.id}: start must be 0 or more and step 1 or more")
    capture = cv2.VideoCapture(str(item.path))
    frames = []
    index = 0
    try:
        while max_frames is None or len(frames) < max_frames:
            if index < start or (index - start) % step:
                # skipped frames are demuxed and decoded but not converted (seeking is not
                # frame-exact for every codec)
                if not capture.grab():
                    break
            else:
                ok, frame = capture.read()
                if not ok:
                    break
                frames.append(_resize(_upright(frame, item), size)[..., ::-1])
            index += 1
    finally:
        capture.release()
    if not frames:
        raise ReadError(f"{item.id}: {item.path} has no frame {start} OpenCV can decode")
    return np.ascontiguousarray(np.stack(frames))


def video_info(item: Item) -> tuple[int, float, tuple[int, int]]:
    """(frame count, frames per second, (H, W) upright) as the container reports them."""
    if not item.path.is_file():
        raise _missing(item)
    capture = cv2.VideoCapture(str(item.path))
    try:
        if not capture.isOpened():
            raise ReadError(f"{item.id}: {item.path} cannot be opened as a video")
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = float(capture.get(cv2.CAP_PROP_FPS))
        h = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        w = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    finally:
        capture.release()
    return count, fps, ((w, h) if item.rotate in (90, 270) else (h, w))
