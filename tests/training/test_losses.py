"""Losses of §5.2, each checked against a value worked out by hand."""

import math

import pytest
import torch

from training.losses import (
    LossTerms,
    alpha_l1,
    composition_loss,
    image_loss,
    laplacian_loss,
    laplacian_pyramid,
    reconstruct,
    segmentation_loss,
    temporal_aggregation_loss,
    temporal_coherence_loss,
    total_loss,
)

F64 = torch.float64


def frames(values: list, channels: int = 1) -> torch.Tensor:
    """(1, T, C, H, W) from nested [T][C][H][W] lists."""
    x = torch.tensor(values, dtype=F64)
    return x.reshape(1, len(values), channels, *x.shape[-2:])


def random_inputs(seed: int, t: int = 3) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    shapes = {
        "pred_pha": (2, t, 1, 16, 12),
        "pred_fgr": (2, t, 3, 16, 12),
        "agg_pha": (2, t, 1, 4, 3),
        "agg_fgr": (2, t, 3, 4, 3),
        "true_pha": (2, t, 1, 16, 12),
        "true_fgr": (2, t, 3, 16, 12),
    }
    return {k: torch.rand(s, generator=g, dtype=F64) for k, s in shapes.items()}


def test_alpha_l1_hand_value() -> None:
    pred = frames([[[[0.2, 0.4], [0.6, 0.8]]]])
    true = frames([[[[0.0, 0.5], [1.0, 0.8]]]])
    # (0.2 + 0.1 + 0.4 + 0.0) / 4 = 0.175
    assert alpha_l1(pred, true).item() == pytest.approx(0.175)


def test_pyramid_of_an_impulse_by_hand() -> None:
    # A 1x4 row [1, 0, 0, 0]: with H = 1 the vertical pass is the identity, so the pyramid is 1-D.
    # down: replicate-pad to [1 1 | 1 0 0 0 | 0 0], blur with [1 4 6 4 1]/16 at columns 0 and 2:
    #   (1 + 4 + 6) / 16 = 11/16 and (1 + 0 + 0 + 0 + 0) / 16 = 1/16  ->  g2 = [11/16, 1/16]
    # up (a = 11/16, b = 1/16): coarse padded [a a b b] on even positions, taps x2/16:
    #   (7a + b)/8 = 39/64, (a + b)/2 = 24/64, (a + 7b)/8 = 9/64, b = 4/64
    # band 1 = [1, 0, 0, 0] - [39, 24, 9, 4]/64 = [25, -24, -9, -4]/64
    # level 2 of [p, q]: down = (11p + 5q)/16 = (121 + 5)/256 = 63/128, up of one sample = constant
    # band 2 = [88, 8]/128 - 63/128 = [25, -55]/128, residual = 63/128
    x = torch.tensor([[[[1.0, 0.0, 0.0, 0.0]]]], dtype=F64)
    pyramid = laplacian_pyramid(x, levels=2)
    assert len(pyramid.bands) == 2
    torch.testing.assert_close(
        pyramid.bands[0], torch.tensor([[[[25, -24, -9, -4]]]], dtype=F64) / 64
    )
    torch.testing.assert_close(pyramid.bands[1], torch.tensor([[[[25, -55]]]], dtype=F64) / 128)
    torch.testing.assert_close(pyramid.residual, torch.tensor([[[[63]]]], dtype=F64) / 128)


def test_laplacian_loss_hand_value() -> None:
    pred = frames([[[[1.0, 0.0, 0.0, 0.0]]]])
    true = torch.zeros_like(pred)
    # The pyramid is linear, so the loss is that of the bands of the impulse above:
    # s=1: 2^0 * (25 + 24 + 9 + 4)/64/4 = 62/256;  s=2: 2^1 * (25 + 55)/128/2 = 160/256
    assert laplacian_loss(pred, true, levels=2).item() == pytest.approx(222 / 256)
    # A third level is 1 pixel wide and has no detail: 2^2 * 0 adds nothing.
    assert laplacian_loss(pred, true, levels=3).item() == pytest.approx(222 / 256)


def test_laplacian_loss_ignores_a_constant_offset() -> None:
    true = torch.rand(1, 2, 1, 9, 7, dtype=F64, generator=torch.Generator().manual_seed(1)) * 0.5
    # A constant has no band-pass content at any level, even at odd sizes and borders.
    assert laplacian_loss(true + 0.25, true).item() == pytest.approx(0.0, abs=1e-12)
    assert alpha_l1(true + 0.25, true).item() == pytest.approx(0.25)


def test_pyramid_shapes_and_reconstruction() -> None:
    x = torch.rand(2, 3, 13, 9, dtype=F64, generator=torch.Generator().manual_seed(2))
    pyramid = laplacian_pyramid(x, levels=5)
    assert [tuple(b.shape[-2:]) for b in pyramid.bands] == [(13, 9), (7, 5), (4, 3), (2, 2), (1, 1)]
    assert tuple(pyramid.residual.shape) == (2, 3, 1, 1)
    torch.testing.assert_close(reconstruct(pyramid), x, rtol=0, atol=1e-12)


def test_composition_loss_hand_value() -> None:
    true_pha = frames([[[[1.0, 0.5]]]])
    true_fgr = torch.full((1, 1, 3, 1, 2), 0.5, dtype=F64)
    pred_fgr = frames([[[[1.0, 1.0]], [[0.5, 0.75]], [[0.25, 0.5]]]], channels=3)
    # fgr errors R [0.5, 0.5], G [0, 0.25], B [0.25, 0], weighted by alpha [1, 0.5]:
    # (0.5 + 0.25 + 0 + 0.125 + 0.25 + 0) / 6 = 1.125 / 6 = 0.1875
    assert composition_loss(pred_fgr, true_fgr, true_pha).item() == pytest.approx(0.1875)


def test_composition_loss_ignores_colour_where_alpha_is_zero() -> None:
    true_pha = frames([[[[0.0, 1.0]]]])
    true_fgr = torch.zeros(1, 1, 3, 1, 2, dtype=F64)
    pred_fgr = true_fgr.clone()
    pred_fgr[..., 0] = 1.0
    assert composition_loss(pred_fgr, true_fgr, true_pha).item() == 0.0


def two_frame_clip() -> dict[str, torch.Tensor]:
    """A 1x4 two-frame clip whose every term is worked out by hand below.

    True alpha is the impulse [1, 0, 0, 0] in both frames over a flat 0.25 foreground; the
    prediction misses the impulse, adds 0.1 everywhere in frame 1 and predicts the foreground
    0.5 too bright; the aggregation head (1x1) gets alpha right and its foreground 0.25 off.
    """
    impulse = [[[1.0, 0.0, 0.0, 0.0]]]
    return {
        "true_pha": frames([impulse, impulse]),
        "pred_pha": frames([[[[0.0] * 4]], [[[0.1] * 4]]]),
        "true_fgr": torch.full((1, 2, 3, 1, 4), 0.25, dtype=F64),
        "pred_fgr": torch.full((1, 2, 3, 1, 4), 0.75, dtype=F64),
        "agg_pha": torch.full((1, 2, 1, 1, 1), 0.25, dtype=F64),
        "agg_fgr": torch.full((1, 2, 3, 1, 1), 0.5, dtype=F64),
    }


# alpha L1: frame 0 (1 + 0 + 0 + 0) / 4 = 0.25, frame 1 (0.9 + 0.1 + 0.1 + 0.1) / 4 = 0.3
ALPHA_L1 = 0.275
# Laplacian: pred - true is minus the impulse (plus a constant in frame 1, which no band holds),
# so both frames give the impulse's 222/256 (test_laplacian_loss_hand_value); levels 3 to 5 of
# a 1x4 image are one pixel wide and hold nothing.
LAPLACIAN = 222 / 256
# composition: |0.75 - 0.25| = 0.5 on 3 channels, weighted by alpha [1, 0, 0, 0]: 1.5 / 12
COMPOSITION = 0.125
# aggregation: true alpha area-averaged to 1x1 is 0.25 (no error), foreground 0.25 vs 0.5
TEM_AGG = 0.25
# coherence: d/dt pred alpha = 0.1 everywhere, d/dt true = 0 -> 0.01; foregrounds are static
TEM = 0.01


def test_image_loss_hand_value() -> None:
    i = two_frame_clip()
    got = image_loss(i["pred_pha"], i["pred_fgr"], i["true_pha"], i["true_fgr"])
    assert got.item() == pytest.approx(ALPHA_L1 + LAPLACIAN + COMPOSITION)


def test_temporal_aggregation_loss_hand_value() -> None:
    true_pha = frames([[[[0.0, 1.0], [1.0, 1.0]]]])
    true_fgr = frames(
        [[[[1.0, 1.0], [1.0, 1.0]], [[0.0, 0.0], [0.0, 1.0]], [[0.5, 0.5], [0.5, 0.5]]]],
        channels=3,
    )
    agg_pha = torch.full((1, 1, 1, 1, 1), 0.5, dtype=F64)
    agg_fgr = torch.tensor([1.0, 0.5, 0.0], dtype=F64).reshape(1, 1, 3, 1, 1)
    # Area-averaged to 1x1: alpha 3/4, fgr [1, 1/4, 1/2].
    # alpha |0.5 - 0.75| = 0.25; fgr (0 + 0.25 + 0.5) / 3 = 0.25; total 0.5
    got = temporal_aggregation_loss(agg_pha, agg_fgr, true_pha, true_fgr)
    assert got.item() == pytest.approx(0.5)


def test_temporal_coherence_loss_hand_value() -> None:
    true_pha = frames([[[[0.0]]], [[[0.5]]], [[[1.0]]]])
    pred_pha = frames([[[[0.0]]], [[[0.25]]], [[[1.0]]]])
    true_fgr = torch.full((1, 3, 3, 1, 1), 0.5, dtype=F64)
    pred_fgr = true_fgr.clone()
    pred_fgr[:, 2] = 0.75
    # alpha: d_pred [0.25, 0.75] - d_true [0.5, 0.5] = [-0.25, 0.25] -> mean sq 0.0625
    # fgr: d_pred [0, 0.25] - d_true [0, 0] on each channel -> (0 + 0.0625) / 2 = 0.03125
    got = temporal_coherence_loss(pred_pha, true_pha, pred_fgr, true_fgr)
    assert got.item() == pytest.approx(0.09375)


def test_temporal_coherence_ignores_a_steady_offset() -> None:
    i = random_inputs(4)
    got = temporal_coherence_loss(i["true_pha"] + 0.1, i["true_pha"], i["true_fgr"], i["true_fgr"])
    assert got.item() == pytest.approx(0.0, abs=1e-12)


def test_temporal_coherence_is_zero_with_grad_for_one_frame() -> None:
    i = random_inputs(5, t=1)
    pred_pha = i["pred_pha"].requires_grad_()
    pred_fgr = i["pred_fgr"].requires_grad_()
    loss = temporal_coherence_loss(pred_pha, i["true_pha"], pred_fgr, i["true_fgr"])
    assert loss.item() == 0.0
    assert loss.shape == ()
    loss.backward()
    assert pred_pha.grad is not None and torch.count_nonzero(pred_pha.grad) == 0


def test_segmentation_loss_hand_value() -> None:
    logits = torch.tensor([0.0, math.log(3.0)], dtype=F64).reshape(1, 1, 1, 1, 2)
    mask = torch.ones_like(logits)
    # -log(sigmoid(0)) = log 2; -log(sigmoid(log 3)) = -log(3/4); mean = log(8/3) / 2
    assert segmentation_loss(logits, mask).item() == pytest.approx(math.log(8 / 3) / 2)


def test_total_loss_names_every_term_with_its_hand_value() -> None:
    terms = total_loss(**two_frame_clip())
    assert isinstance(terms, LossTerms)
    assert terms.alpha_l1.item() == pytest.approx(ALPHA_L1)
    assert terms.laplacian.item() == pytest.approx(LAPLACIAN)
    assert terms.composition.item() == pytest.approx(COMPOSITION)
    assert terms.tem_agg.item() == pytest.approx(TEM_AGG)
    assert terms.tem.item() == pytest.approx(TEM)
    assert terms.total.item() == pytest.approx(ALPHA_L1 + LAPLACIAN + COMPOSITION + TEM_AGG + TEM)


def test_every_term_is_zero_on_identical_inputs() -> None:
    i = random_inputs(7)
    agg_pha = torch.nn.functional.interpolate(i["true_pha"].flatten(0, 1), (4, 3), mode="area")
    agg_fgr = torch.nn.functional.interpolate(i["true_fgr"].flatten(0, 1), (4, 3), mode="area")
    terms = total_loss(
        pred_pha=i["true_pha"].clone(),
        pred_fgr=i["true_fgr"].clone(),
        agg_pha=agg_pha.unflatten(0, (2, 3)),
        agg_fgr=agg_fgr.unflatten(0, (2, 3)),
        true_pha=i["true_pha"],
        true_fgr=i["true_fgr"],
    )
    for name in ("alpha_l1", "laplacian", "composition", "tem_agg", "tem", "total"):
        assert getattr(terms, name).item() == pytest.approx(0.0, abs=1e-12), name
    logits = torch.tensor([-30.0, 30.0], dtype=F64)
    assert segmentation_loss(logits, torch.tensor([0.0, 1.0], dtype=F64)).item() < 1e-12


def test_gradients_reach_every_prediction() -> None:
    i = random_inputs(8)
    for name in ("pred_pha", "pred_fgr", "agg_pha", "agg_fgr"):
        i[name].requires_grad_()
    total_loss(**i).total.backward()
    for name in ("pred_pha", "pred_fgr", "agg_pha", "agg_fgr"):
        grad = i[name].grad
        assert grad is not None and torch.isfinite(grad).all(), name
        assert grad.abs().sum() > 0, name
