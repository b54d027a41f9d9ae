"""Add-on preferences: which Python runs memmatte, with which weights and device.

Blender's Python stays clean: memmatte and torch live in a separate environment (a venv
with memmatte installed from a checkout or a wheel: ``pip install /path/to/memmatte``), named
here. "Check" runs that Python in the background and
says whether it can import memmatte, without freezing the UI.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass

import bpy

from .worker import Stage, WorkerError, explain_failure, resolve_python

DEVICES = [
    ("auto", "Auto", "CUDA when the environment has a GPU, else CPU"),
    ("cpu", "CPU", "Always the CPU"),
    ("cuda", "CUDA", "The first CUDA GPU"),
]

PROBE = (
    "import json, sys, torch, core.batch; "
    "print(json.dumps({'python': sys.version.split()[0], 'torch': torch.__version__, "
    "'cuda': torch.cuda.is_available()}))"
)
"""What "Check" runs in memmatte's Python: importing what the worker imports."""


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
    out, err = process.communicate()
    addon = bpy.context.preferences.addons.get(__package__)
    if addon is None:
        return None
    prefs = addon.preferences
    if process.returncode == 0:
        info = json.loads(out.strip().splitlines()[-1])
        gpu = "CUDA available" if info["cuda"] else "no CUDA, CPU only"
        prefs.status = f"OK: Python {info['python']}, torch {info['torch']}, {gpu}"
    else:
        stage = Stage("Check", (), 0)
        prefs.status = explain_failure(
            stage, prefs.python, process.returncode, err.splitlines(), []
        )
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            area.tag_redraw()
    return None


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
        layout.label(
            text="memmatte runs in this Python, outside Blender: pip install /path/to/memmatte"
        )


CLASSES = (MEMMATTE_OT_check_python, MemmattePreferences)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
