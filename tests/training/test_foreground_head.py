"""The foreground head's own training: alpha untouched, the foreground learned."""

from __future__ import annotations

import torch

from training.distill import ClipSet, VariantConfig
from training.foreground_head import (
    fit_foreground_rows,
    train_foreground_head,
    train_refiner,
)
from training.losses import touched_l1


def _clips() -> ClipSet:
    """Two 3-frame clips, 32x48: a bright person (alpha 255) whose true foreground is the
    composite made redder, over a dark background."""
    torch.manual_seed(0)
    com = (torch.rand(2, 3, 3, 32, 48) * 80).to(torch.uint8)
    pha = torch.zeros(2, 3, 1, 32, 48, dtype=torch.uint8)
    pha[..., 8:24, 12:36] = 255
    com[..., 8:24, 12:36] += 120
    fgr = com.clone()
    fgr[:, :, 0] = fgr[:, :, 0].clamp(max=215) + 40
    return ClipSet(com, fgr, pha, fgr.clone(), pha.clone(), torch.tensor([True, True]))


def test_only_the_foreground_rows_learn_and_alpha_stays_bit_identical(lite_network):
    clips = _clips()
    frames = clips.com[:1].float() / 255
    with torch.no_grad():
        before = lite_network.eval()(frames)
    losses = train_foreground_head(lite_network, clips, VariantConfig("m", 2, 2), steps=30)
    with torch.no_grad():
        after = lite_network(frames)
    assert torch.equal(before.alpha, after.alpha)
    assert sum(losses[-5:]) < sum(losses[:5])  # the foreground gets closer to its target
    assert not torch.equal(before.foreground, after.foreground)
    trainable = [n for n, p in lite_network.named_parameters() if p.requires_grad]
    assert trainable == []  # frozen again afterwards


def test_training_starts_from_the_frame_as_the_foreground(lite_network):
    clips = _clips()
    train_foreground_head(lite_network, clips, VariantConfig("m", 1, 2), steps=0)
    frames = clips.com[:1].float() / 255
    with torch.no_grad():
        assert torch.equal(lite_network(frames).foreground, frames)


def test_every_pixel_the_person_touches_counts_alike():
    """The report's foreground MSE scores every pixel with alpha > 0 the same, faint edge
    pixels included; the head's loss must too, and must ignore the background."""
    target = torch.zeros(1, 3, 1, 4)
    pred = torch.zeros(1, 3, 1, 4)
    pred[..., 0] = 0.5  # error on a faint edge pixel
    pred[..., 3] = 0.9  # error on the background: not the person's
    alpha = torch.tensor([1 / 255, 1.0, 0.0, 0.0]).view(1, 1, 1, 4)
    assert touched_l1(pred, target, alpha).item() == 0.25  # 0.5 over two touched pixels
    assert touched_l1(target, target, alpha).item() == 0.0


def test_the_refiner_learns_alone_and_the_network_output_stays_bit_identical(lite_network):
    """The Deep Guided Filter phase after the head: only the filter moves, so what the
    network gives at its own resolution (no filter) is exactly what it gave before."""
    clips = _clips()
    frames = clips.com[:1].float() / 255
    with torch.no_grad():
        before = lite_network.eval()(frames)
        refined_before = lite_network(frames, downsample_ratio=0.5)
    start = {n: p.clone() for n, p in lite_network.named_parameters()}
    train_refiner(lite_network, clips, VariantConfig("m", 2, 2), steps=3, lr=1e-2)
    with torch.no_grad():
        after = lite_network(frames)
        refined_after = lite_network(frames, downsample_ratio=0.5)
    assert torch.equal(before.alpha, after.alpha)
    assert torch.equal(before.foreground, after.foreground)
    assert not torch.equal(refined_before.alpha, refined_after.alpha)
    moved = {n for n, p in lite_network.named_parameters() if not torch.equal(p, start[n])}
    assert moved and all(n.startswith("refiner.") for n in moved)
    assert not any(p.requires_grad for p in lite_network.parameters())


def test_the_least_squares_fit_moves_the_foreground_and_gives_the_conv_a_gradient(lite_network):
    """From a zero batch-norm scale the rows cannot learn more than a shift; the fit sets
    them to the best linear map of the hidden features, alpha untouched, and the gradient
    steps that follow then reach the conv."""
    clips = _clips()
    frames = clips.com[:1].float() / 255
    truth = clips.fgr[:1].float() / 255
    inside = clips.pha[:1].expand_as(clips.com[:1]) > 0
    with torch.no_grad():
        before = lite_network.eval()(frames)
    assert fit_foreground_rows(lite_network, clips, clip_length=3, count=4) == 4 * 3 * 16 * 24
    with torch.no_grad():
        after = lite_network(frames)
    assert torch.equal(before.alpha, after.alpha)
    error = (after.foreground - truth)[inside].square().mean()
    assert error < 0.5 * (before.foreground - truth)[inside].square().mean()

    conv = lite_network.decoder.output.stage2[0]
    start = conv.weight.detach().clone()
    train_foreground_head(lite_network, clips, VariantConfig("m", 1, 2), steps=3, from_zero=False)
    assert not torch.equal(conv.weight[:3], start[:3])
    assert torch.equal(conv.weight[3:], start[3:])
