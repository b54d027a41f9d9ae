"""The network's contract: shapes, ranges, locality in time and streaming equivalence."""

import pytest
import torch

from core.engines import MemoryWindow
from core.model import (
    MEMORY_FRAMES,
    MattingNetwork,
    NetworkConfig,
    memory_indices,
    memory_window,
    pad_to_stride,
)
from core.model.guided_filter import DeepGuidedFilter
from core.model.memory import memory_readout


def test_odd_size_paper_config_shapes_and_ranges(paper_network):
    frames = torch.rand(1, 2, 3, 270, 481)
    with torch.no_grad():
        out = paper_network(frames)
    assert out.foreground.shape == (1, 2, 3, 270, 481)
    assert out.alpha.shape == (1, 2, 1, 270, 481)
    assert out.agg_foreground.shape == (1, 2, 3, 17, 31)
    assert out.agg_alpha.shape == (1, 2, 1, 17, 31)
    for x in (out.foreground, out.alpha, out.agg_foreground, out.agg_alpha):
        assert x.min() >= 0 and x.max() <= 1
        assert torch.isfinite(x).all()
    assert out.alpha.std() > 0  # not a constant output


def test_backbone_feature_strides(paper_network):
    with torch.no_grad():
        f1, f2, f3, f4 = paper_network.backbone(torch.rand(1, 3, 64, 96))
    assert f1.shape == (1, 16, 32, 48)
    assert f2.shape == (1, 24, 16, 24)
    assert f3.shape == (1, 40, 8, 12)
    assert f4.shape == (1, 960, 4, 6)  # dilated last stage: 1/16, not 1/32


def test_memory_indices_repeat_the_first_frame_at_shot_start():
    assert MEMORY_FRAMES == 2
    assert memory_indices(4).tolist() == [[0, 0], [0, 0], [1, 0], [2, 1]]
    # A chunk's pre-roll starts at frame 5: its first frame stands in the same way.
    assert [memory_window(t, first=5) for t in (5, 6, 7, 8)] == [(5, 5), (5, 5), (6, 5), (7, 6)]


def test_the_memory_window_keeps_only_the_two_previous_frames():
    window = MemoryWindow(first=3)
    assert window.push(3, "a") == ["a", "a"]
    assert window.push(4, "b") == ["a", "a"]
    assert window.push(5, "c") == ["b", "a"]
    assert window.push(6, "d") == ["c", "b"]
    assert len(window) == 2  # frames 5 and 6: all that frame 7 reads


def test_memory_readout_is_softmax_attention_over_all_memory_positions():
    g = torch.Generator().manual_seed(0)
    q = torch.randn(1, 4, 2, 3, generator=g)
    k = torch.randn(1, 2, 4, 2, 3, generator=g)
    v = torch.randn(1, 2, 5, 2, 3, generator=g)
    out = memory_readout(q, k, v)
    # Reference: every one of the 6 query positions against all 2*6 memory positions.
    qf = q[0].reshape(4, 6).T  # (6, 4)
    kf = torch.cat([k[0, 0].reshape(4, 6), k[0, 1].reshape(4, 6)], dim=1)  # (4, 12)
    vf = torch.cat([v[0, 0].reshape(5, 6), v[0, 1].reshape(5, 6)], dim=1)  # (5, 12)
    weights = torch.softmax(qf @ kf / 2.0, dim=1)  # sqrt(4) = 2
    expected = (weights @ vf.T).T.reshape(5, 2, 3)
    torch.testing.assert_close(out[0], expected)


@pytest.mark.parametrize("changed", [0, 1, 2])
def test_frame_t_ignores_frames_before_t_minus_2(lite_network, clip, changed):
    t = 5
    edited = clip.clone()
    edited[:, changed] = torch.rand_like(edited[:, changed])
    with torch.no_grad():
        a = lite_network(clip).alpha[:, t:]
        b = lite_network(edited).alpha[:, t:]
    assert torch.equal(a, b)


@pytest.mark.parametrize("changed", [3, 4])
def test_frame_t_depends_on_t_minus_1_and_t_minus_2(lite_network, clip, changed):
    t = 5
    edited = clip.clone()
    edited[:, changed] = torch.rand_like(edited[:, changed])
    with torch.no_grad():
        a = lite_network(clip)
        b = lite_network(edited)
    assert not torch.equal(a.alpha[:, t], b.alpha[:, t])
    assert not torch.equal(a.foreground[:, t], b.foreground[:, t])


def _stream(network: MattingNetwork, clip: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Frame-by-frame with cached keys and values, as a session does."""
    height, width = clip.shape[-2:]
    window = MemoryWindow()
    alphas, fgrs = [], []
    for t in range(clip.shape[1]):
        enc = network.encode(pad_to_stride(clip[:, t]))
        memory = window.push(t, (enc.key, enc.value))
        keys = torch.stack([m[0] for m in memory], dim=1)
        values = torch.stack([m[1] for m in memory], dim=1)
        reconstructed = network.read_memory(enc.key, enc.value, keys, values)
        residual, pha, _ = network.decode(enc, reconstructed)
        alphas.append(pha[..., :height, :width])
        fgrs.append(network.foreground(clip[:, t], residual[..., :height, :width]))
    return torch.stack(alphas, 1), torch.stack(fgrs, 1)


def test_time_parallel_equals_streaming(lite_network, clip):
    with torch.no_grad():
        parallel = lite_network(clip)
        alpha, fgr = _stream(lite_network, clip)
    assert (parallel.alpha - alpha).abs().max() <= 1e-5
    assert (parallel.foreground - fgr).abs().max() <= 1e-5


def test_deep_guided_filter_restores_full_resolution(lite_network):
    frames = torch.rand(2, 3, 3, 96, 160)
    with torch.no_grad():
        out = lite_network(frames, downsample_ratio=0.25)
    assert out.alpha.shape == (2, 3, 1, 96, 160)
    assert out.foreground.shape == (2, 3, 3, 96, 160)
    assert out.agg_alpha.shape == (2, 3, 1, 2, 3)  # 24x40 network size → 1/16 padded
    assert out.alpha.min() >= 0 and out.alpha.max() <= 1
    # The refiner is in the path: changing its last layer changes the output.
    with torch.no_grad():
        lite_network.refiner.mix[-1].bias.add_(0.3)
        changed = lite_network(frames, downsample_ratio=0.25)
    assert not torch.equal(out.alpha, changed.alpha)


@pytest.mark.parametrize(
    ("low", "full"), [((24, 40), (96, 160)), ((9, 16), (13, 29)), ((18, 32), (135, 240))]
)
def test_guided_filter_frame_form_equals_apply(low, full):
    """The compiled session's form of the full-resolution pass (fixed bilinear taps, result
    layouts) gives ``apply``'s values, for integer and fractional scale factors."""
    torch.manual_seed(0)
    image = torch.rand(1, *full, 3).permute(0, 3, 1, 2)  # channels-last, as the session has it
    coefficients = torch.randn(1, 8, *low).contiguous(memory_format=torch.channels_last)
    fgr, pha = DeepGuidedFilter.apply(image, coefficients)
    alpha, foreground = DeepGuidedFilter.apply_frame(image, coefficients)
    assert alpha.shape == full and foreground.shape == (*full, 3)
    assert (alpha - pha[0, 0]).abs().max() <= 1e-5
    assert (foreground - fgr[0].permute(1, 2, 0)).abs().max() <= 1e-5


def test_gradients_reach_every_matting_parameter(clip):
    net = MattingNetwork(NetworkConfig.lite()).train()
    out = net(clip[:, :3], downsample_ratio=0.5)
    loss = (
        out.alpha.mean() + out.foreground.mean() + out.agg_alpha.mean() + out.agg_foreground.mean()
    )
    loss.backward()
    frozen = [
        n for n, p in net.named_parameters() if p.grad is None and not n.startswith("segmentation.")
    ]
    assert frozen == []


def test_segmentation_pass_gives_logits_at_network_resolution(lite_network, clip):
    with torch.no_grad():
        out = lite_network(clip, downsample_ratio=0.5, segmentation_pass=True)
    assert out.segmentation.shape == (1, 6, 1, 20, 28)
    assert out.alpha is None


def test_invalid_downsample_ratio_is_refused(lite_network, clip):
    with pytest.raises(ValueError, match="downsample_ratio"):
        lite_network(clip, downsample_ratio=1.5)
