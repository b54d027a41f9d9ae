"""Installs memmatte for a host: a new virtual environment, made by the host's own Python,
with torch and memmatte in it (Blender's *Install memmatte* button, ``memmatte_nuke.install()``).

    plan = InstallPlan(venv="/studio/memmatte-venv", python=sys.executable,
                       source="/path/to/memmatte-0.1.0-py3-none-any.whl")
    installer = Installer(plan).start()   # a thread; progress() and cancel() from any thread
    python = installer.wait()             # the venv's interpreter, or InstallError

Three steps, each a child process in its own process group (``runner.Process``): make the venv,
``pip install`` torch (the CPU build, or the CUDA build where an NVIDIA driver is present),
``pip install`` memmatte from a wheel or a checkout folder. With a wheelhouse (a folder of
wheels, for studios without internet) pip looks nowhere else (``--no-index --find-links``).

A cancelled or failed install removes the venv folder it was making; a folder that a crashed
host left half-made (it still holds ``MARKER``) is removed by the next install into it. An
existing folder that is not such a leftover is never touched.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from . import runner

MARKER = ".memmatte-installing"
"""Written first into the venv folder, removed last: its presence means half-made."""

TORCH = "torch>=2.3"
"""What pip installs for torch (memmatte's own range)."""
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
"""PyTorch's index of CPU-only builds (much smaller than PyPI's Linux build)."""
TORCH_CUDA_INDEX = "https://download.pytorch.org/whl/cu128"
"""PyTorch's index of CUDA builds, for Windows (PyPI's Windows torch is CPU-only)."""
TORCH_CHOICES = ("auto", "cpu", "cuda")

PROBE = (
    "import json, sys, torch, core.batch; "
    "print(json.dumps({'python': sys.version.split()[0], 'torch': torch.__version__, "
    "'cuda': torch.cuda.is_available()}))"
)
"""What a host's *Check* runs in memmatte's Python: importing what the worker imports."""


HOST_ONLY = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONNOUSERSITE", "VIRTUAL_ENV")
"""Environment variables of the host's Python that the install's processes do not get."""


class InstallError(RuntimeError):
    """The install cannot start or did not finish; the message says why in one sentence."""


def nvidia_driver_present() -> bool:
    """Whether this machine has an NVIDIA driver (Linux's driver file, or ``nvidia-smi``)."""
    return os.path.exists("/proc/driver/nvidia/version") or shutil.which("nvidia-smi") is not None


def torch_index(variant: str, platform: str = sys.platform) -> list[str]:
    """pip's index arguments for torch ``variant`` ("cpu" or "cuda") on ``platform``."""
    if variant == "cpu":
        return [] if platform == "darwin" else ["--index-url", TORCH_CPU_INDEX]
    # PyPI's Linux torch is the CUDA build; its macOS torch has Metal, not CUDA.
    return ["--index-url", TORCH_CUDA_INDEX] if platform == "win32" else []


def venv_python(venv: str) -> str:
    """The interpreter of the virtual environment in folder ``venv``."""
    if sys.platform == "win32":
        return os.path.join(venv, "Scripts", "python.exe")
    return os.path.join(venv, "bin", "python")


@dataclass(frozen=True)
class InstallPlan:
    """What to install where.

    venv: the folder of the new virtual environment (must not exist, or be a half-made one).
    python: the interpreter that makes it (the host's own: Blender's, Nuke's).
    source: a memmatte wheel (.whl) or a checkout folder; empty: ``memmatte`` from the
    wheelhouse. wheelhouse: a folder of wheels that pip then uses alone (offline studios).
    torch: "auto" (CUDA where an NVIDIA driver is present, else CPU), "cpu" or "cuda".
    """

    venv: str
    python: str
    source: str = ""
    wheelhouse: str = ""
    torch: str = "auto"

    def torch_variant(self) -> str:
        if self.torch not in TORCH_CHOICES:
            raise InstallError(
                f"torch must be one of {', '.join(TORCH_CHOICES)}, not {self.torch!r}"
            )
        if self.torch != "auto":
            return self.torch
        return "cuda" if nvidia_driver_present() else "cpu"

    def steps(self) -> list[tuple[str, list[str]]]:
        """(label, command) of each step, in order."""
        python = venv_python(self.venv)
        pip = [
            python,
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--progress-bar",
            "off",
        ]
        if self.wheelhouse:
            pip += ["--no-index", "--find-links", self.wheelhouse]
            torch_args: list[str] = []
        else:
            torch_args = torch_index(self.torch_variant())
        memmatte = self.source or "memmatte"
        return [
            ("Making the environment", [self.python, "-m", "venv", self.venv]),
            (f"Installing torch ({self.torch_variant()})", [*pip, *torch_args, TORCH]),
            ("Installing memmatte", [*pip, memmatte]),
        ]

    def check(self) -> None:
        """``InstallError`` when the plan cannot work, before anything runs."""
        if not self.python or not os.path.isfile(self.python):
            raise InstallError(f"cannot make the environment: no Python at {self.python!r}")
        if self.source and not os.path.exists(self.source):
            raise InstallError(f"memmatte's source {self.source} does not exist")
        if self.source and os.path.isfile(self.source) and not self.source.endswith(".whl"):
            raise InstallError(f"memmatte's source {self.source} is neither a wheel nor a folder")
        if self.wheelhouse and not os.path.isdir(self.wheelhouse):
            raise InstallError(f"the wheelhouse {self.wheelhouse} is not a folder")
        if not self.source and not self.wheelhouse:
            raise InstallError("choose memmatte's wheel, its checkout folder, or a wheelhouse")
        if os.path.exists(self.venv) and not half_made(self.venv):
            raise InstallError(
                f"{self.venv} already exists; choose a new folder for the environment "
                "(or delete that one)"
            )
        self.torch_variant()


def half_made(venv: str) -> bool:
    """Whether ``venv`` is a folder that an install began and did not finish."""
    return os.path.isfile(os.path.join(venv, MARKER))


class Installer:
    """Runs an ``InstallPlan`` in a thread; ``progress()`` is a ``runner.Progress`` whose
    ``done``/``total`` count steps, ``label`` names the step and ``message`` holds pip's last
    line (or, once failed, why)."""

    def __init__(self, plan: InstallPlan, env: dict | None = None) -> None:
        self.plan = plan
        # The host's own module paths (Nuke's plugin path, a checkout) must not leak into the
        # new venv's pip, which would take what it finds there as installed.
        self.env = {
            k: v for k, v in (os.environ if env is None else env).items() if k not in HOST_ONLY
        }
        self._steps = plan.steps()
        self._progress = runner.Progress("running", self._steps[0][0], 0, len(self._steps))
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        self._process: runner.Process | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Installer:
        """Checks the plan (``InstallError``) and starts installing in a thread."""
        self.plan.check()
        self._thread = threading.Thread(target=self.run, name="memmatte install", daemon=True)
        self._thread.start()
        return self

    def progress(self) -> runner.Progress:
        with self._lock:
            return self._progress

    def cancel(self) -> None:
        """Asks the install to stop (it returns at once): the installing thread stops the step
        in flight within 0.1 s and removes what it made."""
        self._cancelled.set()

    def wait(self, timeout: float | None = None) -> str:
        """Waits for the thread; the venv's interpreter, or ``InstallError`` (not finished,
        failed or cancelled)."""
        if self._thread is not None:
            self._thread.join(timeout)
        progress = self.progress()
        if progress.state != "done":
            raise InstallError(progress.message or f"the install is {progress.state}")
        return venv_python(self.plan.venv)

    def run(self, on_progress: Callable[[runner.Progress], None] | None = None) -> runner.Progress:
        """Installs in this thread; ``on_progress`` gets every change. Never raises for a
        failed step: the returned progress says "failed" or "cancelled" and why."""
        plan = self.plan
        if half_made(plan.venv):
            shutil.rmtree(plan.venv, ignore_errors=True)
        try:
            for index, (label, command) in enumerate(self._steps):
                self._update(on_progress, label=label, done=index, message="")
                if self._cancelled.is_set():
                    break
                outcome = self._run_step(command, on_progress)
                if index == 0 and outcome.ok:
                    open(os.path.join(plan.venv, MARKER), "w").close()
                if self._cancelled.is_set():
                    break
                if not outcome.ok:
                    why = runner.explain_failure(
                        outcome, python=command[0], hint="", label=label, needs_memmatte=False
                    )
                    return self._end(on_progress, "failed", why)
            if self._cancelled.is_set():
                return self._end(on_progress, "cancelled", "cancelled; nothing was installed")
            os.remove(os.path.join(plan.venv, MARKER))
            return self._update(
                on_progress, state="done", label="Installed", done=len(self._steps),
                message=venv_python(plan.venv),
            )  # fmt: skip
        except OSError as error:
            return self._end(on_progress, "failed", f"cannot install: {error}")

    def _run_step(self, command: list[str], on_progress) -> runner.Outcome:
        process = runner.Process(command, env=self.env, grace=2.0)
        with self._lock:
            self._process = process
        if self._cancelled.is_set():
            process.cancel()
        process.start()

        def output(line: str) -> None:
            line = line.strip()
            if line:
                self._update(on_progress, message=line)

        try:
            return process.follow(on_output=output, should_stop=self._cancelled.is_set)
        finally:
            with self._lock:
                self._process = None

    def _end(self, on_progress, state: str, message: str) -> runner.Progress:
        """A failed or cancelled install: the half-made venv goes."""
        shutil.rmtree(self.plan.venv, ignore_errors=True)
        return self._update(on_progress, state=state, message=message)

    def _update(self, on_progress, **changes) -> runner.Progress:
        with self._lock:
            self._progress = replace(self._progress, **changes)
            progress = self._progress
        if on_progress is not None:
            on_progress(progress)
        return progress
