"""Stateless exports: one (1, 9, H, W) input, one (1, 4, H, W) output, parity with eager."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from core import MattingSession
from core.export import LEGACY_OPS, graph_nodes, graph_ops, main, stacked_frames
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


def _export(checkpoint, out, *options):
    args = ["--format", "torchscript", "--size", f"{W}x{H}", "--ratio", "0.5", *options]
    assert main([*args, "--weights", str(checkpoint), "-o", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def default_pt(checkpoint, tmp_path_factory):
    """The default TorchScript export at W×H, ratio 0.5."""
    return _export(checkpoint, tmp_path_factory.mktemp("ts") / "m.pt")


@pytest.fixture(scope="module")
def legacy_pt(checkpoint, tmp_path_factory):
    """The ``--legacy-ops`` TorchScript export at W×H, ratio 0.5."""
    return _export(checkpoint, tmp_path_factory.mktemp("legacy") / "m.pt", "--legacy-ops")


@pytest.fixture(scope="module")
def clip_and_reference(checkpoint):
    """``_clip()`` and the session's results on it at ratio 0.5."""
    frames = _clip()
    return frames, _reference(checkpoint, frames, 0.5)


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


def test_torchscript_loads_with_jit_and_matches(default_pt, clip_and_reference):
    model = torch.jit.load(str(default_pt))
    frames, reference = clip_and_reference
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
    return {len(list(n.inputs())) for n in graph_nodes(model) if n.kind() == kind}


def test_default_torchscript_needs_a_recent_libtorch(default_pt):
    ops = graph_ops(torch.jit.load(str(default_pt)))
    assert {"aten::pad", "aten::_convolution"} <= ops  # what Nuke 13's libtorch 1.6 lacks


def test_legacy_torchscript_uses_only_old_operators_and_matches(legacy_pt, clip_and_reference):
    model = torch.jit.load(str(legacy_pt))
    aten = {op for op in graph_ops(model) if not op.startswith("prim::")}
    assert aten <= LEGACY_OPS, sorted(aten - LEGACY_OPS)
    assert not {"aten::pad", "aten::_convolution"} & aten
    assert _op_inputs(model, "aten::conv2d") == {7}
    assert _op_inputs(model, "aten::upsample_bilinear2d") == {5}
    assert "torch.pad(" not in model.code and "_convolution(" not in model.code
    frames, reference = clip_and_reference
    with torch.no_grad():
        for t in (0, 2, 3):
            result = model(torch.from_numpy(_stacked(frames, t))).numpy()
            assert np.abs(result[0, 3] - reference[t].alpha).max() <= 1e-4
            assert np.abs(result[0, :3].transpose(1, 2, 0) - reference[t].foreground).max() <= 1e-4


def _pinned(model) -> list[str]:
    """Nodes that would not move with ``model.to(...)``: a fixed device, or a tensor of the
    graph's own with a shape (a frozen weight, a traced index); a 0-d tensor is a scalar to
    the operators, on any device and of any floating dtype."""
    pinned = []
    for node in graph_nodes(model):
        if node.kind() != "prim::Constant":
            continue
        value = node.output().toIValue()
        if isinstance(value, torch.device) or (isinstance(value, torch.Tensor) and value.dim()):
            pinned.append(str(node).strip())
    return pinned


@pytest.mark.parametrize("legacy", [False, True], ids=["default", "legacy-ops"])
def test_torchscript_moves_as_nukes_inference_node_moves_it(request, clip_and_reference, legacy):
    """Inference puts the module and its input on the GPU (*Use GPU if available*) and in
    half precision (*Optimize for Speed and Memory*: "the model and input tensor to the model
    are converted to half precision", learn.foundry.com/nuke/developers/13.1/
    catfilecreationreferenceguide/fullHalfPrecision.html); on the CPU here: float64 and half,
    against the session (float32). benchmarks/gpu_check.py does the same on CUDA."""
    model = torch.jit.load(str(request.getfixturevalue("legacy_pt" if legacy else "default_pt")))
    assert _pinned(model) == []
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    frames, reference = clip_and_reference
    for dtype, tolerance in ((torch.float64, 1e-4), (torch.half, 2e-2)):
        model.to(dtype)
        assert {p.dtype for p in model.parameters()} == {dtype}
        with torch.no_grad():
            for t in (3,):  # frame 3 attends to frames 1 and 2
                result = model(torch.from_numpy(_stacked(frames, t)).to(dtype))
                assert result.dtype == dtype
                result = result.float().numpy()[0]
                assert np.abs(result[3] - reference[t].alpha).max() <= tolerance
                foreground = result[:3].transpose(1, 2, 0)
                assert np.abs(foreground - reference[t].foreground).max() <= tolerance


def test_a_frozen_module_is_pinned():
    """What ``_pinned`` finds: a frozen module's weights are constants where it was frozen."""
    conv = torch.jit.script(torch.nn.Conv2d(3, 4, 3).eval())
    assert _pinned(conv) == []
    assert len(_pinned(torch.jit.freeze(conv))) == 2  # weight and bias


def test_legacy_archive_has_no_debug_records(legacy_pt, default_pt):
    """libtorch 1.6 (Nuke 13) aborts on this torch's debug records ("Expected Tuple but
    got String"); benchmarks/old_libtorch.py loads the archive without them there."""
    names = zipfile.ZipFile(legacy_pt).namelist()
    assert any(n.endswith(".py") for n in names)
    assert not any(n.endswith(".debug_pkl") for n in names)
    assert any(n.endswith(".debug_pkl") for n in zipfile.ZipFile(default_pt).namelist())
    assert [p.name for p in legacy_pt.parent.iterdir()] == ["m.pt"], "no temporary left"


@pytest.mark.slow
def test_legacy_export_runs_under_older_torch_releases():
    """``MEMMATTE_OLD_TORCH_PYTHONS``: interpreters with older torch releases (os.pathsep
    between them), e.g. Python 3.8 venvs with torch 1.6.0 and 1.12.1 (docs/hosts/nuke.md)."""
    pythons = [p for p in os.environ.get("MEMMATTE_OLD_TORCH_PYTHONS", "").split(os.pathsep) if p]
    if not pythons:
        pytest.skip("set MEMMATTE_OLD_TORCH_PYTHONS to interpreters with older torch releases")
    script = Path(__file__).parents[2] / "benchmarks" / "old_libtorch.py"
    run = subprocess.run(
        [sys.executable, str(script), *pythons], capture_output=True, text=True, timeout=900
    )
    records = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    legacy = [r for r in records if r["export"] == "legacy"]
    assert len(legacy) == len(pythons) and run.returncode == 0, run.stdout + run.stderr


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
