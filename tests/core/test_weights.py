"""Safetensors checkpoints: round trip, metadata, and one clear error for every mismatch."""

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
    meta = {"format": "memmatte", "format_version": "1", "config": NetworkConfig.lite().to_json()}
    save_file(state, str(path), metadata=meta)
    with pytest.raises(WeightsError) as err:
        load_network(path)
    text = str(err.value)
    assert str(path) in text
    assert "decoder.up8.merge.shortcut.0.weight" in text
    assert "extra.tensor" in text
    assert "aspp.project.0.weight: checkpoint (3, 3, 1, 1)" in text


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
