"""memmatte in Blender: a "Memmatte" compositor node, as a Blender extension (4.2+).

Install the zip that ``python -m hosts.blender.build`` makes (Preferences › Get Extensions ›
Install from Disk), set the Python where memmatte is installed in the add-on's preferences,
add Memmatte (Add › Keying) after the footage, and press Compute Matte. See
docs/hosts/blender.md.

The same folder is the package ``hosts.blender`` of memmatte, so tests and scripts can
register it and call ``matte_scene``. Nothing here imports ``bpy`` at import time, and
nothing in Blender imports torch or memmatte: the matting runs in memmatte's own Python.
"""

from __future__ import annotations

_MODULES = ("preferences", "nodes", "operators")


def register() -> None:
    import importlib

    for name in _MODULES:
        importlib.import_module(f".{name}", __package__).register()


def unregister() -> None:
    import importlib

    for name in reversed(_MODULES):
        importlib.import_module(f".{name}", __package__).unregister()


def matte_scene(
    scene=None,
    *,
    python: str | None = None,
    weights: str | None = None,
    device: str | None = None,
    report=print,
) -> list[str]:
    """Computes the matte of every Memmatte node in ``scene``'s compositor, synchronously.

    For render farms and scripts (``blender -b shot.blend --python-expr ...``). A node whose
    cache already holds the matte of its current footage and settings is not computed again,
    so every task of a farm job can call this before rendering its frames.
    python, weights, device: override the add-on preferences (with neither an argument nor
    a preference, memmatte's Python comes from ``$MEMMATTE_PYTHON``). ``report`` receives
    progress lines. Returns the matte folders written; raises ``FootageError`` or
    ``WorkerError`` with a readable message when a node cannot be matted.
    """
    import dataclasses

    import bpy

    from . import jobs
    from .preferences import settings

    chosen = settings()
    overrides = {"python": python, "weights": weights, "device": device}
    chosen = dataclasses.replace(chosen, **{k: v for k, v in overrides.items() if v is not None})
    return jobs.matte_scene(scene or bpy.context.scene, chosen, report)


def check_scene(scene=None) -> None:
    """Raises ``jobs.CacheError`` (a ``WorkerError``) naming the node when a Memmatte node's
    cache is missing, incomplete or stale for ``scene``'s frames; what a render-only farm
    task runs before rendering (also ``bpy.ops.memmatte.check_cache()``)."""
    import bpy

    from . import jobs

    jobs.check_scene(scene or bpy.context.scene)
