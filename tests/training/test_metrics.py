"""Metrics of §6 (RVM's evaluate_lr.py conventions), checked by hand on tiny frames."""

import numpy as np
import pytest

from training.metrics import (
    conn,
    dtssd,
    evaluate_clip,
    foreground_mad,
    foreground_mse,
    foreground_mse_inside,
    gaussian_derivative_filters,
    grad,
    gross_error_share,
    mad,
    mse,
)


def disc(blur: bool) -> np.ndarray:
    """(32, 32) matte of a disc, hard-edged or with a soft 5-pixel ramp."""
    yy, xx = np.mgrid[:32, :32]
    radius = np.hypot(yy - 15.5, xx - 15.5)
    if blur:
        return np.clip((10.0 - radius) / 5.0 + 0.5, 0.0, 1.0)
    return (radius < 10.0).astype(np.float64)


def test_mad_and_mse_hand_values() -> None:
    pred = np.array([[0.2, 0.4], [0.6, 0.8]])
    true = np.array([[0.0, 0.5], [1.0, 0.8]])
    # |d| = 0.2, 0.1, 0.4, 0 -> mean 0.175 -> x1e3 = 175
    assert mad(pred, true) == pytest.approx(175.0)
    # d^2 = 0.04, 0.01, 0.16, 0 -> mean 0.0525 -> x1e3 = 52.5
    assert mse(pred, true) == pytest.approx(52.5)


def test_dtssd_hand_value() -> None:
    pred_prev = np.zeros((2, 2))
    pred = np.array([[0.7, 0.5], [0.5, 0.5]])
    true_prev = np.full((2, 2), 0.25)
    true = np.full((2, 2), 0.75)
    # (pred - pred_prev) - (true - true_prev) = [[0.2, 0], [0, 0]]
    # sqrt(0.04 / 4) = 0.1 -> x1e2 = 10
    assert dtssd(pred, pred_prev, true, true_prev) == pytest.approx(10.0)


def test_grad_kernel_matches_rvm_construction() -> None:
    filter_x, filter_y = gaussian_derivative_filters(1.4)
    # half-width ceil(1.4 * sqrt(-2 ln(sqrt(2 pi) * 1.4 * 0.01))) = ceil(3.62) = 4
    assert filter_x.shape == (9, 9)
    assert np.sum(filter_x**2) == pytest.approx(1.0)
    np.testing.assert_allclose(filter_y, filter_x.T)
    # Derivative along columns: odd left-right, even up-down; the centre column is zero.
    np.testing.assert_allclose(filter_x, -filter_x[:, ::-1], atol=1e-15)
    np.testing.assert_allclose(filter_x, filter_x[::-1, :], atol=1e-15)
    assert np.all(filter_x[:, 4] == 0)
    # G'(x) = -x G(x) / sigma^2: negative to the right of the centre.
    assert filter_x[4, 5] < 0 < filter_x[4, 3]


def test_grad_and_conn_zero_when_identical_positive_when_blurred() -> None:
    sharp, soft = disc(blur=False), disc(blur=True)
    assert grad(sharp, sharp) == 0.0
    assert conn(sharp, sharp) == 0.0
    assert grad(soft, sharp) > 0.1
    assert conn(soft, sharp) > 0.01


def test_grad_of_constant_frames_is_finite() -> None:
    # Min-max normalisation maps a constant frame to zeros instead of dividing by zero.
    assert grad(np.full((8, 8), 0.3), np.full((8, 8), 0.7)) == 0.0
    assert np.isfinite(grad(np.full((8, 8), 0.3), disc(blur=True)[:8, :8]))


def test_conn_charges_a_spurious_blob_the_same_attached_or_detached() -> None:
    # RVM's level map comes from pixels where *both* mattes are high, so a false-positive blob on
    # true background (alpha 0) is never in it: each of its pixels costs |phi| = 1, wherever it is.
    true = np.zeros((3, 6))
    true[:, :3] = 1.0
    attached, detached = true.copy(), true.copy()
    attached[:, 3] = 1.0
    detached[:, 5] = 1.0
    assert conn(attached, true) == pytest.approx(3 / 1e3)
    assert conn(detached, true) == pytest.approx(3 / 1e3)


def test_conn_charges_more_for_a_faint_region_cut_off_from_the_subject() -> None:
    # Subject (alpha 1) in columns 0-2 of a 3x6 frame; a faint 3x2 region, true 0.35 and
    # predicted 0.12, either touching it (columns 3-4) or separated by a zero column (4-5).
    def frames(first_col: int) -> tuple[np.ndarray, np.ndarray]:
        true, pred = np.zeros((3, 6)), np.zeros((3, 6))
        true[:, :3] = pred[:, :3] = 1.0
        true[:, first_col : first_col + 2] = 0.35
        pred[:, first_col : first_col + 2] = 0.12
        return pred, true

    # Touching: connected at threshold 0.1, cut at 0.2 -> level 0.1.
    #   true d = 0.25 >= 0.15 -> phi 0.75; pred d = 0.02 -> phi 1; 6 px * 0.25 = 1.5 -> 0.0015
    assert conn(*frames(3)) == pytest.approx(1.5 / 1e3)
    # Separated: not in the largest component even at 0.1 -> level 0.
    #   true d = 0.35 -> phi 0.65; pred d = 0.12 < 0.15 -> phi 1; 6 px * 0.35 = 2.1 -> 0.0021
    assert conn(*frames(4)) == pytest.approx(2.1 / 1e3)


def test_foreground_metrics_count_only_pixels_with_alpha() -> None:
    true_pha = np.array([[0.0, 0.5]])
    true_fgr = np.zeros((1, 2, 3))
    pred_fgr = np.array([[[1.0, 1.0, 1.0], [0.3, 0.0, 0.3]]])
    # Pixel 0 has alpha 0 and is left out. Pixel 1: |d| = 0.3, 0, 0.3 -> mean 0.2 -> 200
    assert foreground_mad(pred_fgr, true_fgr, true_pha) == pytest.approx(200.0)
    # d^2 = 0.09, 0, 0.09 -> mean 0.06 -> 60
    assert foreground_mse(pred_fgr, true_fgr, true_pha) == pytest.approx(60.0)
    # No alpha at all: nothing to score.
    assert foreground_mad(pred_fgr, true_fgr, np.zeros((1, 2))) == 0.0


def test_evaluate_clip_counts_frame_zero_as_zero_dtssd() -> None:
    true = [np.zeros((2, 2))] * 3
    pred = [np.zeros((2, 2)), np.full((2, 2), 0.1), np.full((2, 2), 0.3)]
    scores = evaluate_clip(pred, true)
    assert set(scores) == {"mad", "mse", "grad", "conn", "dtssd"}
    # dtSSD per frame: 0 (no predecessor), sqrt(0.1^2) * 100 = 10, sqrt(0.2^2) * 100 = 20
    # mean over all three frames = 30 / 3 = 10 (15 if frame 0 were skipped)
    assert scores["dtssd"] == pytest.approx(10.0)
    # MAD 0, 100, 300 -> 400/3; MSE 0, 10, 90 -> 100/3
    assert scores["mad"] == pytest.approx(400 / 3)
    assert scores["mse"] == pytest.approx(100 / 3)
    # Constant frames have no gradient after normalisation.
    assert scores["grad"] == 0.0
    # Conn: level 0 everywhere; only frame 2's d = 0.3 >= 0.15 counts: 4 px * 0.3 / 1e3, mean / 3
    assert scores["conn"] == pytest.approx(1.2 / 1e3 / 3)


def test_evaluate_clip_perfect_prediction_scores_zero() -> None:
    rng = np.random.default_rng(0)
    true = [np.clip(disc(blur=True) + rng.normal(0, 0.05, (32, 32)), 0, 1) for _ in range(3)]
    fgr = [rng.random((32, 32, 3)) for _ in range(3)]
    scores = evaluate_clip(true, true, fgr, fgr)
    assert set(scores) == {
        "mad", "mse", "grad", "conn", "dtssd", "fgr_mad", "fgr_mse", "fgr_mse_inside",
    }  # fmt: skip
    assert all(value == 0.0 for value in scores.values()), scores


def test_foreground_inside_the_person_counts_only_true_alpha_above_0_99() -> None:
    true_pha = np.array([[1.0, 0.995, 0.99, 0.5]])
    true_fgr = np.zeros((1, 4, 3))
    pred_fgr = np.array([[[0.1] * 3, [0.3] * 3, [0.9] * 3, [0.9] * 3]])
    # only the first two pixels: (0.01 + 0.09) / 2 x 1e3
    assert foreground_mse_inside(pred_fgr, true_fgr, true_pha) == pytest.approx(50.0)
    assert foreground_mse_inside(pred_fgr, true_fgr, np.zeros((1, 4))) == 0.0


def test_gross_error_share_is_the_per_cent_of_pixels_off_by_more_than_half() -> None:
    reference = np.array([[0.0, 0.0, 1.0, 1.0]])
    assert gross_error_share(np.array([[0.6, 0.4, 0.4, 1.0]]), reference) == pytest.approx(50.0)
    assert gross_error_share(reference, reference) == 0.0


def test_evaluate_clip_names_the_bad_frame() -> None:
    true = [np.zeros((4, 4))] * 2
    with pytest.raises(ValueError, match="frame 1"):
        evaluate_clip([np.zeros((4, 4)), np.zeros((4, 5))], true)
    with pytest.raises(ValueError, match="both"):
        evaluate_clip(true, true, pred_fgr=[np.zeros((4, 4, 3))] * 2)
