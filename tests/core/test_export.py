"""Stateless exports: one (1, 9, H, W) input, one (1, 4, H, W) output, parity with eager."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from core import MattingSession
from core.export import LEGACY_OPS, graph_ops, main, stacked_frames
from core.weights import save_weights

H, W = 48, 80


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from core.model import MattingNetwork, NetworkConfig

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("w") / "lite.safetensors"
    return save_weights(MattingNetwork(NetworkConfig.lite()), path)


def _clip(n=4):
    g = np.random.default_rng(1)
    return [g.random((H, W, 3), dtype=np.float32) for _ in range(n)]


def _stacked(frames, t):
    """Frames t-2, t-1, t as (1, 9, H, W), the first frame standing in before the shot."""
    picks = [frames[i] for i in stacked_frames(t)]
    return np.concatenate([f.transpose(2, 0, 1) for f in picks])[None]


def _reference(checkpoint, frames, ratio):
    return list(MattingSession(frames, weights=checkpoint, device="cpu", downsample_ratio=ratio))


@pytest.mark.parametrize("ratio", [1.0, 0.5])
def test_onnx_matches_the_session(checkpoint, tmp_path, ratio):
    out = tmp_path / "m.onnx"
    args = ["--format", "onnx", "--size", f"{W}x{H}", "--ratio", str(ratio)]
    assert main([*args, "--weights", str(checkpoint), "-o", str(out)]) == 0
    model = onnx.load(str(out))
    assert [i.name for i in model.graph.input] == ["frames"]
    assert len(model.graph.output) == 1
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 9, H, W]
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    frames = _clip()
    reference = _reference(checkpoint, frames, ratio)
    for t in (0, 1, 3):
        (result,) = session.run(None, {"frames": _stacked(frames, t)})
        assert result.shape == (1, 4, H, W)
        assert np.abs(result[0, 3] - reference[t].alpha).max() <= 1e-4
        assert np.abs(result[0, :3].transpose(1, 2, 0) - reference[t].foreground).max() <= 1e-4


def test_torchscript_loads_with_jit_and_matches(checkpoint, tmp_path):
    out = tmp_path / "m.pt"
    args = ["--format", "torchscript", "--size", f"{W}x{H}", "--ratio", "0.5"]
    assert main([*args, "--weights", str(checkpoint), "-o", str(out)]) == 0
    model = torch.jit.load(str(out))
    frames = _clip()
    reference = _reference(checkpoint, frames, 0.5)
    with torch.no_grad():
        result = model(torch.from_numpy(_stacked(frames, 2))).numpy()
    assert result.shape == (1, 4, H, W)
    assert np.abs(result[0, 3] - reference[2].alpha).max() <= 1e-4


def test_bad_size_is_a_usage_error(checkpoint, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--format", "onnx", "--size", "1080", "--weights", str(checkpoint), "-o", "x"])
    assert "WIDTHxHEIGHT" in capsys.readouterr().err


def test_size_is_width_by_height(checkpoint, tmp_path, capsys):
    out = tmp_path / "m.pt"
    assert main(["--format", "torchscript", "--size", "80x48", "--ratio", "1", "--weights",
                 str(checkpoint), "-o", str(out)]) == 0  # fmt: skip
    assert "80x48" in capsys.readouterr().out
    with torch.no_grad():
        assert torch.jit.load(str(out))(torch.rand(1, 9, 48, 80)).shape == (1, 4, 48, 80)


def _op_inputs(model, kind: str) -> set[int]:
    return {len(list(n.inputs())) for n in model.inlined_graph.nodes() if n.kind() == kind}


def test_default_torchscript_needs_a_recent_libtorch(checkpoint, tmp_path):
    out = tmp_path / "m.pt"
    args = ["--format", "torchscript", "--size", f"{W}x{H}", "--ratio", "0.5"]
    assert main([*args, "--weights", str(checkpoint), "-o", str(out)]) == 0
    ops = graph_ops(torch.jit.load(str(out)))
    assert {"aten::pad", "aten::_convolution"} <= ops  # what Nuke 13-15 cannot load


def test_legacy_torchscript_uses_only_old_operators_and_matches(checkpoint, tmp_path):
    out = tmp_path / "m.pt"
    args = ["--format", "torchscript", "--legacy-ops", "--size", f"{W}x{H}", "--ratio", "0.5"]
    assert main([*args, "--weights", str(checkpoint), "-o", str(out)]) == 0
    model = torch.jit.load(str(out))
    aten = {op for op in graph_ops(model) if not op.startswith("prim::")}
    assert aten <= LEGACY_OPS, sorted(aten - LEGACY_OPS)
    assert not {"aten::pad", "aten::_convolution"} & aten
    assert _op_inputs(model, "aten::conv2d") == {7}
    assert _op_inputs(model, "aten::upsample_bilinear2d") == {5}
    assert "torch.pad(" not in model.code and "_convolution(" not in model.code
    frames = _clip()
    reference = _reference(checkpoint, frames, 0.5)
    with torch.no_grad():
        for t in (0, 2, 3):
            result = model(torch.from_numpy(_stacked(frames, t))).numpy()
            assert np.abs(result[0, 3] - reference[t].alpha).max() <= 1e-4
            assert np.abs(result[0, :3].transpose(1, 2, 0) - reference[t].foreground).max() <= 1e-4


def test_legacy_ops_need_torchscript(checkpoint, capsys):
    with pytest.raises(SystemExit):
        main(["--format", "onnx", "--legacy-ops", "--size", "80x48", "-o", "x"])
    assert "--legacy-ops needs --format torchscript" in capsys.readouterr().err


@pytest.fixture(scope="module")
def flexible(checkpoint, tmp_path_factory):
    out = tmp_path_factory.mktemp("flex") / "any.pt"
    args = ["--format", "torchscript", "--flexible", "--weights", str(checkpoint)]
    assert main([*args, "-o", str(out)]) == 0
    return out


def _clip_of(height, width, n=4):
    g = np.random.default_rng(2)
    return [g.random((height, width, 3), dtype=np.float32) for _ in range(n)]


@pytest.mark.parametrize(
    ("height", "width", "ratio"), [(48, 80, 0.0), (37, 53, 0.5), (90, 64, 0.3)]
)
def test_flexible_torchscript_matches_the_session_at_any_size(
    checkpoint, flexible, height, width, ratio
):
    model = torch.jit.load(str(flexible))
    frames = _clip_of(height, width)
    reference = _reference(checkpoint, frames, "auto" if ratio <= 0 else ratio)
    for t in (0, 1, 3):
        with torch.no_grad():
            result = model(torch.from_numpy(_stacked(frames, t)), ratio).numpy()
        assert result.shape == (1, 4, height, width)
        assert np.abs(result[0, 3] - reference[t].alpha).max() <= 1e-4
        assert np.abs(result[0, :3].transpose(1, 2, 0) - reference[t].foreground).max() <= 1e-4


def test_scripted_network_size_rounds_like_the_session():
    from core.export import _scripted_network_size
    from core.model import network_size

    scripted = torch.jit.script(_scripted_network_size)
    for size in range(1, 300, 7):
        for ratio in (0.125, 0.25, 0.3, 0.5, 0.75, 1.0, 512 / 1920):
            assert scripted(size, size + 3, ratio) == network_size(size, size + 3, ratio)


def test_flexible_refuses_a_size(checkpoint, capsys):
    with pytest.raises(SystemExit):
        main(["--format", "torchscript", "--flexible", "--size", "48x80", "-o", "x.pt"])
    assert "--flexible" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [["--format", "torchscript", "--flexible"], ["--format", "onnx", "--size", f"{W}x{H}"]],
    ids=["flexible", "onnx"],
)
def test_exports_print_no_tracer_warning(checkpoint, tmp_path, capsys, args):
    # Every warning shown (pytest's own filters set aside): none from the tracer, nor the
    # legacy ONNX exporter's notice (that exporter is chosen on purpose).
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main([*args, "--weights", str(checkpoint), "-o", str(tmp_path / "m")]) == 0
    shown = [
        f"{w.category.__name__}: {w.message}"
        for w in caught
        if issubclass(w.category, torch.jit.TracerWarning) or "legacy TorchScript" in str(w.message)
    ]
    assert shown == []
    assert "Warning" not in capsys.readouterr().err
