"""Fixtures of the image-sequence processor tests: a tiny random network saved as weights,
and real image sequences written with OpenImageIO."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from core.model import MattingNetwork, NetworkConfig
from core.weights import save_weights


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Outputs are compared bit for bit across processes that all use one thread; one thread
    is also much faster than an oversubscribed pool for 32x48 frames."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random lite network with non-trivial batch-norm statistics (so alpha spans a
    useful range), saved as a memmatte checkpoint."""
    torch.manual_seed(0)
    network = MattingNetwork(NetworkConfig.lite())
    g = torch.Generator().manual_seed(0)
    for m in network.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=g))
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1 + 0.2)
    return save_weights(network, tmp_path_factory.mktemp("weights") / "w.safetensors")
