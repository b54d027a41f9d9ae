"""Safetensors checkpoints: round trip, metadata, and one clear error for every mismatch."""

import subprocess
import sys

import pytest
import torch
from safetensors.torch import save_file

from core.model import MattingNetwork, NetworkConfig
from core.weights import (
    WeightsError,
    file_hash,
    import_torchvision,
    load_network,
    read_weights,
    save_weights,
)
from core.weights import main as weights_main


def test_round_trip_restores_config_weights_and_outputs(lite_network, clip, tmp_path):
    path = save_weights(lite_network, tmp_path / "w.safetensors", stage="stage2")
    _, meta = read_weights(path)
    assert meta["stage"] == "stage2"
    assert NetworkConfig.from_json(meta["config"]) == NetworkConfig.lite()
    loaded = load_network(path)
    assert loaded.config == NetworkConfig.lite()
    with torch.no_grad():
        assert torch.equal(loaded(clip).alpha, lite_network(clip).alpha)
    assert len(file_hash(path)) == 16


def test_fp16_checkpoint_loads_into_float32_network(lite_network, tmp_path):
    path = save_weights(lite_network, tmp_path / "w16.safetensors", dtype=torch.float16)
    tensors, _ = read_weights(path)
    assert tensors["aspp.project.0.weight"].dtype == torch.float16
    loaded = load_network(path)
    assert loaded.aspp.project[0].weight.dtype == torch.float32
    torch.testing.assert_close(
        loaded.aspp.project[0].weight, lite_network.aspp.project[0].weight, atol=1e-3, rtol=1e-3
    )


def test_mismatched_weights_name_every_problem_in_one_error(lite_network, tmp_path):
    state = {k: v.clone() for k, v in lite_network.state_dict().items()}
    del state["decoder.up8.merge.shortcut.0.weight"]
    state["aspp.project.0.weight"] = torch.zeros(3, 3, 1, 1)
    state["extra.tensor"] = torch.zeros(1)
    path = tmp_path / "bad.safetensors"
    meta = {"format": "memmatte", "format_version": "2", "config": NetworkConfig.lite().to_json()}
    save_file(state, str(path), metadata=meta)
    with pytest.raises(WeightsError) as err:
        load_network(path)
    text = str(err.value)
    assert str(path) in text
    assert "decoder.up8.merge.shortcut.0.weight" in text
    assert "extra.tensor" in text
    assert "aspp.project.0.weight: checkpoint (3, 3, 1, 1)" in text


def _version_1(network, path):
    """``network`` saved as a version-1 checkpoint (foreground predicted directly)."""
    state = {k: v.contiguous() for k, v in network.state_dict().items()}
    meta = {"format": "memmatte", "format_version": "1", "config": network.config.to_json()}
    save_file(state, str(path), metadata=meta)
    return path


def test_version_1_checkpoints_are_refused_with_the_upgrade_command(lite_network, tmp_path):
    path = _version_1(lite_network, tmp_path / "old.safetensors")
    with pytest.raises(WeightsError) as err:
        load_network(path)
    text = str(err.value)
    assert str(path) in text
    assert "version 1" in text
    assert f"python -m core.weights upgrade {path}" in text


def test_upgrade_keeps_alpha_bit_identical_and_returns_the_frame_as_foreground(
    lite_network, tmp_path
):
    """Version 1's output block: conv, BN, ReLU, clamp to 1, all four rows; its alpha row
    is what the upgraded network must reproduce exactly, and the foreground must be the
    frame (a zero residual)."""
    with torch.no_grad():  # a non-trivial foreground row: upgrade must zero it
        lite_network.decoder.output.stage2[1].bias.copy_(torch.tensor([0.3, -0.2, 0.5, 0.1]))
        lite_network.decoder.output.stage2[1].running_mean.add_(0.05)
    old = _version_1(lite_network.eval(), tmp_path / "old.safetensors")
    new = tmp_path / "new.safetensors"
    assert weights_main(["upgrade", str(old), "-o", str(new)]) == 0
    upgraded = load_network(new)
    assert read_weights(new)[1]["upgraded_from"] == "1"

    frames = torch.rand(1, 3, 3, 64, 96)
    raw = []
    hook = lite_network.decoder.output.stage2.register_forward_hook(lambda m, i, o: raw.append(o))
    with torch.no_grad():
        lite_network(frames)
        out = upgraded(frames)
    hook.remove()
    v1_alpha = torch.relu(raw[0][:, 3:]).clamp(max=1.0)
    assert torch.equal(out.alpha.flatten(0, 1), v1_alpha)
    assert torch.equal(out.foreground, frames)
    # Training mode too: batch norm's scale is zero on the foreground rows, so the first
    # training step does not blow the zero correction up to the batch's unit variance.
    with torch.no_grad():
        assert torch.equal(upgraded.train()(frames).foreground, frames)
    # ... and the correction can be learnt: the foreground rows' batch-norm scale gets a
    # gradient at once (a zeroed conv beside a zeroed scale would leave both stuck at 0).
    upgraded.train()(frames).foreground.sum().backward()
    norm = upgraded.decoder.output.stage2[1]
    assert norm.weight.grad[:3].abs().min() > 0


def test_upgrade_refuses_what_is_not_version_1(lite_network, tmp_path, capsys):
    path = save_weights(lite_network, tmp_path / "v2.safetensors")
    with pytest.raises(SystemExit) as exit_:
        weights_main(["upgrade", str(path), "-o", str(tmp_path / "x.safetensors")])
    assert exit_.value.code == 2
    assert "only version-1 checkpoints need upgrading" in capsys.readouterr().err
    assert not (tmp_path / "x.safetensors").exists()


def test_non_memmatte_files_are_refused(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"x": torch.zeros(1)}, str(path))
    with pytest.raises(WeightsError, match="not a memmatte checkpoint"):
        read_weights(path)
    with pytest.raises(WeightsError, match="no such weights file"):
        read_weights(tmp_path / "missing.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(WeightsError, match=r"junk\.safetensors"):
        read_weights(tmp_path / "junk.safetensors")


def test_import_torchvision_copies_the_backbone(tmp_path):
    reference = MattingNetwork(NetworkConfig.lite())
    state = {
        "features." + k.removeprefix("features."): torch.randn_like(v.float()).to(v.dtype)
        for k, v in reference.backbone.state_dict().items()
    }
    state["classifier.0.weight"] = torch.zeros(1280, 960)
    pth = tmp_path / "mobilenet_v3_large.pth"
    torch.save(state, pth)
    network = import_torchvision(pth, config=NetworkConfig.lite())
    for name, tensor in network.backbone.state_dict().items():
        assert torch.equal(tensor, state[name]), name


def test_import_torchvision_refuses_a_wrong_checkpoint(tmp_path):
    pth = tmp_path / "resnet.pth"
    torch.save({"features.0.0.weight": torch.zeros(64, 3, 7, 7)}, pth)
    with pytest.raises(WeightsError, match=r"features\.0\.0\.weight: checkpoint \(64, 3, 7, 7\)"):
        import_torchvision(pth, config=NetworkConfig.lite())


def test_checkpoints_carry_the_resolution_auto_ratio_aims_at(lite_network, tmp_path):
    from core import MattingSession

    lite_network.auto_long_side = 256
    path = save_weights(lite_network, tmp_path / "w.safetensors")
    assert read_weights(path)[1]["auto_long_side"] == "256"
    assert load_network(path).auto_long_side == 256
    frames = [torch.rand(72, 512, 3).numpy() for _ in range(2)]
    session = MattingSession(frames, weights=path, device="cpu")
    next(iter(session))
    assert session.downsample_ratio == 0.5


def test_the_weights_command_runs_without_a_runpy_warning():
    """``python -m core.weights`` is the command the upgrade message names; the package
    must not have imported it already (runpy's 'found in sys.modules' warning)."""
    done = subprocess.run(
        [sys.executable, "-m", "core.weights", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert "RuntimeWarning" not in done.stderr, done.stderr
