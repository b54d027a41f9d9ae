import pytest
import torch

from core.model import MattingNetwork, NetworkConfig


def _randomise_batchnorm(network: torch.nn.Module, seed: int) -> None:
    """Gives BN layers non-trivial statistics so eval-mode outputs are not degenerate."""
    g = torch.Generator().manual_seed(seed)
    for m in network.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=g))
            m.weight.data.copy_(0.5 + torch.rand(m.num_features, generator=g))
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1 + 0.2)


@pytest.fixture
def lite_network() -> MattingNetwork:
    torch.manual_seed(0)
    net = MattingNetwork(NetworkConfig.lite())
    _randomise_batchnorm(net, 0)
    return net.eval()


@pytest.fixture
def paper_network() -> MattingNetwork:
    torch.manual_seed(0)
    net = MattingNetwork()
    _randomise_batchnorm(net, 0)
    return net.eval()


@pytest.fixture
def clip() -> torch.Tensor:
    """(1, 6, 3, 40, 56) smooth random frames in [0, 1]."""
    g = torch.Generator().manual_seed(7)
    base = torch.rand(1, 1, 3, 10, 14, generator=g)
    drift = torch.rand(1, 6, 3, 10, 14, generator=g) * 0.3
    frames = torch.nn.functional.interpolate(
        (base + drift).clamp(0, 1).flatten(0, 1), size=(40, 56), mode="bilinear"
    )
    return frames.unflatten(0, (1, 6))


@pytest.fixture(autouse=True)
def private_compiled_cache(tmp_path_factory, monkeypatch) -> None:
    """Sessions and core.batch use compiled graphs when the cache has them: tests must not
    pick up (or leave) packages in the user's cache."""
    monkeypatch.setenv("MEMMATTE_CACHE", str(tmp_path_factory.mktemp("memmatte-cache")))
