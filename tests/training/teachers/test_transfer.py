"""Robust Video Matting's encoder in our backbone: ``transfer_rvm_encoder`` and
``python -m core.weights import-rvm``."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from core.model import MattingNetwork
from core.weights import load_network, main, read_weights
from training.teachers.transfer import transfer_rvm_encoder

TOLERANCE = 1e-4


def _taps_agree(network: MattingNetwork, teacher) -> None:
    # The same normalised input for both: the export stores its ImageNet mean/std
    # uint8-quantized, so its own normalisation differs from ours in the fourth decimal.
    x = network.normalize(torch.rand(2, 3, 64, 96, generator=torch.Generator().manual_seed(0)))
    with torch.no_grad():
        ours = network.backbone(x)
        theirs = teacher.encoder.features(x)
    expected_shapes = [(2, 16, 32, 48), (2, 24, 16, 24), (2, 40, 8, 12), (2, 960, 4, 6)]
    for a, b, shape in zip(ours, theirs, expected_shapes, strict=True):
        assert tuple(a.shape) == tuple(b.shape) == shape
        torch.testing.assert_close(a, b, rtol=0, atol=TOLERANCE)


def test_transfer_puts_the_teacher_encoder_into_our_backbone(teacher):
    torch.manual_seed(3)
    network = MattingNetwork().eval()
    before = {k: v.clone() for k, v in network.state_dict().items()}
    transfer_rvm_encoder(network, teacher)
    _taps_agree(network, teacher)
    after = network.state_dict()
    for name, value in before.items():
        if not name.startswith("backbone."):
            assert torch.equal(after[name], value), name
    bn = network.backbone.features[0][1]
    assert torch.equal(bn.weight, torch.ones(16))
    assert torch.equal(bn.bias, teacher.encoder.stem.conv.bias)
    assert torch.equal(bn.running_var, torch.full((16,), 1 - bn.eps))


def test_import_rvm_command_writes_a_loadable_checkpoint(teacher, rvm_json, tmp_path, capsys):
    out = tmp_path / "rvm-init.safetensors"
    assert main(["import-rvm", str(rvm_json), "-o", str(out), "--seed", "5"]) == 0
    assert "GPL-3.0" in capsys.readouterr().out
    _, metadata = read_weights(out)
    assert metadata["stage"] == "rvm-init"
    assert "GPL-3.0" in metadata["license"]
    network = load_network(out)
    _taps_agree(network, teacher)
    # The rest is random from the seed: the same as a fresh network built after seeding.
    torch.manual_seed(5)
    fresh = MattingNetwork()
    torch.testing.assert_close(network.aspp.state_dict(), fresh.aspp.state_dict())


def test_core_weights_does_not_import_training():
    code = "import core.weights, sys; print(sorted(m for m in sys.modules if 'training' in m))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_import_rvm_of_a_missing_model_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as code:
        main(["import-rvm", str(tmp_path / "rvm.json"), "-o", str(tmp_path / "x.safetensors")])
    assert code.value.code == 2
    assert (
        capsys.readouterr().err.strip() == f"memmatte: {tmp_path / 'rvm.json'}: no such model file"
    )
    assert not (tmp_path / "x.safetensors").exists()
