"""The Robust Video Matting teacher against the same export run by TF.js in Node."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.training.teachers.conftest import portrait_frames
from training.teachers.rvm import (
    RobustVideoMatting,
    downsampled_size,
    load_weights,
    run_clip,
)
from training.teachers.tfjs import TfjsFormatError, read_model

TOLERANCE = 1e-4


@pytest.mark.parametrize(
    ("height", "width", "ratio"),
    [(64, 96, 1.0), (64, 96, 0.5), (45, 67, 1.0), (45, 67, 0.5)],
)
def test_clip_matches_tfjs(teacher, run_tfjs, height, width, ratio):
    # Three frames carry the recurrent state; 45x67 exercises odd sizes at every scale.
    frames = portrait_frames(3, height, width)
    expected = run_tfjs(frames, ratio)
    fgr, pha = run_clip(teacher, frames, ratio)
    assert fgr.shape == (3, 3, height, width) and pha.shape == (3, 1, height, width)
    np.testing.assert_allclose(fgr.numpy(), expected["fgr"], rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(pha.numpy(), expected["pha"], rtol=0, atol=TOLERANCE)
    # Not a trivial matte: some pixels are partly foreground in the frames compared.
    assert ((expected["pha"] > 0.05) & (expected["pha"] < 0.95)).mean() > 0.01


def test_recurrent_states_match_tfjs(teacher, run_tfjs):
    frames = portrait_frames(3, 64, 96)  # the frames of a clip test: TF.js runs once
    expected = run_tfjs(frames, 1.0)
    states = (None, None, None, None)
    with torch.no_grad():
        for i, frame in enumerate(frames):
            _, _, *states = teacher(frame[None], *states)
            for k, state in enumerate(states, start=1):
                want = expected[f"r{k}o"][i]
                assert state.shape[1:] == want.shape
                assert state.shape[1] == RobustVideoMatting.state_channels[k - 1]
                np.testing.assert_allclose(state[0].numpy(), want, rtol=0, atol=TOLERANCE)


def test_first_frame_state_is_zero(teacher):
    frame = portrait_frames(1, 32, 48)
    scales = (2, 4, 8, 16)
    channels = RobustVideoMatting.state_channels
    zeros = [torch.zeros(1, c, 32 // s, 48 // s) for c, s in zip(channels, scales, strict=True)]
    with torch.no_grad():
        a = teacher(frame)
        b = teacher(frame, *zeros)
    for x, y in zip(a, b, strict=True):
        assert torch.equal(x, y)


def test_downsampled_size_truncates_float32_product():
    assert downsampled_size(67, 45, 0.5) == (33, 22)
    assert downsampled_size(1080, 1920, 0.25) == (270, 480)
    # float32(0.3) * 10 = 3.0000001 → 3; in float64 it would be 3 too, but 0.7 * 10 → 7
    assert downsampled_size(10, 10, 0.7) == (7, 7)


def test_invalid_ratio(teacher):
    with pytest.raises(ValueError, match="downsample_ratio"):
        teacher(torch.zeros(1, 3, 32, 32), downsample_ratio=1.5)
    with pytest.raises(ValueError, match=r"\(T, 3, H, W\)"):
        run_clip(teacher, torch.zeros(3, 32, 32))


def test_loading_a_model_with_a_missing_layer_names_it(rvm_json):
    model = read_model(rvm_json)
    name = next(
        n for n in model.weights if n.endswith("conv_gru_2/conv2d_56/Conv2D/ReadVariableOp")
    )
    del model.weights[name]
    with pytest.raises(TfjsFormatError, match=r"conv_gru_2"):
        load_weights(RobustVideoMatting(), model)
