"""``memmatte_nuke.install()``: memmatte's Python made from Nuke's Script Editor.

    import memmatte_nuke
    memmatte_nuke.install()                                   # this checkout, torch for this machine
    memmatte_nuke.install(wheelhouse="/studio/wheels")        # offline: from a folder of wheels
    memmatte_nuke.install(source="/path/memmatte-0.1.0-py3-none-any.whl", torch="cpu")

The install itself is ``client/install.py`` (shared with Blender's *Install memmatte*): a venv,
torch, memmatte. It runs in a thread with a ``nuke.ProgressTask`` (progress, and its Cancel
button, which removes what was made), then runs the Check (``import torch, core.batch`` in the
new Python), sets ``MEMMATTE_PYTHON`` for this session and says in a message what to put in
``init.py`` to keep it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import nuke

from .client import install as installing
from .client.python import PYTHON_ENV

CHECKOUT = Path(__file__).resolve().parents[3]
"""The memmatte checkout this plugin folder is in (installed when no source is given)."""


def default_folder() -> str:
    return os.path.join(os.path.expanduser("~"), ".nuke", "memmatte-venv")


def default_python() -> str:
    """The Python that makes the venv. memmatte needs Python 3.11: ``python3.11`` on the PATH,
    else the ``python3`` next to Nuke's executable (Nuke 16 ships 3.11), else ``python3``."""
    beside_nuke = os.path.join(os.path.dirname(sys.executable), "python3")
    for candidate in (shutil.which("python3.11"), beside_nuke, shutil.which("python3")):
        if candidate and os.path.isfile(candidate):
            return candidate
    return ""


def default_source() -> str:
    return str(CHECKOUT) if (CHECKOUT / "pyproject.toml").is_file() else ""


def install(
    folder: str = "",
    source: str = "",
    wheelhouse: str = "",
    torch: str = "auto",
    python: str = "",
    wait: bool = False,
):
    """Installs memmatte into a new venv at ``folder`` (default ``~/.nuke/memmatte-venv``).

    source: a memmatte wheel or checkout (default: this checkout); wheelhouse: a folder of
    wheels to install from alone (no internet); torch: "auto", "cpu" or "cuda"; python: the
    interpreter that makes the venv (default ``default_python()``). Returns the running
    ``Installer`` (``wait=True``: the new interpreter, once installed and checked). Raises
    ``InstallError`` at once for a plan that cannot work.
    """
    plan = installing.InstallPlan(
        venv=folder or default_folder(),
        python=python or default_python(),
        source=source or ("" if wheelhouse else default_source()),
        wheelhouse=wheelhouse,
        torch=torch,
    )
    installer = installing.Installer(plan).start()
    thread = threading.Thread(target=_follow, args=(installer,), name="memmatte install")
    thread.daemon = True
    thread.start()
    if not wait:
        return installer
    thread.join()
    return installer.wait()


def _follow(installer: installing.Installer) -> None:
    """Shows the install in a ProgressTask until it ends, then checks the new Python."""
    task = nuke.ProgressTask("Install memmatte")
    holder = [task]
    progress = installer.progress()
    while not progress.finished:
        if holder[0].isCancelled():
            installer.cancel()
        holder[0].setProgress(int(100 * progress.done / progress.total))
        holder[0].setMessage(f"{progress.label}: {progress.message[-80:]}")
        time.sleep(0.2)
        progress = installer.progress()
    holder.clear()
    del task  # Nuke closes the progress bar when the task goes away
    if progress.state == "done":
        text = check(progress.message)
    else:
        text = f"Memmatte install {progress.state}: {progress.message}"
    nuke.executeInMainThread(nuke.message, args=(text,))


def check(python: str) -> str:
    """Runs the Check in ``python``; on success sets ``MEMMATTE_PYTHON`` for this session.
    Returns what to tell the user."""
    env = {k: v for k, v in os.environ.items() if k not in installing.HOST_ONLY}
    run = subprocess.run(
        [python, "-c", installing.PROBE],
        capture_output=True,
        text=True,
        env=env,
        cwd=os.path.dirname(python),
    )
    if run.returncode != 0:
        last = (run.stderr.strip().splitlines() or ["no output"])[-1]
        return f"Memmatte: installed in {python}, but the Check failed: {last}"
    os.environ[PYTHON_ENV] = python
    return (
        f"Memmatte: installed and checked ({run.stdout.strip().splitlines()[-1]}).\n"
        f"To keep it, add to init.py: os.environ['{PYTHON_ENV}'] = {python!r}"
    )
