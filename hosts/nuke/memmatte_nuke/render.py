"""The render path: ``python -m core.batch`` on a Read's frames, in a background process.

Pure functions turn Nuke's file patterns (``plate.####.exr``, ``plate.%04d.exr``) and frame
ranges into the processor's command line; ``RenderJob`` runs it, reports progress from its
``--log-format json`` events, and cancels it. No ``nuke`` import here: nuke_ui.py holds the
knob callbacks, so everything in this module runs (and is tested) outside Nuke.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PYTHON = "python3"
PYTHON_ENV = "MEMMATTE_PYTHON"

# One frame token in the file name: Nuke's '#' (one digit each) or printf '%d' / '%0Nd'.
_FRAME_TOKEN = re.compile(r"#+|%0?(\d*)d")


@dataclass(frozen=True)
class FramePattern:
    """A numbered file sequence as Nuke names it: ``prefix`` + frame + ``suffix``."""

    prefix: str
    padding: int  # digits; frames with more digits are written in full
    suffix: str

    @classmethod
    def parse(cls, path: str) -> FramePattern:
        """``/a/plate.####.exr``, ``/a/plate.%04d.exr``, ``/a/plate.%d.exr``, ``/a/p_#.exr``."""
        head, name = os.path.split(path)
        tokens = list(_FRAME_TOKEN.finditer(name))
        if not tokens:
            raise ValueError(f"{path!r} has no frame number: use #### or %04d in the file name")
        if len(tokens) > 1:
            raise ValueError(f"{path!r} has {len(tokens)} frame numbers; use one")
        token = tokens[0]
        text = token.group(0)
        padding = len(text) if text.startswith("#") else int(token.group(1) or 1)
        prefix = os.path.join(head, name[: token.start()]) if head else name[: token.start()]
        return cls(prefix, padding, name[token.end() :])

    def frame(self, frame: int) -> str:
        """The file of one frame, as printf's ``%0Nd`` writes it."""
        return f"{self.prefix}{frame:0{self.padding}d}{self.suffix}"

    def hashes(self) -> str:
        """Nuke's ``####`` form, what a Read node's file knob shows."""
        return f"{self.prefix}{'#' * self.padding}{self.suffix}"

    def printf(self) -> str:
        return f"{self.prefix}%0{self.padding}d{self.suffix}"

    def owns(self, path: str) -> int | None:
        """The frame number if ``path`` is one of this sequence's files, else None."""
        pattern = re.escape(self.prefix) + r"(-?\d+)" + re.escape(self.suffix) + r"\Z"
        m = re.match(pattern, path)
        if m is None or self.frame(int(m.group(1))) != path:
            return None
        return int(m.group(1))


def nuke_pattern_to_batch_input(path: str, first: int, last: int) -> str:
    """A Read's file and frame range as the processor's input: fileseq's explicit-range form,
    ``/shot/plate.997-1003@@@@.exr`` (one ``@`` per digit), which defines the shot as exactly
    these frames, so frames before ``first`` are never read (the gizmo's native path holds
    the first frame the same way)."""
    if last < first:
        raise ValueError(f"frame range {first}-{last} is empty")
    p = FramePattern.parse(path)
    frames = f"{first}-{last}" if last > first else f"{first}"
    return f"{p.prefix}{frames}{'@' * p.padding}{p.suffix}"


def default_matte_pattern(plate: str) -> str:
    """``/shot/plate.####.dpx`` → ``/shot/matte/plate.####.exr``: the processor's own default
    (a ``matte/`` folder beside the plate, the plate's names and padding)."""
    p = FramePattern.parse(plate)
    folder, stem = os.path.split(p.prefix)
    return FramePattern(os.path.join(folder, "matte", stem), p.padding, ".exr").hashes()


def resolve_python(knob_value: str = "", environ: Mapping[str, str] | None = None) -> str:
    """The interpreter: the gizmo's ``python`` knob, else $MEMMATTE_PYTHON, else python3."""
    environ = os.environ if environ is None else environ
    return knob_value.strip() or environ.get(PYTHON_ENV, "").strip() or DEFAULT_PYTHON


def parse_frames(text: str, first: int, last: int) -> tuple[int, int]:
    """The ``frames`` knob ("1001-1100", "1050", empty for the Read's range) as (first, last)."""
    text = text.strip()
    if not text:
        return first, last
    m = re.fullmatch(r"(-?\d+)(?:\s*-\s*(-?\d+))?", text)
    if not m:
        raise ValueError(f"frames must look like 1001-1100 or 1050, got {text!r}")
    a = int(m.group(1))
    b = int(m.group(2)) if m.group(2) is not None else a
    if b < a:
        raise ValueError(f"frames {text!r}: the last frame comes before the first")
    return a, b


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
    extra: Sequence[str] = (),
) -> list[str]:
    """The processor's command line for the shot ``plate`` frames first..last (a Read's
    range), rendering ``frames`` (default: all of them) into ``matte``."""
    render_first, render_last = frames or (first, last)
    if not first <= render_first <= render_last <= last:
        raise ValueError(
            f"frames {render_first}-{render_last} reach outside the shot's {first}-{last}"
        )
    command = [
        python,
        "-m",
        "core.batch",
        nuke_pattern_to_batch_input(plate, first, last),
        "--output",
        FramePattern.parse(matte).printf(),
        "--frames",
        f"{render_first}-{render_last}",
        "--log-format",
        "json",
    ]
    if weights.strip():
        command += ["--weights", weights.strip()]
    if resume:
        command.append("--resume")
    return command + list(extra)


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
class Progress:
    done: int
    total: int
    message: str

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0


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
        cwd: str | None = None,
    ) -> None:
        self.command = list(command)
        self.matte = FramePattern.parse(matte)
        self.frames = list(frames)
        self.env = child_environment() if env is None else dict(env)
        self.cwd = cwd
        self.process: subprocess.Popen[str] | None = None
        self.events: list[dict] = []
        self._cancel = threading.Event()
        self._lines: queue.Queue[tuple[str, str | None]] = queue.Queue()
        self._stderr: list[str] = []
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
        ``on_progress`` is called from this thread for each of its JSON events."""
        try:
            self._made_folder = not self._folder.exists()
            self._folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            return RenderResult("failed", error=f"cannot create {self._folder}: {error}")
        try:
            self._start()
        except OSError as error:  # the interpreter is missing or cannot run
            self._remove_partial_files()
            return RenderResult(
                "failed",
                error=f"cannot run {self.command[0]} ({error.strerror or error}); set the "
                f"gizmo's python knob or {PYTHON_ENV} to the Python that has memmatte installed",
            )
        total = len(self.frames)
        open_streams = 2
        while open_streams:
            if self.cancelled or (is_cancelled is not None and is_cancelled()):
                self._cancel.set()
                self._kill()
                return self._finish("cancelled", "cancelled")
            try:
                stream, line = self._lines.get(timeout=poll)
            except queue.Empty:
                continue
            if line is None:
                open_streams -= 1
            elif stream == "stderr":
                self._stderr.append(line)
            elif (event := _parse_event(line)) is not None:
                self.events.append(event)
                progress = self._progress(event, total)
                if progress is not None and on_progress is not None:
                    on_progress(progress)
        returncode = self.process.wait()
        if self.cancelled:
            return self._finish("cancelled", "cancelled")
        if returncode != 0:
            python = self.command[0]
            return self._finish(
                "failed", explain_failure(python, returncode, self._stderr, self.events)
            )
        return self._finish("done", "")

    def _progress(self, event: dict, total: int) -> Progress | None:
        kind = event.get("event")
        if kind == "shot_start":
            return Progress(0, int(event.get("total", total)), "rendering")
        if kind == "resume":
            return Progress(0, total, f"{event.get('done', 0)} frames already complete")
        if kind == "frame" and isinstance(event.get("frame"), int):
            self._done.add(event["frame"])
            done = int(event.get("done", len(self._done)))
            return Progress(done, int(event.get("total", total)), f"frame {event['frame']}")
        return None

    # -- internals -------------------------------------------------------------------------

    def _start(self) -> None:
        self._before = set(os.listdir(self._folder))
        popen_args: dict = {}
        if sys.platform == "win32":
            popen_args["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
        else:
            popen_args["start_new_session"] = True  # its own process group, killed together
        self.process = subprocess.Popen(
            self.command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            env=self.env,
            cwd=self.cwd,
            **popen_args,
        )
        for name, stream in (("stdout", self.process.stdout), ("stderr", self.process.stderr)):
            threading.Thread(target=self._pump, args=(name, stream), daemon=True).start()

    def _pump(self, name: str, stream) -> None:
        for line in stream:
            self._lines.put((name, line))
        self._lines.put((name, None))

    def _kill(self, grace: float = 5.0) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        if sys.platform == "win32":
            process.kill()
        else:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                return
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            if sys.platform != "win32":
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def _finish(self, status: str, error: str) -> RenderResult:
        if status != "done":
            self._remove_partial_files()
        return RenderResult(status, sorted(self._done), error)

    def _remove_partial_files(self) -> None:
        """Removes every file this run added to the matte folder that is not a frame it
        reported finished (its temporary files included)."""
        # The killed process may still be closing files; wait for it before looking.
        deadline = time.monotonic() + 5.0
        while self.process is not None and self.process.poll() is None:
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        for name in sorted(set(os.listdir(self._folder)) - self._before):
            path = self._folder / name
            frame = self.matte.owns(str(path))
            if frame is not None and frame in self._done:
                continue
            if path.is_file() or path.is_symlink():
                path.unlink(missing_ok=True)
        if self._made_folder and not any(self._folder.iterdir()):
            self._folder.rmdir()


def _parse_event(line: str) -> dict | None:
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except json.JSONDecodeError:
        return None
    return event if isinstance(event, dict) else None


_MISSING_MODULE = re.compile(r"No module named '?([\w.]+)'?")


def explain_failure(python: str, returncode: int, stderr: list[str], events: list[dict]) -> str:
    """What went wrong, in the processor's words, without a traceback."""
    missing = _MISSING_MODULE.search("".join(stderr))
    if missing:
        return (
            f"{python} cannot run memmatte (No module named '{missing.group(1)}'); set the "
            f"gizmo's python knob or {PYTHON_ENV} to the Python that has memmatte installed"
        )
    for event in reversed(events):
        if event.get("event") in ("error", "cancelled") and event.get("message"):
            return str(event["message"])
    lines = [line.strip() for line in stderr if line.strip()]
    if lines:
        return lines[-1]
    return f"{python} -m core.batch stopped with exit status {returncode}"
