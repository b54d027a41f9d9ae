"""Python as Blender's or Nuke's own is before memmatte's plugins load: the standard library
and nothing else (``-S``: no site-packages and none of their ``.pth`` start-up imports;
``-I``: no ``PYTHONPATH``, no user site)."""

from __future__ import annotations

import subprocess
import sys


def run_bare(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Runs ``code`` with ``args`` as ``sys.argv[1:]`` in such a Python; output as text."""
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, *args], capture_output=True, text=True
    )
