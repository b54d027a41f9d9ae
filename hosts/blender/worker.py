"""Runs the matting outside Blender: subprocesses, their progress, cancelling, clean-up.

Blender's own Python never imports torch or memmatte. A ``MatteJob`` runs one or two
stages in child processes — a background Blender that renders the footage to EXR frames
(when the batch processor cannot read it as it is), then ``<python> -m core.batch`` in the
memmatte environment — through ``hosts.client``'s runner (``.client``: see client.py), and
follows their JSON events on a thread of its own. The thread touches no Blender data: the caller polls ``progress()`` from Blender's main thread
(a modal operator's timer) and updates the UI from there.

Every file is written under a staging folder of this process in the cache; only a finished
job moves its matte sequence, with a ``memmatte.json`` manifest of what it was computed from,
to the destination folder, so a cancelled or failed job leaves the cache as it found it, and
parallel farm tasks of one .blend never write into each other's folders. No ``bpy`` import
in this module.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from .client import events, python, runner

Progress = runner.Progress
PYTHON_ENV = python.PYTHON_ENV
"""Environment variable naming memmatte's Python where the add-on preference is empty (farms),
as for the Nuke gizmo: an explicit setting wins over the environment."""

PREFERENCES_HINT = "Preferences › Add-ons › Memmatte › Python"
CANCEL_GRACE = 0.5
"""Seconds a cancelled stage gets before it is killed: the processor would stop cleanly
after the frame in flight, but everything it wrote is discarded anyway, so the UI does not
wait for that frame."""


class WorkerError(RuntimeError):
    """A problem with memmatte's Python or the worker, in words an artist can act on."""


@dataclass(frozen=True)
class Stage:
    """One child process. ``frames``: how many frames it reports, for progress."""

    label: str
    command: tuple[str, ...]
    frames: int
    needs_memmatte: bool = True
    """True when the command runs in memmatte's Python (import errors mean a bad setting)."""


def resolve_python(setting: str = "") -> str:
    """memmatte's Python: ``setting`` (the add-on preference), else ``$MEMMATTE_PYTHON``.

    A virtual environment's folder stands for its interpreter. Raises ``WorkerError`` with
    what to do when nothing usable is set.
    """
    try:
        return python.check_python(
            python.resolve_python(setting, where=PREFERENCES_HINT), PREFERENCES_HINT
        )
    except python.PythonError as error:
        raise WorkerError(str(error)) from None


RESULT = "matte"
"""The folder of a job's staging folder that its last stage fills with the matte."""

MANIFEST = "memmatte.json"
"""In a cache folder: what its mattes were computed from (``manifest`` of a job)."""


def read_manifest(folder: Path) -> dict | None:
    """A cache folder's manifest, or None when there is none or it does not parse."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def cache_complete(folder: Path, manifest: dict) -> bool:
    """True when ``folder`` holds a finished matte of exactly ``manifest`` (same footage,
    settings and frames) with every matte file it lists."""
    found = read_manifest(folder)
    if found != manifest:
        return False
    return all((folder / name).is_file() for name in manifest.get("files", ()))


def staging_folder(destination: Path) -> Path:
    """This process's staging folder for ``destination``: farm tasks rendering the same
    .blend at once (on one machine or on several sharing the cache) each get their own."""
    host = re.sub(r"[^\w.-]", "_", socket.gethostname())
    return destination.parent / f".{destination.name}.incoming-{host}-{os.getpid()}"


def remove_stale_staging(destination: Path) -> None:
    """Removes staging folders of ``destination`` left by processes of this machine that no
    longer run (a Blender that crashed mid-job); other machines' are left alone."""
    host = re.sub(r"[^\w.-]", "_", socket.gethostname())
    prefix = f".{destination.name}.incoming-{host}-"
    if not destination.parent.is_dir():
        return
    for entry in destination.parent.iterdir():
        pid = entry.name[len(prefix) :]
        if entry.name.startswith(prefix) and pid.isdigit() and not runner.alive(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)


def explain_failure(
    stage: Stage, python: str, returncode: int, stderr: list[str], reported: list[events.Event]
) -> str:
    """One sentence for a stage that stopped with ``returncode``, never a traceback."""
    return _explain(
        stage, python, runner.Outcome(returncode, False, tuple(reported), tuple(stderr))
    )


def _explain(stage: Stage, python: str, outcome: runner.Outcome) -> str:
    return runner.explain_failure(
        outcome,
        python=python,
        hint=f"choose another Python in {PREFERENCES_HINT}",
        label=stage.label,
        needs_memmatte=stage.needs_memmatte,
    )


@dataclass
class MatteJob:
    """Runs ``stages`` one after another (in ``staging``), then moves ``staging / RESULT`` to
    ``destination``.

    staging: a folder this job owns (created, then removed whatever happens).
    python: memmatte's interpreter, named in error messages.
    manifest: written as ``memmatte.json`` beside the mattes; when another process has
    published a complete cache of the same manifest meanwhile, that one is kept.
    """

    stages: list[Stage]
    staging: Path
    destination: Path
    python: str = ""
    manifest: dict | None = None
    _progress: Progress = field(default_factory=lambda: Progress("running"))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _cancelled: threading.Event = field(default_factory=threading.Event)
    _process: runner.Process | None = None
    _thread: threading.Thread | None = None

    # -- control (any thread) ------------------------------------------------------------

    def start(self) -> MatteJob:
        self.staging.mkdir(parents=True, exist_ok=True)
        self._set(Progress("running", self.stages[0].label, 0, self.stages[0].frames))
        self._thread = threading.Thread(target=self._run, name="memmatte-job", daemon=True)
        self._thread.start()
        return self

    def progress(self) -> Progress:
        with self._lock:
            return self._progress

    @property
    def pid(self) -> int | None:
        """The running child's process id (None between stages and after the end)."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def cancel(self, timeout: float = 30.0) -> Progress:
        """Stops the child process (SIGTERM to its process group, SIGKILL after 0.5 s), waits
        for the job thread, and removes the staging folder. Returns the final progress."""
        self._cancelled.set()
        process = self._process
        if process is not None:
            process.cancel()
        if self._thread is not None:
            self._thread.join(timeout)
        self._cleanup()
        return self.progress()

    def wait(
        self, callback: Callable[[Progress], None] | None = None, interval: float = 0.2
    ) -> Progress:
        """Blocks until the job ends, calling ``callback`` whenever progress changes."""
        last = None
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(interval)
                current = self.progress()
                if callback is not None and current != last:
                    callback(current)
                    last = current
        except KeyboardInterrupt:
            self.cancel()
            raise
        final = self.progress()
        if callback is not None and final != last:
            callback(final)
        return final

    # -- job thread ----------------------------------------------------------------------

    def _set(self, progress: Progress) -> None:
        with self._lock:
            self._progress = progress

    def _run(self) -> None:
        # Each stage counts its own frames ("Reading footage 3/8", then "Matting 3/8"): the
        # stages go over the same frames, so a sum over them would count each frame twice.
        last = self.stages[-1]
        try:
            for stage in self.stages:
                if self._cancelled.is_set():
                    break
                outcome = self._run_stage(stage)
                if outcome is not None:
                    self._set(replace(self.progress(), state="failed", message=outcome))
                    return
            if self._cancelled.is_set():
                self._set(Progress("cancelled", "", 0, last.frames, "Cancelled"))
                return
            self._publish()
            self._set(Progress("done", last.label, last.frames, last.frames))
        except Exception as error:  # the thread must always end in a final state
            self._set(
                replace(self.progress(), state="failed", message=f"memmatte job failed: {error}")
            )
        finally:
            self._cleanup()

    def _run_stage(self, stage: Stage) -> str | None:
        """Runs one stage; returns an error message, or None when it succeeded (or was cancelled)."""
        process = runner.Process(stage.command, cwd=self.staging, grace=CANCEL_GRACE)
        self._process = process
        if self._cancelled.is_set():
            return None
        try:
            process.start()
        except OSError as error:
            return (
                f"Cannot start {stage.command[0]}: {error.strerror or error}. "
                f"Check {PREFERENCES_HINT}."
            )
        if self._cancelled.is_set():  # cancel() may have run before the process existed
            process.cancel()
        finished: set[int] = set()
        self._set(Progress("running", stage.label, 0, stage.frames))

        def on_event(event: events.Event) -> None:
            if isinstance(event, events.Frame):
                finished.add(event.frame)
                done = min(len(finished), stage.frames)
                self._set(Progress("running", stage.label, done, stage.frames))

        outcome = process.follow(on_event)
        self._process = None
        if self._cancelled.is_set() or outcome.ok:
            return None
        return _explain(stage, self.python, outcome)

    def _publish(self) -> None:
        """Replaces ``destination`` by the finished matte folder (two renames, same disk).

        Another task of the same .blend may publish at the same time: a destination that
        already holds this manifest's complete matte is kept, and a rename that loses a race
        is retried."""
        produced = self.staging / RESULT
        if not produced.is_dir() or not any(produced.iterdir()):
            raise WorkerError(f"the worker finished but wrote no matte frames to {produced}")
        if self.manifest is not None:
            (produced / MANIFEST).write_text(json.dumps(self.manifest), encoding="utf-8")
        self.destination.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(10):
            if self.manifest is not None and cache_complete(self.destination, self.manifest):
                return
            try:
                if self.destination.exists():
                    os.replace(self.destination, self.staging / f"previous-{attempt}")
                os.replace(produced, self.destination)
                return
            except OSError:  # another task renamed it in between
                time.sleep(0.05 * (attempt + 1))
        raise WorkerError(f"could not publish the matte to {self.destination}")

    def _cleanup(self) -> None:
        # The thread and cancel() may both get here; rmtree of a vanished folder is fine.
        for _ in range(3):
            try:
                shutil.rmtree(self.staging)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)
