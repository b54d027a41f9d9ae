"""Which Python interpreter runs memmatte for a host.

One order everywhere: the host's setting (Blender's add-on preference, the Nuke gizmo's
``python`` knob), else ``$MEMMATTE_PYTHON``, else the host's ``fallback`` (Nuke: ``python3``
on the PATH; Blender: none, so an unset Python is an error the artist can act on). A
virtual environment's folder stands for its interpreter. ``check_python`` then refuses a
path that does not exist or cannot run, before anything starts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

PYTHON_ENV = "MEMMATTE_PYTHON"
INTERPRETERS = ("bin/python", "bin/python3", "Scripts/python.exe", "python.exe")
"""Where a virtual environment keeps its interpreter, in the order tried."""


class PythonError(ValueError):
    """memmatte's Python is not set or not usable; the message says what to change."""


def resolve_python(
    setting: str = "",
    environ: Mapping[str, str] | None = None,
    *,
    fallback: str = "",
    where: str = "the host's settings",
) -> str:
    """The interpreter: ``setting``, else ``$MEMMATTE_PYTHON``, else ``fallback``.

    where: the setting as the user finds it, for messages. Raises ``PythonError`` when none
    is set, or when a folder is named that holds no interpreter.
    """
    environ = os.environ if environ is None else environ
    path = setting.strip() or environ.get(PYTHON_ENV, "").strip() or fallback
    if not path:
        raise PythonError(
            "memmatte's Python is not set: choose the Python interpreter where memmatte and "
            f"torch are installed in {where} (or set {PYTHON_ENV})"
        )
    expanded = os.path.abspath(os.path.expanduser(path))
    if not os.path.isdir(expanded):
        return path
    for candidate in INTERPRETERS:
        if os.path.isfile(os.path.join(expanded, candidate)):
            return os.path.join(expanded, candidate)
    raise PythonError(
        f"memmatte's Python {expanded} is a folder without a Python interpreter in it; "
        f"choose the interpreter (e.g. .venv/bin/python) in {where}"
    )


def check_python(path: str, where: str = "the host's settings") -> str:
    """``path`` as an absolute path, or ``PythonError`` when it does not exist or is not
    executable."""
    path = os.path.abspath(os.path.expanduser(path))
    if not os.path.exists(path):
        raise PythonError(
            f"memmatte's Python {path} does not exist; choose the interpreter where memmatte "
            f"is installed in {where}"
        )
    if not os.access(path, os.X_OK):
        raise PythonError(f"memmatte's Python {path} is not executable; check {where}")
    return path
