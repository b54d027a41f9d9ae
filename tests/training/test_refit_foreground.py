"""The closed-form refit of the foreground output rows keeps alpha bit-identical."""

from __future__ import annotations

import torch

from core.model import MattingNetwork, NetworkConfig
from training.refit_foreground import refit_foreground


def test_refit_fixes_the_foreground_and_leaves_alpha_alone():
    torch.manual_seed(0)
    network = MattingNetwork(NetworkConfig.lite()).eval()
    frames = torch.rand(3, 3, 32, 48)
    true_fgr = frames.flip(1)  # any target the hidden features can explain
    pha = torch.ones(3, 1, 32, 48)
    with torch.no_grad():
        before = network(frames[:, None])
    fit = refit_foreground(network, frames, true_fgr, pha, samples=4000)
    with torch.no_grad():
        after = network(frames[:, None])
    assert torch.equal(after.alpha, before.alpha)
    assert fit["mae_after"] < fit["mae_before"]
    assert (after.foreground - true_fgr[:, None]).abs().mean() < (
        before.foreground - true_fgr[:, None]
    ).abs().mean()
