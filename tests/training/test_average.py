"""Weight-space averages of two checkpoints."""

from __future__ import annotations

import pytest
import torch

from core.model import MattingNetwork, NetworkConfig
from core.weights import load_network, read_weights, save_weights
from training.average import average, main


def test_the_average_lies_between_its_ends_and_keeps_the_networks_record(tmp_path):
    torch.manual_seed(0)
    before, after = MattingNetwork(NetworkConfig.lite()), MattingNetwork(NetworkConfig.lite())
    after.auto_long_side = 384
    a = save_weights(before, tmp_path / "a.safetensors")
    b = save_weights(after, tmp_path / "b.safetensors", metadata={"variant": "memory"})
    assert main([str(a), str(b), "--weight", "0.25", "-o", str(tmp_path / "m.safetensors")]) == 0
    mixed = load_network(tmp_path / "m.safetensors")
    key = "aspp.project.0.weight"
    expected = 0.75 * before.state_dict()[key] + 0.25 * after.state_dict()[key]
    torch.testing.assert_close(mixed.state_dict()[key], expected)
    assert mixed.auto_long_side == 384
    meta = read_weights(tmp_path / "m.safetensors")[1]
    assert meta["variant"] == "memory" and '"weight": 0.25' in meta["average"]
    ends = [average(before, after, w).state_dict()[key] for w in (0.0, 1.0)]
    assert torch.equal(ends[0], before.state_dict()[key])
    assert torch.equal(ends[1], after.state_dict()[key])


def test_networks_of_different_shapes_are_refused():
    with pytest.raises(ValueError, match="different network configurations"):
        average(MattingNetwork(NetworkConfig.lite()), MattingNetwork(NetworkConfig.paper()), 0.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        lite = MattingNetwork(NetworkConfig.lite())
        average(lite, lite, 1.5)
