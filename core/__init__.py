"""memmatte core: the matting network, Deep Guided Filter refinement and ``MattingSession``.

Host-agnostic: nothing here imports a host application or the training code.

The public names are imported on first use, so that ``import core`` stays cheap and
``python -m core.weights`` (or any other ``core`` module run as a program) is not already
imported by the package when it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

__all__ = ["FrameError", "MatteResult", "MattingSession", "__version__"]

if TYPE_CHECKING:
    from core.session import FrameError, MatteResult, MattingSession


def __getattr__(name: str):
    if name in ("FrameError", "MatteResult", "MattingSession"):
        from core import session

        return getattr(session, name)
    raise AttributeError(f"module 'core' has no attribute {name!r}")
