"""Shipping a trained variant: fp16, its training record kept, the licence beside it."""

from __future__ import annotations

import torch

from core.weights import load_network, read_weights, save_weights
from training.bundle import LICENCE_TEXT, main


def test_bundle_casts_to_fp16_keeps_the_record_and_puts_the_licence_beside(
    lite_network, clip, tmp_path
):
    lite_network.auto_long_side = 384
    final = save_weights(lite_network, tmp_path / "final.safetensors", stage="distill",
                         metadata={"variant": "memory", "steps": "12"})  # fmt: skip
    target = tmp_path / "assets" / "default.safetensors"
    target.parent.mkdir()
    assert main([str(final), str(target)]) == 0
    tensors, meta = read_weights(target)
    assert {t.dtype for t in tensors.values() if t.is_floating_point()} == {torch.float16}
    assert meta["stage"] == "distill" and meta["variant"] == "memory" and meta["steps"] == "12"
    assert meta["license"].startswith("GPL-3.0")
    assert len(meta["bundled_from_sha256"]) == 16
    assert (target.parent / LICENCE_TEXT.name).read_bytes() == LICENCE_TEXT.read_bytes()
    shipped = load_network(target)
    assert shipped.auto_long_side == 384
    with torch.no_grad():
        diff = (shipped(clip).alpha - lite_network.eval()(clip).alpha).abs().max()
    assert diff < 2e-2  # fp16 rounding only


def test_bundle_of_a_missing_file_is_a_one_line_error(tmp_path, capsys):
    import pytest

    with pytest.raises(SystemExit) as exit_:
        main([str(tmp_path / "nope.safetensors"), str(tmp_path / "out.safetensors")])
    assert exit_.value.code == 2
    assert "no such weights file" in capsys.readouterr().err
    assert not (tmp_path / "out.safetensors").exists()
