"""Fixtures: the plug-in built once per test session, a small model, and the minimal host."""

import shutil
import time

import numpy as np
import pytest
import torch

from core.export import flexible_module
from core.model import MattingNetwork, NetworkConfig
from core.weights import save_weights
from tests.conftest import _randomise_batchnorm

H, W = 48, 64


@pytest.fixture(scope="session")
def bundle(tmp_path_factory):
    """The bundle, built as python -m hosts.ofx.build does, in a temporary folder: a test run
    leaves nothing in the checkout (no hosts/ofx/build)."""
    from hosts.ofx.build import build

    missing = [tool for tool in ("cmake", "ninja", "g++") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"building the OpenFX plug-in needs {', '.join(missing)}")
    start = time.perf_counter()
    path = build(tmp_path_factory.mktemp("ofx-build"), jobs=2)
    print(f"\nOpenFX bundle built in {time.perf_counter() - start:.1f} s")
    return path


@pytest.fixture(scope="session")
def host(bundle):
    from hosts.ofx.minihost import MiniHost

    return MiniHost(bundle)


@pytest.fixture(scope="session")
def network():
    torch.manual_seed(0)
    net = MattingNetwork(NetworkConfig.lite())
    _randomise_batchnorm(net, 0)
    return net.eval()


@pytest.fixture(scope="session")
def checkpoint(network, tmp_path_factory):
    return save_weights(network, tmp_path_factory.mktemp("ofx") / "lite.safetensors")


@pytest.fixture(scope="session")
def model(network, tmp_path_factory):
    """A size-flexible TorchScript export of the random-initialised lite network."""
    path = tmp_path_factory.mktemp("ofx") / "lite_any.pt"
    torch.jit.save(flexible_module(network), str(path))
    return path


@pytest.fixture(scope="session")
def clip():
    """Six smooth random float32 RGBA frames, (H, W, 4) in [0, 1], top row first."""
    g = torch.Generator().manual_seed(3)
    base = torch.rand(1, 4, 6, 8, generator=g)
    drift = torch.rand(6, 4, 6, 8, generator=g) * 0.4
    frames = torch.nn.functional.interpolate(
        (base + drift).clamp(0, 1), size=(H, W), mode="bilinear"
    )
    return [np.ascontiguousarray(f.permute(1, 2, 0).numpy(), dtype=np.float32) for f in frames]
