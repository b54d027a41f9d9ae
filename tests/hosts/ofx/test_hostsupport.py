"""The bundle in a host built on the official OpenFX HostSupport library
(hosts/ofx/hostsupport/memmatte_ofxhost.cpp, built by build.sh from a fetched copy of
github.com/AcademySoftwareFoundation/openfx). Runs only with ``MEMMATTE_OPENFX_SOURCE`` set to
that checkout (nothing is fetched in tests):

    git clone https://github.com/AcademySoftwareFoundation/openfx /tmp/openfx
    MEMMATTE_OPENFX_SOURCE=/tmp/openfx python -m pytest tests/hosts/ofx/test_hostsupport.py -m slow
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from core import MattingSession
from hosts.ofx.facts import ofx

SOURCE = os.environ.get("MEMMATTE_OPENFX_SOURCE")
BUILD = Path(__file__).parents[3] / "hosts" / "ofx" / "hostsupport" / "build.sh"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not SOURCE, reason="set MEMMATTE_OPENFX_SOURCE to a checkout of the openfx repository"
    ),
]


@pytest.fixture(scope="module")
def ofxhost(tmp_path_factory) -> Path:
    if shutil.which("g++") is None:
        pytest.skip("needs g++")
    out = tmp_path_factory.mktemp("ofxhost")
    run = subprocess.run(["bash", str(BUILD), SOURCE, str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    return out / "memmatte_ofxhost"


def _run(ofxhost, bundle, model, frames, tmp_path, times, *, first=1001, context="filter",
         mode=0, premult="unpremultiplied"):  # fmt: skip
    height, width, _ = frames[0].shape
    raw = tmp_path / "frames.raw"
    np.stack(frames).astype(np.float32).tofile(raw)
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    command = [str(ofxhost), str(model), str(width), str(height), str(first), str(len(frames)),
               str(raw), str(out), context, str(mode), premult, *map(str, times)]  # fmt: skip
    env = dict(os.environ, OFX_PLUGIN_PATH=str(bundle.parent))
    run = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path)
    images = {
        t: np.fromfile(out / f"frame.{t}.raw", np.float32).reshape(height, width, 4)
        for t in times
        if (out / f"frame.{t}.raw").exists()
    }
    return run, images


@pytest.mark.parametrize("context", ["filter", "general"])
def test_every_action_in_order_and_shuffled_matches_the_session(
    ofxhost, bundle, model, checkpoint, clip, tmp_path, context
):
    rgb = [f[..., :3] for f in clip]
    reference = list(MattingSession(rgb, weights=checkpoint, device="cpu"))
    times = list(range(1001, 1001 + len(clip)))
    shuffled = list(times)
    random.Random(5).shuffle(shuffled)
    for order in (times, shuffled):
        run, images = _run(ofxhost, bundle, model, clip, tmp_path, order, context=context)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
        assert "FAILED" not in run.stdout and "message" not in run.stdout, run.stdout
        assert f"output premultiplication: {ofx.kOfxImageUnPreMultiplied}" in run.stdout
        for t in order:
            assert f"frames needed {t}: {max(t - 2, 1001)} {t}" in run.stdout
            fetched = re.search(rf"^fetched {t}:(.*)$", run.stdout, re.M).group(1).split()
            assert sorted(set(map(int, fetched))) == list(range(max(t - 2, 1001), t + 1))
            alpha = images[t][..., 3]
            error = np.abs(alpha - reference[t - 1001].alpha).max()
            print(f"{context} frame {t}: max |alpha - session| = {error:.2e}")
            assert error <= 1e-4
            assert np.array_equal(images[t][..., :3], clip[t - 1001][..., :3])


def test_premultiplied_source_and_output_modes(ofxhost, bundle, model, clip, tmp_path):
    straight = [np.concatenate([f[..., :3], 0.25 + 0.75 * f[..., 3:]], -1) for f in clip]
    premultiplied = [np.concatenate([f[..., :3] * f[..., 3:], f[..., 3:]], -1) for f in straight]
    plain, a = _run(ofxhost, bundle, model, straight, tmp_path, [1003])
    premult, b = _run(ofxhost, bundle, model, premultiplied, tmp_path, [1003],
                      premult="premultiplied")  # fmt: skip
    assert plain.returncode == premult.returncode == 0, premult.stdout
    assert np.abs(a[1003] - b[1003]).max() <= 1e-5
    alpha_only, _ = _run(ofxhost, bundle, model, clip, tmp_path, [1002], mode=2)
    assert f"output premultiplication: {ofx.kOfxImagePreMultiplied}" in alpha_only.stdout
