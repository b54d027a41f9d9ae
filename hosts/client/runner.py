"""One child process of a host: ``python -m core.batch`` (or a background Blender) in its
own process group, its JSON events, cancelling it, and why it failed.

``Process.start`` launches the command with stdout and stderr piped; ``follow`` (one thread,
the caller's) hands every event line of stdout to a callback, parsed by ``events.parse``,
keeps the last lines of stderr, and returns an ``Outcome`` when the process ends.
``cancel`` (any thread) sends SIGTERM to the process group (``core.batch`` stops after the
frame in flight), then SIGKILL after ``grace`` seconds. ``explain_failure`` turns an
``Outcome`` into one sentence that names the frame or file, never a traceback.
"""

from __future__ import annotations

import collections
import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from . import events as ev


@dataclass(frozen=True)
class Progress:
    """A snapshot of a job. state: "running", "done", "failed" or "cancelled"."""

    state: str
    label: str = ""
    done: int = 0
    total: int = 0
    message: str = ""

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    @property
    def percent(self) -> int:
        return int(100 * self.fraction)

    @property
    def finished(self) -> bool:
        return self.state != "running"


@dataclass(frozen=True)
class Outcome:
    """How a process ended. returncode: its exit status (negative: killed by a signal).
    cancelled: ``cancel`` was called. events: what it reported. stderr: its last lines.
    protocol_error: why an event line could not be read (the process was then stopped)."""

    returncode: int
    cancelled: bool
    events: tuple[ev.Event, ...]
    stderr: tuple[str, ...]
    protocol_error: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.cancelled and not self.protocol_error


def alive(pid: int) -> bool:
    """Whether a process of this machine runs with ``pid`` (one of another user counts)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, someone else's
        return True
    return True


class Process:
    """One child process in its own process group.

    env: its environment (default: this one's) with ``PYTHONUNBUFFERED=1`` added, so events
    arrive as they happen. grace: seconds between SIGTERM and SIGKILL when cancelled.
    stderr_lines: how many of the last stderr lines are kept.
    """

    def __init__(
        self,
        command: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike | None = None,
        grace: float = 5.0,
        stderr_lines: int = 200,
    ) -> None:
        self.command = [str(c) for c in command]
        self.env = dict(os.environ if env is None else env, PYTHONUNBUFFERED="1")
        self.cwd = cwd
        self.grace = grace
        self._popen: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[tuple[str, str | None]] = queue.Queue()
        self._stderr: collections.deque[str] = collections.deque(maxlen=stderr_lines)
        self._cancelled = threading.Event()
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        """The child's process id (and process group id), once started."""
        return self._popen.pid if self._popen is not None else None

    def poll(self) -> int | None:
        """The exit status once the process has ended, else None (also before ``start``)."""
        return self._popen.poll() if self._popen is not None else None

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def start(self) -> Process:
        """Starts the command; ``OSError`` when it cannot (a missing interpreter)."""
        group: dict = {}
        if sys.platform == "win32":
            group["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
        else:
            group["start_new_session"] = True  # its own process group, stopped together
        self._popen = subprocess.Popen(
            self.command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
            env=self.env,
            cwd=self.cwd,
            **group,
        )
        for name, stream in (("stdout", self._popen.stdout), ("stderr", self._popen.stderr)):
            threading.Thread(target=self._pump, args=(name, stream), daemon=True).start()
        if self.cancelled:  # cancel() came before the process existed
            self._stop()
        return self

    def follow(
        self,
        on_event: Callable[[ev.Event], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        poll: float = 0.1,
        on_output: Callable[[str], None] | None = None,
    ) -> Outcome:
        """Reads the process's output until it ends; calls ``on_event`` (this thread) for
        each event, ``on_output`` for every other line of stdout (a command that is not
        ``core.batch``: pip), and ``cancel`` as soon as ``should_stop()`` says so."""
        assert self._popen is not None, "start() first"
        reported: list[ev.Event] = []
        protocol_error = ""
        open_streams = 2
        while open_streams:
            if should_stop is not None and not self.cancelled and should_stop():
                self.cancel()
            try:
                stream, line = self._lines.get(timeout=poll)
            except queue.Empty:
                continue
            if line is None:
                open_streams -= 1
            elif stream == "stderr":
                self._stderr.append(line.rstrip("\n"))
            elif not ev.is_event_line(line):
                if on_output is not None:
                    on_output(line.rstrip("\n"))
            elif not protocol_error:
                try:
                    event = ev.parse(line)
                except ev.EventError as error:
                    protocol_error = str(error)
                    threading.Thread(target=self._stop, daemon=True).start()
                    continue
                reported.append(event)
                if on_event is not None:
                    on_event(event)
        returncode = self._popen.wait()
        return Outcome(
            returncode, self.cancelled, tuple(reported), tuple(self._stderr), protocol_error
        )

    def cancel(self) -> None:
        """Stops the process group: SIGTERM, then SIGKILL after ``grace`` seconds. Returns
        when the process has ended."""
        self._cancelled.set()
        self._stop()

    def _stop(self) -> None:
        with self._lock:
            popen = self._popen
            if popen is None or popen.poll() is not None:
                return
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if sys.platform == "win32":
                    popen.terminate()
                else:
                    os.killpg(popen.pid, signal.SIGTERM)
            try:
                popen.wait(timeout=self.grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    if sys.platform == "win32":
                        popen.kill()
                    else:
                        os.killpg(popen.pid, signal.SIGKILL)
                popen.wait()

    def _pump(self, name: str, stream) -> None:
        for line in stream:
            self._lines.put((name, line))
        self._lines.put((name, None))


_MISSING_MODULE = re.compile(r"No module named '?([\w.]+)'?")
_EXCEPTION = re.compile(r"^[\w.]+(Error|Exception)\b.*:")


def explain_failure(
    outcome: Outcome,
    *,
    python: str,
    hint: str,
    label: str = "Matting",
    needs_memmatte: bool = True,
) -> str:
    """One sentence for a process that failed, never a traceback.

    python: the interpreter, named when it lacks memmatte (``needs_memmatte``: the command
    ran in memmatte's Python). hint: what the user changes to choose another one ("choose
    another Python in ..."). label: what the process was doing.
    """
    if outcome.protocol_error:
        return f"{label} failed: {outcome.protocol_error}"
    missing = _MISSING_MODULE.search("\n".join(outcome.stderr))
    if missing and needs_memmatte:
        return (
            f"The Python at {python} cannot run memmatte (No module named "
            f"'{missing.group(1)}'): install memmatte into it (pip install /path/to/memmatte) "
            f"or {hint}."
        )
    for event in reversed(outcome.events):
        if isinstance(event, (ev.Error, ev.Cancelled)):
            return f"{label} failed: {event.message}"
    if outcome.returncode < 0:  # killed: whatever it printed last is not the reason
        try:
            name = signal.Signals(-outcome.returncode).name
        except ValueError:
            name = f"signal {-outcome.returncode}"
        why = " (out of memory, or stopped by the system or a user)" if name == "SIGKILL" else ""
        return f"{label} was killed by {name}{why}; run it again to finish"
    lines = [line.strip() for line in outcome.stderr if line.strip()]
    exception = [line for line in lines if _EXCEPTION.match(line)]
    if exception:
        return f"{label} failed: {exception[-1]}"
    if lines and not lines[-1].startswith(("Traceback", "File ")):
        return f"{label} failed: {lines[-1]}"
    return f"{label} stopped with exit code {outcome.returncode}"
