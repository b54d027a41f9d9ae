"""The attention-memory matting network of the paper."""

from core.model.config import NetworkConfig
from core.model.memory import MEMORY_FRAMES, memory_indices, memory_window
from core.model.network import (
    STRIDE,
    Encoding,
    MattingNetwork,
    MattingOutput,
    downsample,
    network_size,
    pad_to_stride,
)

__all__ = [
    "MEMORY_FRAMES",
    "STRIDE",
    "Encoding",
    "MattingNetwork",
    "MattingOutput",
    "NetworkConfig",
    "downsample",
    "memory_indices",
    "memory_window",
    "network_size",
    "pad_to_stride",
]
