"""The render path: ``python -m core.batch`` on a Read's frames, in a background process.

Pure functions turn Nuke's file patterns (``plate.####.exr``, ``plate.%04d.exr``) and frame
ranges into the processor's command line; ``RenderJob`` runs it, reports progress from its
``--log-format json`` events, and cancels it. No ``nuke`` import here: nuke_ui.py holds the
knob callbacks, so everything in this module runs (and is tested) outside Nuke.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .client import events, frames, python, runner
from .client.command import BatchCommand
from .client.frames import FramePattern
from .client.runner import Progress

PYTHON_HINT = (
    f"set the gizmo's python knob or {python.PYTHON_ENV} to the Python that has memmatte installed"
)
CANCEL_GRACE = 5.0
"""Seconds the processor gets to finish its frame in flight before it is killed."""

__all__ = ["FramePattern", "Progress", "RenderJob", "RenderResult", "build_command"]


def nuke_pattern_to_batch_input(path: str, first: int, last: int) -> str:
    """A Read's file and frame range as the processor's input: fileseq's explicit-range form,
    ``/shot/plate.997-1003@@@@.exr`` (one ``@`` per digit), which defines the shot as exactly
    these frames, so frames before ``first`` are never read (the gizmo's native path holds
    the first frame the same way)."""
    return FramePattern.parse(path).explicit_range(first, last)


def default_matte_pattern(plate: str) -> str:
    """``/shot/plate.####.dpx`` → ``/shot/matte/plate.####.exr``: the processor's own default
    (a ``matte/`` folder beside the plate, the plate's names and padding)."""
    p = FramePattern.parse(plate)
    folder, stem = os.path.split(p.prefix)
    return FramePattern(os.path.join(folder, "matte", stem), p.padding, ".exr").hashes()


def resolve_python(knob_value: str = "", environ: Mapping[str, str] | None = None) -> str:
    """The interpreter: the gizmo's ``python`` knob, else $MEMMATTE_PYTHON, else python3."""
    return python.resolve_python(
        knob_value, environ, fallback="python3", where="the gizmo's python knob"
    )


def parse_frames(text: str, first: int, last: int) -> tuple[int, int]:
    """The ``frames`` knob ("1001-1100", "1050", empty for the Read's range) as (first, last)."""
    return frames.parse_range(text) if text.strip() else (first, last)


def build_command(
    python: str,
    plate: str,
    first: int,
    last: int,
    matte: str,
    *,
    frames: tuple[int, int] | None = None,
    weights: str = "",
    resume: bool = False,
    rgb: str = "foreground",
) -> list[str]:
    """The processor's command line for the shot ``plate`` frames first..last (a Read's
    range), rendering ``frames`` (default: all of them) into ``matte``; ``rgb``: the gizmo's
    *output* knob, the mattes' colour (``--rgb``: "foreground" or "plate")."""
    render_first, render_last = frames or (first, last)
    if not first <= render_first <= render_last <= last:
        raise ValueError(
            f"frames {render_first}-{render_last} reach outside the shot's {first}-{last}"
        )
    command = BatchCommand(
        (nuke_pattern_to_batch_input(plate, first, last),),
        output=FramePattern.parse(matte).printf(),
        frames=f"{render_first}-{render_last}",
        weights=weights.strip() or None,
        resume=resume,
        rgb=rgb,
        log_format="json",
    )
    return command.argv(python)


def child_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The processor's environment: Nuke's, without its Python settings (``PYTHONPATH``,
    ``PYTHONHOME``, ... are Nuke's or the studio's, for Nuke's Python: a studio path on
    PYTHONPATH would shadow the venv's numpy or torch). When this plugin runs from a
    memmatte checkout, the checkout is the only PYTHONPATH entry, so ``-m core.batch``
    finds it without an install."""
    env = {
        key: value
        for key, value in (os.environ if environ is None else environ).items()
        if not key.startswith("PYTHON")
    }
    root = Path(__file__).resolve().parents[3]
    if (root / "core" / "__init__.py").is_file():
        env["PYTHONPATH"] = str(root)
    env["PYTHONUNBUFFERED"] = "1"
    return env


# -- running the processor -----------------------------------------------------------------


@dataclass
class RenderResult:
    status: str  # "done", "cancelled" or "failed"
    frames_done: list[int] = field(default_factory=list)
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "done"


class RenderJob:
    """One run of the processor. ``run`` blocks (call it from a worker thread), ``cancel`` may
    come from any thread.

    A cancelled or failed run leaves no partial files: the processor's temporary files and any
    matte file it did not report finished are removed. Frames it reported finished stay: each
    is a complete, valid EXR (written to a temporary name, then renamed), and a second render
    with ``--resume`` starts after them.
    """

    def __init__(
        self,
        command: Sequence[str],
        matte: str,
        frames: Iterable[int],
        *,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.command = list(command)
        self.matte = FramePattern.parse(matte)
        self.frames = list(frames)
        self.env = child_environment() if env is None else dict(env)
        self.process: runner.Process | None = None
        self.events: list[events.Event] = []
        self._cancel = threading.Event()
        self._done: set[int] = set()
        self._folder = Path(self.matte.prefix).parent
        self._before: set[str] = set()
        self._made_folder = False

    # -- public ----------------------------------------------------------------------------

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def run(
        self,
        on_progress: Callable[[Progress], None] | None = None,
        is_cancelled: Callable[[], bool] | None = None,
        poll: float = 0.1,
    ) -> RenderResult:
        """Runs the processor to the end, or until ``cancel()`` or ``is_cancelled()``.
        ``on_progress`` is called from this thread for each of its progress events."""
        try:
            self._made_folder = not self._folder.exists()
            self._folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            return RenderResult("failed", error=f"cannot create {self._folder}: {error}")
        self._before = set(os.listdir(self._folder))
        self.process = runner.Process(self.command, env=self.env, grace=CANCEL_GRACE)
        try:
            self.process.start()
        except OSError as error:  # the interpreter is missing or cannot run
            self._remove_partial_files()
            return RenderResult(
                "failed",
                error=f"cannot run {self.command[0]} ({error.strerror or error}); {PYTHON_HINT}",
            )
        total = len(self.frames)

        def on_event(event: events.Event) -> None:
            self.events.append(event)
            progress = self._progress(event, total)
            if progress is not None and on_progress is not None:
                on_progress(progress)

        def should_stop() -> bool:
            return self.cancelled or (is_cancelled is not None and is_cancelled())

        outcome = self.process.follow(on_event, should_stop, poll)
        if outcome.cancelled or self.cancelled:
            self._cancel.set()
            return self._finish("cancelled", "cancelled")
        if not outcome.ok:
            error = runner.explain_failure(
                outcome, python=self.command[0], hint=PYTHON_HINT, label="core.batch"
            )
            return self._finish("failed", error)
        return self._finish("done", "")

    def _progress(self, event: events.Event, total: int) -> Progress | None:
        if isinstance(event, events.ShotStart):
            return Progress("running", done=0, total=event.total, message="rendering")
        if isinstance(event, events.Resume):
            return Progress(
                "running", done=0, total=total, message=f"{event.done} frames already complete"
            )
        if isinstance(event, events.Frame):
            self._done.add(event.frame)
            return Progress(
                "running", done=event.done, total=event.total, message=f"frame {event.frame}"
            )
        return None

    # -- internals -------------------------------------------------------------------------

    def _finish(self, status: str, error: str) -> RenderResult:
        if status != "done":
            self._remove_partial_files()
        return RenderResult(status, sorted(self._done), error)

    def _remove_partial_files(self) -> None:
        """Removes every file this run added to the matte folder that is not a frame it
        reported finished (its temporary files included)."""
        # The killed process may still be closing files; wait for it before looking.
        deadline = time.monotonic() + 5.0
        while (
            self.process is not None
            and self.process.pid is not None
            and self.process.poll() is None
        ):
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        for name in sorted(set(os.listdir(self._folder)) - self._before):
            path = self._folder / name
            frame = self.matte.owns(str(path))
            if frame is not None and frame in self._done:
                continue
            if path.is_file() or path.is_symlink():
                with contextlib.suppress(FileNotFoundError):  # unlink(missing_ok): 3.8+
                    path.unlink()
        if self._made_folder and not any(self._folder.iterdir()):
            self._folder.rmdir()
