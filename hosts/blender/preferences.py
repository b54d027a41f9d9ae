"""Add-on preferences: which Python runs memmatte, with which weights and device.

Blender's Python stays clean: memmatte and torch live in a separate environment, named here.
"Install memmatte" makes it (``client/install.py``: a venv made by Blender's own Python,
torch, memmatte from the wheel this extension carries, a checkout or a wheelhouse) in the
background, with progress in the status bar, Esc or Cancel to stop; it ends with "Check",
which runs that Python in the background and says whether it can import memmatte.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import bpy

from .client import install
from .worker import Stage, WorkerError, explain_failure, resolve_python

DEVICES = [
    ("auto", "Auto", "CUDA when the environment has a GPU, else CPU"),
    ("cpu", "CPU", "Always the CPU"),
    ("cuda", "CUDA", "The first CUDA GPU"),
]

PROBE = install.PROBE
"""What "Check" runs in memmatte's Python: importing what the worker imports."""

TORCH_BUILDS = [
    ("auto", "Auto", "CUDA where this machine has an NVIDIA driver, else CPU"),
    ("cpu", "CPU", "The CPU build (smaller)"),
    ("cuda", "CUDA", "The CUDA build"),
]


@dataclass(frozen=True)
class Settings:
    """The worker's settings. python: as set (resolved when a job starts); weights: empty for
    memmatte's default; device: auto, cpu or cuda."""

    python: str = ""
    weights: str = ""
    device: str = "auto"


def settings(context=None) -> Settings:
    """The add-on's preferences, or defaults when the add-on is not enabled as such (for
    instance when a script registers ``hosts.blender`` itself)."""
    context = context or bpy.context
    addon = context.preferences.addons.get(__package__)
    if addon is None or addon.preferences is None:
        return Settings()
    prefs = addon.preferences
    return Settings(
        bpy.path.abspath(prefs.python) if prefs.python else "",
        bpy.path.abspath(prefs.weights) if prefs.weights else "",
        prefs.device,
    )


_checks: dict[str, subprocess.Popen] = {}


def _finish_check() -> float | None:
    """Timer: collects the "Check" subprocess without blocking; None stops the timer."""
    process = _checks.get("running")
    if process is None:
        return None
    if process.poll() is None:
        return 0.2
    del _checks["running"]
    addon = bpy.context.preferences.addons.get(__package__)
    if addon is not None:
        _report_check(addon.preferences, process)
    _redraw()
    return None


def _report_check(prefs, process: subprocess.Popen) -> None:
    """Sets ``prefs.status`` from an ended "Check" process."""
    out, err = process.communicate()
    if process.returncode == 0:
        info = json.loads(out.strip().splitlines()[-1])
        gpu = "CUDA available" if info["cuda"] else "no CUDA, CPU only"
        prefs.status = f"OK: Python {info['python']}, torch {info['torch']}, {gpu}"
    else:
        stage = Stage("Check", (), 0)
        prefs.status = explain_failure(
            stage, prefs.python, process.returncode, err.splitlines(), []
        )


def _redraw() -> None:
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            area.tag_redraw()


class MEMMATTE_OT_check_python(bpy.types.Operator):
    """Check that memmatte's Python can run memmatte (in the background)"""

    bl_idname = "memmatte.check_python"
    bl_label = "Check"

    def execute(self, context):
        prefs = context.preferences.addons[__package__].preferences
        try:
            python = resolve_python(bpy.path.abspath(prefs.python) if prefs.python else "")
        except WorkerError as error:
            prefs.status = str(error)
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        if "running" in _checks:
            return {"CANCELLED"}
        try:
            _checks["running"] = subprocess.Popen(
                [python, "-c", PROBE],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                text=True,
            )
        except OSError as error:
            prefs.status = f"Cannot start {python}: {error.strerror or error}"
            self.report({"ERROR"}, prefs.status)
            return {"CANCELLED"}
        prefs.status = "Checking…"
        bpy.app.timers.register(_finish_check, first_interval=0.2)
        return {"FINISHED"}


def carried_wheel() -> str:
    """The memmatte wheel this extension carries (``wheels/``, added by ``build.py
    --wheel``), or "" when it carries none."""
    wheels = sorted((Path(__file__).parent / "wheels").glob("memmatte-*.whl"))
    return str(wheels[-1]) if wheels else ""


def default_venv() -> str:
    """Where "Install memmatte" makes the environment unless told: the extension's own
    user folder (kept across updates of the extension), else Blender's user data folder."""
    try:
        folder = bpy.utils.extension_path_user(__package__, create=True)
    except (ValueError, AttributeError):  # enabled as a legacy add-on (the source tree)
        folder = bpy.utils.user_resource("DATAFILES", path="memmatte", create=True)
    return str(Path(folder) / "venv")


def install_plan(prefs) -> install.InstallPlan:
    """What "Install memmatte" installs, from the preferences."""
    return install.InstallPlan(
        venv=bpy.path.abspath(prefs.install_folder) if prefs.install_folder else default_venv(),
        python=sys.executable,  # Blender's own Python makes the venv
        source=bpy.path.abspath(prefs.install_source) if prefs.install_source else carried_wheel(),
        wheelhouse=bpy.path.abspath(prefs.wheelhouse) if prefs.wheelhouse else "",
        torch=prefs.install_torch,
    )


_installs: dict[str, install.Installer] = {}


def _install_drawer(installer: install.Installer):
    def draw(header, _context):
        progress = installer.progress()
        text = f"Memmatte install: {progress.label} ({progress.done + 1}/{progress.total})"
        header.layout.progress(factor=progress.fraction, type="BAR", text=text)
        header.layout.label(text=progress.message[-80:])
        header.layout.label(text="Esc to cancel", icon="EVENT_ESC")

    return draw


class MEMMATTE_OT_install(bpy.types.Operator):
    """Make memmatte's Python: a new environment with torch and memmatte, made in the
    background (Esc cancels), then checked"""

    bl_idname = "memmatte.install"
    bl_label = "Install memmatte"

    _timer = None

    def execute(self, context):
        """Without a window (scripts, tests): installs and checks, waiting."""
        prefs = context.preferences.addons[__package__].preferences
        try:
            installer = install.Installer(install_plan(prefs)).start()
        except install.InstallError as error:
            return self._failed(prefs, str(error))
        with contextlib.suppress(install.InstallError):  # the progress says why
            installer.wait()
        return self._finish(context, prefs, installer.progress())

    def invoke(self, context, _event):
        if context.window is None:
            return self.execute(context)
        prefs = context.preferences.addons[__package__].preferences
        if "running" in _installs:
            return {"CANCELLED"}
        try:
            installer = install.Installer(install_plan(prefs)).start()
        except install.InstallError as error:
            return self._failed(prefs, str(error))
        _installs["running"] = installer
        prefs.status = "Installing…"
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.2, window=context.window)
        wm.modal_handler_add(self)
        if context.workspace is not None:
            context.workspace.status_text_set(_install_drawer(installer))
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        installer = _installs.get("running")
        if installer is None:
            return self._end(context, {"CANCELLED"})
        if event.type == "ESC" and event.value == "PRESS":
            installer.cancel()
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        progress = installer.progress()
        _redraw()
        if not progress.finished:
            return {"PASS_THROUGH"}
        del _installs["running"]
        prefs = context.preferences.addons[__package__].preferences
        return self._end(context, self._finish(context, prefs, progress))

    def cancel(self, context):
        installer = _installs.pop("running", None)
        if installer is not None:
            installer.cancel()
        self._end(context, {"CANCELLED"})

    def _finish(self, context, prefs, progress) -> set[str]:
        if progress.state != "done":
            return self._failed(prefs, progress.message or f"the install is {progress.state}")
        prefs.python = progress.message  # the new environment's interpreter
        self.report({"INFO"}, f"Memmatte: installed in {progress.message}")
        bpy.ops.memmatte.check_python()
        if bpy.app.background:  # no event loop runs the Check's timer: wait for it here
            _report_check(prefs, _checks.pop("running"))
        return {"FINISHED"}

    def _failed(self, prefs, message: str) -> set[str]:
        prefs.status = f"Install: {message}"
        self.report({"ERROR"}, prefs.status)
        return {"CANCELLED"}

    def _end(self, context, result: set[str]) -> set[str]:
        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None
        if context.workspace is not None:
            context.workspace.status_text_set(None)
        _redraw()
        return result


class MEMMATTE_OT_install_cancel(bpy.types.Operator):
    """Stop installing memmatte; what was made so far is removed"""

    bl_idname = "memmatte.install_cancel"
    bl_label = "Cancel"

    def execute(self, context):
        installer = _installs.get("running")
        if installer is not None:
            installer.cancel()
        return {"FINISHED"}


class MemmattePreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    python: bpy.props.StringProperty(
        name="Python",
        description=(
            "The Python interpreter (or virtual environment folder) where memmatte and torch "
            "are installed; when empty, the MEMMATTE_PYTHON environment variable"
        ),
        subtype="FILE_PATH",
    )
    weights: bpy.props.StringProperty(
        name="Weights",
        description="A memmatte .safetensors checkpoint; empty for memmatte's default weights",
        subtype="FILE_PATH",
    )
    device: bpy.props.EnumProperty(name="Device", items=DEVICES, default="auto")
    status: bpy.props.StringProperty(name="Status", options={"SKIP_SAVE"})
    install_folder: bpy.props.StringProperty(
        name="Install Into",
        description="Folder of the new environment; empty: this extension's user folder",
        subtype="DIR_PATH",
    )
    install_source: bpy.props.StringProperty(
        name="memmatte",
        description=(
            "A memmatte wheel (.whl) or checkout folder to install; empty: the wheel this "
            "extension carries, else memmatte from the wheelhouse"
        ),
        subtype="FILE_PATH",
    )
    wheelhouse: bpy.props.StringProperty(
        name="Wheelhouse",
        description=(
            "A folder of wheels (torch, memmatte and their dependencies) for machines "
            "without internet: pip then installs from it alone"
        ),
        subtype="DIR_PATH",
    )
    install_torch: bpy.props.EnumProperty(name="torch", items=TORCH_BUILDS, default="auto")

    def draw(self, context):
        layout = self.layout
        row = layout.row(align=True)
        row.prop(self, "python")
        row.operator(MEMMATTE_OT_check_python.bl_idname)
        if self.status:
            ok = self.status.startswith("OK")
            layout.label(text=self.status, icon="CHECKMARK" if ok else "INFO")
        layout.prop(self, "weights")
        layout.prop(self, "device")
        layout.label(text="memmatte runs in this Python, outside Blender.")

        box = layout.box()
        row = box.row()
        if "running" in _installs:
            progress = _installs["running"].progress()
            row.label(text=f"{progress.label}: {progress.message[-60:]}", icon="TIME")
            row.operator(MEMMATTE_OT_install_cancel.bl_idname, icon="CANCEL")
        else:
            row.operator(MEMMATTE_OT_install.bl_idname, icon="IMPORT")
        box.prop(self, "install_folder")
        box.prop(self, "install_source")
        box.prop(self, "wheelhouse")
        box.prop(self, "install_torch")


CLASSES = (
    MEMMATTE_OT_check_python,
    MEMMATTE_OT_install,
    MEMMATTE_OT_install_cancel,
    MemmattePreferences,
)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
