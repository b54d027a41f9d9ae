"""The image-sequence processor on CUDA: chunks equal a whole-shot run there too, and the
mattes agree with the CPU's. Skipped where torch sees no CUDA device."""

import pytest
import torch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
pytest.importorskip("OpenImageIO")

import numpy as np  # noqa: E402

from hosts.exr import process_shot  # noqa: E402
from tests.hosts.exr.images import read_pixels, write_shot  # noqa: E402


def test_cuda_chunks_equal_a_whole_shot_run_and_the_cpu(tmp_path, weights):
    write_shot(tmp_path / "in", 6)
    plates = str(tmp_path / "in/plate.####.exr")
    common = {"weights": weights, "downsample_ratio": 0.5, "precision": "fp32"}
    process_shot(plates, str(tmp_path / "whole/m.####.exr"), device="cuda", **common)
    for chunk in ("1001-1003", "1004-1006"):
        process_shot(
            plates, str(tmp_path / "chunks/m.####.exr"), frames=chunk, device="cuda", **common
        )
    process_shot(plates, str(tmp_path / "cpu/m.####.exr"), device="cpu", **common)
    for frame in range(1001, 1007):
        whole = (tmp_path / f"whole/m.{frame}.exr").read_bytes()
        assert (tmp_path / f"chunks/m.{frame}.exr").read_bytes() == whole, frame
        (_, gpu), (_, cpu) = (
            read_pixels(tmp_path / f"{d}/m.{frame}.exr") for d in ("whole", "cpu")
        )
        assert np.abs(gpu - cpu).max() <= 1e-2  # TF32 convolutions, half-float files
