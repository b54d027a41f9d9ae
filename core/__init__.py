"""memmatte core: the matting network, Deep Guided Filter refinement and ``MattingSession``.

Host-agnostic: nothing here imports a host application or the training code.
"""

from core.session import FrameError, MatteResult, MattingSession

__version__ = "0.1.0"

__all__ = ["FrameError", "MatteResult", "MattingSession", "__version__"]
