"""``python -m training.evaluate`` on a tiny generated test set."""

from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest
import torch

from core.model import MattingNetwork, NetworkConfig
from core.session import MattingSession
from core.weights import save_weights
from training.evaluate import main, read_image
from training.metrics import evaluate_clip
from training.synthetic import SeededClips, write_evaluation


@pytest.fixture(scope="module")
def test_set(tmp_path_factory):
    """Two clips of 3 frames at 48x64 in <clip>/{com,pha,fgr}/<frame>.png, and lite weights."""
    root = tmp_path_factory.mktemp("eval")
    write_evaluation(root / "set", SeededClips([0, 1], frames=3, size=(48, 64)))
    torch.manual_seed(0)
    weights = save_weights(MattingNetwork(NetworkConfig.lite()), root / "lite.safetensors")
    return root / "set", weights


def test_writes_per_clip_csv_and_mean_markdown(test_set, tmp_path, capsys):
    data, weights = test_set
    out = tmp_path / "out"
    status = main(
        ["--weights", str(weights), "--data", str(data), "--ratio", "0.5", "--out", str(out)]
    )
    assert status == 0
    with (out / "clips.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["clip"] for r in rows] == ["0000", "0001"]
    assert list(rows[0]) == [
        "clip", "frames", "mad", "mse", "grad", "conn", "dtssd", "fgr_mad", "fgr_mse",
        "fgr_mse_inside",
    ]  # fmt: skip

    # The first clip's row is what evaluate_clip gives for MattingSession's output.
    frames = [read_image(p, 3, None) for p in sorted((data / "0000" / "com").iterdir())]
    true_pha = [read_image(p, 1, None) for p in sorted((data / "0000" / "pha").iterdir())]
    true_fgr = [read_image(p, 3, None) for p in sorted((data / "0000" / "fgr").iterdir())]
    session = MattingSession(
        frames, weights=weights, device="cpu", downsample_ratio=0.5, precision="fp32"
    )
    results = list(session)
    expected = evaluate_clip(
        [r.alpha for r in results], true_pha, [r.foreground for r in results], true_fgr
    )
    for name, value in expected.items():
        assert float(rows[0][name]) == pytest.approx(value, rel=1e-6)

    summary = (out / "summary.md").read_text()
    mean_mad = np.mean([float(r["mad"]) for r in rows])
    assert "| lite.safetensors | 2 |" in summary
    assert f"{mean_mad:.3f}" in summary
    assert "| MAD | MSE | GRAD | CONN | DTSSD | FGR MAD | FGR MSE |" in capsys.readouterr().out


def test_resizes_with_size_and_works_without_foregrounds(test_set, tmp_path):
    data, weights = test_set
    copy = tmp_path / "set"
    shutil.copytree(data, copy)
    for clip in copy.iterdir():
        shutil.rmtree(clip / "fgr")
    out = tmp_path / "out"
    assert (
        main(["--weights", str(weights), "--data", str(copy), "--size", "40x32", "--out", str(out)])
        == 0
    )
    header = (out / "clips.csv").read_text().splitlines()[0]
    assert header == "clip,frames,mad,mse,grad,conn,dtssd"
    assert read_image(copy / "0000" / "pha" / "0000.png", 1, (32, 40)).shape == (32, 40)


def test_unpaired_frames_are_named(test_set, tmp_path, capsys):
    data, weights = test_set
    copy = tmp_path / "set"
    shutil.copytree(data, copy)
    (copy / "0001" / "pha" / "0002.png").unlink()
    assert main(["--weights", str(weights), "--data", str(copy), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "0001/pha: frames do not match com/" in err and "0002" in err
