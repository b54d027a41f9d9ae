"""Matting metrics of §6: MAD, MSE, Grad, Conn, dtSSD, and foreground MAD/MSE.

The constants, scales and formulas follow Robust Video Matting's low-resolution benchmark
(``evaluation/evaluate_lr.py`` in PeterL1n/RobustVideoMatting), so numbers are comparable with the
tables in the paper and in RVM:

======== ================================================================ =========
metric   per frame                                                        scale
======== ================================================================ =========
MAD      mean ``|pred - true|``                                           x 1e3
MSE      mean ``(pred - true)**2``                                        x 1e3
Grad     sum of squared differences of Gaussian-gradient magnitudes      / 1e3
         (sigma 1.4, both mattes min-max normalised first)
Conn     sum ``|phi(true) - phi(pred)|``, thresholds every 0.1,           / 1e3
         4-connectivity, theta 0.15
dtSSD    ``sqrt(sum(((p_t - p_t-1) - (t_t - t_t-1))**2) / pixels)``      x 1e2
fgr MAD  MAD over the colour values of pixels whose true alpha is > 0     x 1e3
fgr MSE  MSE over the same values                                         x 1e3
======== ================================================================ =========

Every frame function takes one frame as a numpy array of floats in [0, 1] (alpha ``(H, W)``,
foreground ``(H, W, 3)``) and returns a Python float. They compute in float64.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.floating]

GRAD_SIGMA = 1.4
CONN_STEP = 0.1
CONN_THETA = 0.15


def mad(pred: FloatArray, true: FloatArray) -> float:
    """Mean absolute difference x 1e3.

    Args:
        pred: predicted values in [0, 1], any shape (an ``(H, W)`` alpha frame).
        true: ground truth, same shape.
    """
    diff = np.asarray(pred, np.float64) - np.asarray(true, np.float64)
    return float(np.abs(diff).mean() * 1e3)


def mse(pred: FloatArray, true: FloatArray) -> float:
    """Mean squared error x 1e3.

    Args:
        pred: predicted values in [0, 1], any shape (an ``(H, W)`` alpha frame).
        true: ground truth, same shape.
    """
    diff = np.asarray(pred, np.float64) - np.asarray(true, np.float64)
    return float((diff**2).mean() * 1e3)


def _gaussian(x: FloatArray, sigma: float) -> FloatArray:
    return np.exp(-(x**2) / (2 * sigma**2)) / (sigma * np.sqrt(2 * np.pi))


def gaussian_derivative_filters(
    sigma: float = GRAD_SIGMA, epsilon: float = 1e-2
) -> tuple[FloatArray, FloatArray]:
    """The x and y Gaussian-derivative kernels of the Grad metric.

    The half-width is the distance at which the Gaussian falls to ``epsilon`` of a unit-height
    peak, ``ceil(sigma * sqrt(-2 ln(sqrt(2 pi) sigma epsilon)))`` (4 for sigma 1.4, so 9x9).
    The x kernel is ``G(row) * G'(column)`` with ``G'(x) = -x G(x) / sigma**2``, scaled to unit
    Frobenius norm; the y kernel is its transpose.

    Returns:
        ``(filter_x, filter_y)``, each ``(2 * half + 1, 2 * half + 1)`` float64.
    """
    half = int(np.ceil(sigma * np.sqrt(-2 * np.log(np.sqrt(2 * np.pi) * sigma * epsilon))))
    offsets = np.arange(-half, half + 1, dtype=np.float64)
    gauss = _gaussian(offsets, sigma)
    dgauss = -offsets * gauss / sigma**2
    filter_x = np.outer(gauss, dgauss)
    filter_x /= np.sqrt((filter_x**2).sum())
    return filter_x, filter_x.T.copy()


def _minmax_normalise(x: FloatArray) -> FloatArray:
    """Stretch ``x`` to [0, 1]; a constant frame becomes all zeros (as ``cv2.normalize`` does)."""
    lo, hi = float(x.min()), float(x.max())
    if hi - lo <= np.finfo(np.float64).eps:
        return np.zeros_like(x)
    return (x - lo) / (hi - lo)


def _gradient_magnitude(x: FloatArray, filter_x: FloatArray, filter_y: FloatArray) -> FloatArray:
    # filter2D correlates (no kernel flip) and BORDER_REPLICATE extends edges, as in RVM.
    gx = cv2.filter2D(x, -1, filter_x, borderType=cv2.BORDER_REPLICATE)
    gy = cv2.filter2D(x, -1, filter_y, borderType=cv2.BORDER_REPLICATE)
    return np.sqrt(gx**2 + gy**2)


def grad(pred: FloatArray, true: FloatArray, sigma: float = GRAD_SIGMA) -> float:
    """Gradient error / 1e3.

    Both mattes are min-max normalised to [0, 1], filtered with ``gaussian_derivative_filters``
    (replicated borders) and the squared differences of their gradient magnitudes summed.

    Args:
        pred: ``(H, W)`` predicted alpha in [0, 1].
        true: ``(H, W)`` ground-truth alpha in [0, 1].
        sigma: Gaussian scale in pixels.
    """
    filter_x, filter_y = gaussian_derivative_filters(sigma)
    pred_grad = _gradient_magnitude(
        _minmax_normalise(np.asarray(pred, np.float64)), filter_x, filter_y
    )
    true_grad = _gradient_magnitude(
        _minmax_normalise(np.asarray(true, np.float64)), filter_x, filter_y
    )
    return float(((true_grad - pred_grad) ** 2).sum() / 1e3)


def _largest_component(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """The largest 4-connected component of ``mask`` (the first one on a tie); empty if none."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=4
    )
    if count <= 1:
        return np.zeros_like(mask)
    areas = stats[1:, cv2.CC_STAT_AREA]
    return labels == int(np.argmax(areas)) + 1


def conn(pred: FloatArray, true: FloatArray) -> float:
    """Connectivity error / 1e3 (Rhemann et al. 2009, as implemented by RVM).

    For each threshold ``t_i = i * 0.1``, i = 1..10, the pixels where both mattes are >= ``t_i``
    are labelled with 4-connectivity; a pixel not yet assigned that falls outside the largest
    component gets the level ``l = t_{i-1}`` (the last threshold at which it was still connected);
    pixels connected at every threshold get ``l = 1``. Then ``d = alpha - l`` and
    ``phi = 1 - d * [d >= 0.15]`` for each matte, and the error is ``sum |phi(true) - phi(pred)|``.

    The level map is shared by both mattes, so a spurious blob where the truth is 0 costs its
    predicted alpha per pixel whether or not it touches the subject; connectivity changes the
    score where the truth is non-zero.

    Args:
        pred: ``(H, W)`` predicted alpha in [0, 1].
        true: ``(H, W)`` ground-truth alpha in [0, 1].
    """
    pred = np.asarray(pred, np.float64)
    true = np.asarray(true, np.float64)
    # arange keeps RVM's exact float thresholds (e.g. 0.30000000000000004).
    thresholds = np.arange(0, 1 + CONN_STEP, CONN_STEP)
    level = np.full(true.shape, -1.0)
    for i in range(1, len(thresholds)):
        connected = _largest_component((true >= thresholds[i]) & (pred >= thresholds[i]))
        newly_cut = (level == -1) & ~connected
        level[newly_cut] = thresholds[i - 1]
    level[level == -1] = 1.0

    def phi(alpha: FloatArray) -> FloatArray:
        d = alpha - level
        return 1 - d * (d >= CONN_THETA)

    return float(np.abs(phi(true) - phi(pred)).sum() / 1e3)


def dtssd(
    pred: FloatArray, pred_prev: FloatArray, true: FloatArray, true_prev: FloatArray
) -> float:
    """Temporal coherence error x 1e2.

    ``sqrt(sum(((pred - pred_prev) - (true - true_prev))**2) / N)``, N the number of pixels: the
    root-mean-square difference of the frame-to-frame changes.

    Args:
        pred: ``(H, W)`` predicted alpha of frame t, in [0, 1].
        pred_prev: ``(H, W)`` predicted alpha of frame t - 1.
        true: ``(H, W)`` ground-truth alpha of frame t.
        true_prev: ``(H, W)`` ground-truth alpha of frame t - 1.
    """
    pred_dt = np.asarray(pred, np.float64) - np.asarray(pred_prev, np.float64)
    true_dt = np.asarray(true, np.float64) - np.asarray(true_prev, np.float64)
    return float(np.sqrt(((pred_dt - true_dt) ** 2).sum() / true_dt.size) * 1e2)


def _foreground_values(
    pred_fgr: FloatArray, true_fgr: FloatArray, true_pha: FloatArray
) -> tuple[FloatArray, FloatArray]:
    mask = np.asarray(true_pha) > 0
    return np.asarray(pred_fgr, np.float64)[mask], np.asarray(true_fgr, np.float64)[mask]


def foreground_mad(pred_fgr: FloatArray, true_fgr: FloatArray, true_pha: FloatArray) -> float:
    """Foreground MAD x 1e3 over the colour values of pixels whose true alpha is > 0.

    As in RVM, each counted pixel contributes its three channels to the mean; pixels where the
    subject is absent are left out, since their foreground colour is undefined. A frame with no
    such pixel scores 0 (nothing to get wrong; RVM would return NaN).

    Args:
        pred_fgr: ``(H, W, 3)`` predicted foreground in [0, 1].
        true_fgr: ``(H, W, 3)`` ground-truth foreground in [0, 1].
        true_pha: ``(H, W)`` ground-truth alpha in [0, 1].
    """
    pred_values, true_values = _foreground_values(pred_fgr, true_fgr, true_pha)
    return mad(pred_values, true_values) if pred_values.size else 0.0


def foreground_mse(pred_fgr: FloatArray, true_fgr: FloatArray, true_pha: FloatArray) -> float:
    """Foreground MSE x 1e3 over the colour values of pixels whose true alpha is > 0.

    Same pixel selection and empty-frame rule as ``foreground_mad``.

    Args:
        pred_fgr: ``(H, W, 3)`` predicted foreground in [0, 1].
        true_fgr: ``(H, W, 3)`` ground-truth foreground in [0, 1].
        true_pha: ``(H, W)`` ground-truth alpha in [0, 1].
    """
    pred_values, true_values = _foreground_values(pred_fgr, true_fgr, true_pha)
    return mse(pred_values, true_values) if pred_values.size else 0.0


INSIDE = 0.99
"""True alpha above which a pixel is inside the person: its foreground is the frame itself."""


def foreground_mse_inside(
    pred_fgr: FloatArray, true_fgr: FloatArray, true_pha: FloatArray
) -> float:
    """Foreground MSE x 1e3 over the pixels inside the person (true alpha > ``INSIDE``),
    where a matting tool should hand back the plate's own colour; 0 for a frame with none."""
    mask = np.asarray(true_pha) > INSIDE
    pred_values = np.asarray(pred_fgr, np.float64)[mask]
    return mse(pred_values, np.asarray(true_fgr, np.float64)[mask]) if mask.any() else 0.0


def gross_error_share(pred: FloatArray, reference: FloatArray, threshold: float = 0.5) -> float:
    """The share of pixels, in per cent, whose alpha differs from ``reference`` by more than
    ``threshold``: person taken for background or background for person, not soft edges."""
    diff = np.abs(np.asarray(pred, np.float64) - np.asarray(reference, np.float64))
    return float((diff > threshold).mean() * 100.0)


def evaluate_clip(
    pred_frames: Sequence[FloatArray],
    true_frames: Sequence[FloatArray],
    pred_fgr: Sequence[FloatArray] | None = None,
    true_fgr: Sequence[FloatArray] | None = None,
) -> dict[str, float]:
    """Every metric of one clip, each the mean over its frames.

    dtSSD follows RVM's bookkeeping: frame 0 has no predecessor and scores 0, and that 0 is part
    of the mean (a clip of T frames averages T values, T - 1 of them real differences).

    Args:
        pred_frames: T predicted alpha frames, each ``(H, W)`` in [0, 1] (a ``(T, H, W)`` array works).
        true_frames: T ground-truth alpha frames, matching ``pred_frames``.
        pred_fgr: optional T predicted foregrounds, each ``(H, W, 3)`` in [0, 1].
        true_fgr: T ground-truth foregrounds; give both foreground arguments or neither.

    Returns:
        ``{"mad", "mse", "grad", "conn", "dtssd"}``, plus ``"fgr_mad"``, ``"fgr_mse"`` and
        ``"fgr_mse_inside"`` when the foregrounds are given, each a float.

    Raises:
        ValueError: the clip is empty, the sequences differ in length, only one foreground
            sequence is given, or a frame's shapes disagree (the message names the frame).
    """
    if len(pred_frames) != len(true_frames):
        raise ValueError(
            f"{len(pred_frames)} predicted alpha frames but {len(true_frames)} ground-truth frames"
        )
    if len(true_frames) == 0:
        raise ValueError("the clip has no frames")
    foregrounds: tuple[Sequence[FloatArray], Sequence[FloatArray]] | None = None
    if pred_fgr is not None and true_fgr is not None:
        if not len(pred_fgr) == len(true_fgr) == len(true_frames):
            raise ValueError(
                f"{len(pred_fgr)} predicted and {len(true_fgr)} ground-truth foregrounds "
                f"for {len(true_frames)} alpha frames"
            )
        foregrounds = (pred_fgr, true_fgr)
    elif pred_fgr is not None or true_fgr is not None:
        raise ValueError("give both pred_fgr and true_fgr, or neither")

    scores: dict[str, list[float]] = {k: [] for k in ("mad", "mse", "grad", "conn", "dtssd")}
    if foregrounds is not None:
        scores |= {"fgr_mad": [], "fgr_mse": [], "fgr_mse_inside": []}
    for t, (pred, true) in enumerate(zip(pred_frames, true_frames, strict=True)):
        if np.shape(pred) != np.shape(true) or np.ndim(true) != 2:
            raise ValueError(
                f"frame {t}: predicted alpha {np.shape(pred)} and ground truth {np.shape(true)} "
                "must be the same (H, W)"
            )
        scores["mad"].append(mad(pred, true))
        scores["mse"].append(mse(pred, true))
        scores["grad"].append(grad(pred, true))
        scores["conn"].append(conn(pred, true))
        scores["dtssd"].append(
            0.0 if t == 0 else dtssd(pred, pred_frames[t - 1], true, true_frames[t - 1])
        )
        if foregrounds is not None:
            pred_rgb, true_rgb = foregrounds[0][t], foregrounds[1][t]
            expected = (*np.shape(true), 3)
            if np.shape(pred_rgb) != expected or np.shape(true_rgb) != expected:
                raise ValueError(
                    f"frame {t}: foregrounds {np.shape(pred_rgb)} and {np.shape(true_rgb)} "
                    f"must both be {expected}"
                )
            scores["fgr_mad"].append(foreground_mad(pred_rgb, true_rgb, true))
            scores["fgr_mse"].append(foreground_mse(pred_rgb, true_rgb, true))
            scores["fgr_mse_inside"].append(foreground_mse_inside(pred_rgb, true_rgb, true))
    return {name: float(np.mean(values)) for name, values in scores.items()}
