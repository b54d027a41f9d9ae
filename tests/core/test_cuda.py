"""The session on CUDA: eager precisions, random access, and ahead-of-time compiled packages
keyed for the GPU. Skipped where torch sees no CUDA device (benchmarks/gpu_check.py runs
them on a GPU machine)."""

import numpy as np
import pytest
import torch

from core import MattingSession

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture
def exact_fp32():
    """No TF32: fp32 on the GPU then agrees with the CPU and with compiled graphs to ~1e-5."""
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


def _frames(n: int, height: int = 40, width: int = 56) -> list[np.ndarray]:
    g = np.random.default_rng(3)
    base = g.random((height, width, 3), dtype=np.float32)
    return [np.clip(base + 0.05 * i, 0, 1) for i in range(n)]


def _max_diff(a, b) -> tuple[float, float]:
    alpha = max(float(np.abs(x.alpha - y.alpha).max()) for x, y in zip(a, b, strict=True))
    fg = max(float(np.abs(x.foreground - y.foreground).max()) for x, y in zip(a, b, strict=True))
    return alpha, fg


def test_auto_device_and_precision_on_cuda(lite_network):
    session = MattingSession(_frames(1), weights=lite_network)
    assert session.device.type == "cuda" and session.precision == "fp16"
    (result,) = list(session)
    assert result.alpha.dtype == np.float32 and 0 <= result.alpha.min() <= result.alpha.max() <= 1


def test_cuda_fp32_matches_the_cpu(lite_network, exact_fp32):
    frames = _frames(4)
    kwargs = {"weights": lite_network, "downsample_ratio": 0.5, "precision": "fp32"}
    cpu = list(MattingSession(frames, device="cpu", **kwargs))
    gpu = list(MattingSession(frames, device="cuda", **kwargs))
    assert max(_max_diff(cpu, gpu)) <= 1e-4


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_cuda_half_precisions_are_close_to_fp32(lite_network, precision):
    frames = _frames(4)
    kwargs = {"weights": lite_network, "downsample_ratio": 0.5, "device": "cuda"}
    fp32 = list(MattingSession(frames, precision="fp32", **kwargs))
    half = list(MattingSession(frames, precision=precision, **kwargs))
    diffs = [np.abs(a.alpha - b.alpha) for a, b in zip(fp32, half, strict=True)]
    assert max(float(d.max()) for d in diffs) <= 0.05
    assert max(float(d.mean()) for d in diffs) <= 0.005


def test_random_access_on_cuda_equals_iteration(lite_network):
    frames = _frames(5)
    session = MattingSession(frames, weights=lite_network, device="cuda", downsample_ratio=0.5)
    run = list(session)
    for i in (0, 2, 4):
        np.testing.assert_array_equal(session[i].alpha, run[i].alpha)


def test_cuda_packages_are_keyed_for_the_gpu(lite_network):
    session = MattingSession([], weights=lite_network, device="cuda", compile="cached")
    key = session.graph_key(1080, 1920)
    name = torch.cuda.get_device_name()
    assert key.device.startswith(f"cuda {name} sm_") and key.precision == "fp16"
    cpu = MattingSession([], weights=lite_network, device="cpu", compile="cached")
    assert cpu.graph_key(1080, 1920).digest() != key.digest()


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_cuda_aot_package_matches_eager_and_is_loaded_by_later_sessions(
    lite_network, exact_fp32, tmp_path, precision
):
    frames = _frames(4)
    kwargs = {"weights": lite_network, "device": "cuda", "downsample_ratio": 0.5}
    kwargs["precision"] = precision
    eager = list(MattingSession(frames, **kwargs))
    first = list(MattingSession(frames, compile="aot", cache_dir=tmp_path, **kwargs))
    tolerance = 1e-4 if precision == "fp32" else 2e-2
    assert max(_max_diff(eager, first)) <= tolerance
    (entry,) = tmp_path.iterdir()
    later = MattingSession(frames, compile="cached", cache_dir=tmp_path, **kwargs)
    assert later.precompile(40, 56, build=False)
    for i in (0, 3):
        np.testing.assert_array_equal(later[i].alpha, first[i].alpha)
    assert list(tmp_path.iterdir()) == [entry]
