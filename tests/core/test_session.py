"""MattingSession: what hosts rely on."""

import logging

import numpy as np
import pytest
import torch

from core import FrameError, MattingSession
from core.runtime import cpu_has_native_bf16
from core.session import auto_downsample_ratio
from core.weights import save_weights


def _frames(n=6, h=40, w=56, seed=3):
    rng = np.random.default_rng(seed)
    base = rng.random((h, w, 3), dtype=np.float32)
    return [np.clip(base + 0.1 * rng.random((h, w, 3), dtype=np.float32), 0, 1) for _ in range(n)]


def test_iteration_equals_the_networks_time_parallel_forward(lite_network):
    frames = _frames()
    results = list(MattingSession(frames, weights=lite_network, device="cpu", downsample_ratio=1.0))
    assert [r.index for r in results] == list(range(6))
    clip = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2)[None]
    with torch.no_grad():
        out = lite_network(clip)
    alpha = np.stack([r.alpha for r in results])
    fgr = np.stack([r.foreground for r in results])
    assert np.abs(alpha - out.alpha[0, :, 0].numpy()).max() <= 1e-5
    assert np.abs(fgr - out.foreground[0].permute(0, 2, 3, 1).numpy()).max() <= 1e-5
    r = results[0]
    assert r.alpha.shape == (40, 56) and r.alpha.dtype == np.float32
    assert r.foreground.shape == (40, 56, 3) and r.foreground.dtype == np.float32
    assert r.alpha.min() >= 0 and r.alpha.max() <= 1


def test_random_access_equals_sequential_output_bit_for_bit(lite_network):
    frames = _frames(8)
    session = MattingSession(frames, weights=lite_network, device="cpu", downsample_ratio=0.5)
    sequential = list(session)
    for i in (0, 1, 5, 7, -1):
        r = session[i]
        assert r.index == i % 8
        assert np.array_equal(r.alpha, sequential[i].alpha)
        assert np.array_equal(r.foreground, sequential[i].foreground)
    chunk = list(session.iter_range(4, 7))
    assert [r.index for r in chunk] == [4, 5, 6]
    assert all(np.array_equal(c.alpha, sequential[c.index].alpha) for c in chunk)
    with pytest.raises(IndexError, match="frame 8 out of range"):
        session[8]


def test_one_pass_iterables_stream_but_refuse_random_access(lite_network):
    session = MattingSession(iter(_frames(3)), weights=lite_network, device="cpu")
    assert len(list(session)) == 3
    with pytest.raises(TypeError, match="random access"):
        session[0]


def test_uint8_uint16_float_and_tensor_inputs_agree(lite_network):
    rng = np.random.default_rng(0)
    u8 = [rng.integers(0, 256, (32, 48, 3), dtype=np.uint8) for _ in range(3)]
    u16 = [f.astype(np.uint16) * 257 for f in u8]  # 255 * 257 = 65535: the same values
    f32 = [f.astype(np.float32) / 255 for f in u8]
    tensors = [torch.from_numpy(f) for f in f32]
    runs = [
        list(MattingSession(x, weights=lite_network, device="cpu", downsample_ratio=1.0))
        for x in (u8, u16, f32, tensors)
    ]
    for other in runs[1:]:
        for a, b in zip(runs[0], other, strict=True):
            np.testing.assert_allclose(a.alpha, b.alpha, atol=1e-6)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.zeros((32, 48), np.float32), r"frame 2: expected an H×W×3 array, got shape \(32, 48\)"),
        (np.zeros((32, 48, 4), np.float32), r"frame 2: expected an H×W×3 array"),
        (np.full((32, 48, 3), np.nan, np.float32), "frame 2: 4608 NaN or Inf values"),
        (np.full((32, 48, 3), 2.0, np.float32), r"frame 2: float values must lie in \[0, 1\]"),
        (np.zeros((40, 48, 3), np.float32), "frame 2: size 48x40 differs from the shot's 48x32"),
        (np.zeros((32, 48, 3), np.int32), "frame 2: unsupported dtype int32"),
    ],
)
def test_bad_frames_are_named_by_index(lite_network, bad, message):
    frames = [np.zeros((32, 48, 3), np.float32)] * 2 + [bad]
    session = MattingSession(frames, weights=lite_network, device="cpu")
    with pytest.raises(FrameError, match=message):
        list(session)


def test_empty_input_is_an_error(lite_network):
    with pytest.raises(FrameError, match="empty input"):
        list(MattingSession([], weights=lite_network, device="cpu"))


def test_missing_default_weights_say_how_to_pass_weights(monkeypatch, tmp_path):
    monkeypatch.setattr("core.runtime.DEFAULT_WEIGHTS", tmp_path / "none.safetensors")
    with pytest.raises(FileNotFoundError, match="pass weights="):
        MattingSession(_frames(1))


def test_weights_path_auto_ratio_and_device_logging(lite_network, tmp_path, caplog):
    path = save_weights(lite_network, tmp_path / "w.safetensors")
    with caplog.at_level(logging.INFO, logger="memmatte"):
        session = MattingSession(_frames(2, 90, 1024), weights=path)
    assert "running on cpu" in caplog.text
    assert len(session.weights_hash) == 16
    result = next(iter(session))
    assert session.downsample_ratio == pytest.approx(0.5)
    assert result.alpha.shape == (90, 1024)
    assert auto_downsample_ratio(1080, 1920) == pytest.approx(512 / 1920)
    assert auto_downsample_ratio(200, 300) == 1.0


def test_precision_choices(lite_network):
    with pytest.raises(ValueError, match="needs a CUDA device"):
        MattingSession(_frames(1), weights=lite_network, device="cpu", precision="fp16")
    with pytest.raises(ValueError, match="precision must be one of"):
        MattingSession(_frames(1), weights=lite_network, device="cpu", precision="int8")


@pytest.mark.parametrize("native", [True, False])
def test_bf16_warns_on_a_cpu_that_would_emulate_it(lite_network, monkeypatch, caplog, native):
    """Without AVX-512 BF16 or AMX, PyTorch emulates bf16 far slower than fp32: say so."""
    monkeypatch.setattr("core.runtime.cpu_has_native_bf16", lambda: native)
    with caplog.at_level(logging.WARNING, logger="memmatte"):
        session = MattingSession(_frames(1), weights=lite_network, device="cpu", precision="bf16")
    assert session.precision == "bf16"
    assert ("emulated" in caplog.text) is not native


def test_bf16_is_close_to_fp32(lite_network):
    """bf16 autocast on the CPU: alpha within 0.02 of fp32 (mean within 0.003)."""
    frames = _frames(4)
    kwargs = {"weights": lite_network, "device": "cpu", "downsample_ratio": 1.0}
    fp32 = list(MattingSession(frames, precision="fp32", **kwargs))
    bf16 = list(MattingSession(frames, precision="bf16", **kwargs))
    for a, b in zip(fp32, bf16, strict=True):
        diff = np.abs(a.alpha - b.alpha)
        assert diff.max() <= 0.02 and diff.mean() <= 0.003
        assert b.alpha.dtype == np.float32


def test_composite_over_colour_and_image(lite_network):
    r = next(iter(MattingSession(_frames(1), weights=lite_network, device="cpu")))
    over_red = r.composite((1.0, 0.0, 0.0))
    a = r.alpha[..., None]
    np.testing.assert_allclose(
        over_red, r.foreground * a + np.array([1, 0, 0]) * (1 - a), atol=1e-6
    )
    bg = np.zeros_like(r.foreground)
    np.testing.assert_allclose(r.composite(bg), r.premultiplied(), atol=1e-7)
    with pytest.raises(ValueError, match="does not match"):
        r.composite(np.zeros((2, 2, 3)))


def test_time_batched_encoding_matches_one_frame_at_a_time(lite_network):
    frames = _frames(7)
    kwargs = {"weights": lite_network, "device": "cpu", "downsample_ratio": 0.5}
    single = list(MattingSession(frames, **kwargs))
    batched = list(MattingSession(frames, batch_frames=3, **kwargs))
    assert [r.index for r in batched] == list(range(7))
    for a, b in zip(single, batched, strict=True):
        assert np.abs(a.alpha - b.alpha).max() <= 1e-5


@pytest.mark.slow
def test_compiled_session_matches_eager(lite_network):
    frames = _frames(4)
    kwargs = {"weights": lite_network, "device": "cpu", "downsample_ratio": 0.5}
    eager = list(MattingSession(frames, **kwargs))
    session = MattingSession(frames, compile=True, **kwargs)
    compiled = list(session)
    for a, b in zip(eager, compiled, strict=True):
        assert np.abs(a.alpha - b.alpha).max() <= 1e-4
    # Random access through the compiled step still equals its own sequential run.
    for i in (0, 3):
        np.testing.assert_array_equal(session[i].alpha, compiled[i].alpha)
        np.testing.assert_array_equal(session[i].foreground, compiled[i].foreground)


@pytest.mark.slow
def test_compiled_sessions_of_several_sizes_and_precisions_share_one_process(lite_network):
    """Each session owns its compiled graphs: six sessions (three sizes, fp32 then bf16) in one
    process stay within dynamo's recompile limit and each matches its eager session."""
    precisions = ["fp32", "bf16"] if cpu_has_native_bf16() else ["fp32"]
    sizes = [(40, 56), (48, 64), (32, 80)]
    kwargs = {"weights": lite_network, "device": "cpu", "downsample_ratio": 0.5}
    sessions = []
    for precision in precisions:
        for h, w in sizes:
            frames = _frames(2, h, w)
            session = MattingSession(frames, compile=True, precision=precision, **kwargs)
            compiled = list(session)
            eager = list(MattingSession(frames, precision=precision, **kwargs))
            tolerance = 1e-4 if precision == "fp32" else 0.05
            for a, b in zip(eager, compiled, strict=True):
                assert np.abs(a.alpha - b.alpha).max() <= tolerance, (precision, h, w)
            sessions.append(session)
    # The first session still runs its own graphs after the others compiled theirs.
    np.testing.assert_array_equal(sessions[0][1].alpha, list(sessions[0])[1].alpha)


def test_compile_runs_one_frame_per_step(lite_network):
    with pytest.raises(ValueError, match="batch_frames=1"):
        MattingSession(_frames(2), weights=lite_network, compile=True, batch_frames=4)
