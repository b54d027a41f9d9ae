"""How a session runs the network on each frame. ``MattingSession`` streams frames through
one ``Engine``; a new runtime (CUDA graphs, onnxruntime, ...) is a new engine class.

- ``EagerEngine``: the network's modules, frames encoded in batches (``eager.py``);
- ``CompiledEngine``: the fused per-frame graphs under ``torch.compile`` (``torch_compile.py``);
- ``AotEngine``: the same graphs as ahead-of-time compiled packages (``aot.py``).
"""

from core.engines.aot import AotEngine
from core.engines.base import Engine, MemoryWindow
from core.engines.eager import EagerEngine
from core.engines.torch_compile import CompiledEngine

__all__ = ["AotEngine", "CompiledEngine", "EagerEngine", "Engine", "MemoryWindow"]
