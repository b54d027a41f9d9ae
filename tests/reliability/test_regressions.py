"""One test per failure the fault classes found, each on the smallest case that showed it."""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest

from core.batch import main
from core.compiled import MANIFEST, GraphCache
from hosts.exr import errors
from hosts.exr.errors import BadInputError
from hosts.exr.io import read_plate
from tests.hosts.exr.images import write_shot
from tests.reliability import caches
from tests.reliability.harness import (
    can_mount,
    captured_stderr,
    make_weights,
    mount_tmpfs,
    pixels,
    unmount,
)


def test_a_header_with_bytes_that_are_not_utf8_is_bad_input_naming_the_file(tmp_path):
    # OpenEXR quotes the damaged type name in its message: 'c\x8elist' is not UTF-8, and
    # OpenImageIO's binding raised UnicodeDecodeError (memmatte: internal error, exit 1).
    (path,) = write_shot(tmp_path, 1)
    data = path.read_bytes()
    at = data.index(b"chlist")
    path.write_bytes(data[: at + 1] + b"\x8e" + data[at + 2 :])
    with pytest.raises(BadInputError, match="cannot be read") as exc:
        read_plate(path)
    assert str(exc.value).startswith(f"{path}: ") and "chlist" not in str(exc.value)
    assert "\N{REPLACEMENT CHARACTER}" in str(exc.value)


def test_a_channel_name_that_is_not_utf8_is_bad_input(tmp_path):
    (path,) = write_shot(tmp_path, 1)
    data = path.read_bytes()
    at = data.index(b"B\x00")  # the channel list's first name
    path.write_bytes(data[:at] + b"\xff" + data[at + 1 :])
    with pytest.raises(BadInputError) as exc:
        read_plate(path)
    assert str(exc.value).startswith(f"{path}: ")


def test_libpng_prints_nothing_of_its_own_for_a_damaged_png(tmp_path):
    (path,) = write_shot(tmp_path, 1, ext=".png", pixel_type="uint8")
    data = bytearray(path.read_bytes())
    at = data.index(b"IDAT") + 20
    data[at : at + 32] = bytes(32)
    path.write_bytes(bytes(data))
    with captured_stderr() as err, pytest.raises(BadInputError, match="truncated or corrupt"):
        read_plate(path)
    assert err.text == ""


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_a_folder_or_fifo_in_a_frames_place_stops_after_the_frames_before_it(
    capsys, tmp_path, kind
):
    weights = make_weights(tmp_path)
    write_shot(tmp_path / "in", 3)
    frame = tmp_path / "in/plate.1003.exr"
    frame.unlink()
    frame.mkdir() if kind == "folder" else os.mkfifo(frame)
    code = main([str(tmp_path / "in/plate.####.exr"), "--weights", str(weights), "-q"])
    err = capsys.readouterr().err
    assert code == errors.EXIT_BAD_INPUT
    assert f"{frame}: not a " in err and ("folder" if kind == "folder" else "fifo") in err
    assert sorted(p.name for p in (tmp_path / "in/matte").iterdir()) == [
        "plate.1001.exr",
        "plate.1002.exr",
    ]


@pytest.mark.skipif(not can_mount(), reason="needs root to mount a size-limited tmpfs")
def test_a_full_disk_never_leaves_a_truncated_output_that_resume_would_trust(capsys, tmp_path):
    # OpenImageIO reported success for EXRs whose last chunks did not fit; they were
    # published, and --resume (which reads headers) kept them.
    weights = make_weights(tmp_path)
    write_shot(tmp_path / "in", 4, height=64, width=96)
    disk = tmp_path / "disk"
    mount_tmpfs(disk, 48)
    try:
        args = [str(tmp_path / "in"), "-o", f"{disk}/m.####.exr", "--weights", str(weights)]
        code = main([*args, "-q", "--io-threads", "1"])
        assert code == errors.EXIT_OUTPUT
        assert "write failed" in capsys.readouterr().err
        written = sorted(disk.iterdir())
        assert written and all(pixels(p) is not None for p in written)
        assert all(".tmp-" not in p.name for p in written)
    finally:
        unmount(disk)


def test_an_altered_tensor_in_a_weights_file_exits_2_naming_it(capsys, tmp_path):
    weights = make_weights(tmp_path)
    data = bytearray(weights.read_bytes())
    data[-100] ^= 0x01  # a bit of the last tensor's data: the file still parses
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(bytes(data))
    write_shot(tmp_path / "in", 2)
    code = main([str(tmp_path / "in"), "--weights", str(damaged), "-q"])
    err = capsys.readouterr().err.strip()
    assert code == errors.EXIT_USAGE
    assert err.startswith(f"memmatte: {damaged}: damaged weights file") and "\n" not in err


def test_a_package_its_manifest_does_not_list_is_never_loaded(tmp_path):
    cache = GraphCache(tmp_path)
    key = caches._key()
    cache.get(key, caches._build(0), caches._Loader())
    entry = cache.path(key)
    manifest = (entry / MANIFEST).read_text()
    (entry / MANIFEST).write_text(manifest.replace('"step.pt2"', '"other.pt2"'))
    (entry / "step.pt2").write_bytes(b"damaged")
    loader = caches._Loader()
    loaded = cache.get(key, caches._build(0), loader)
    assert loader.damaged_loads == 0 and loaded["step.pt2"] == caches._content("step.pt2")


def test_a_killed_builds_temporary_folder_is_removed_by_the_next_build(tmp_path):
    import platform

    dead = _dead_pid()
    name = f".tmp-{'0' * 24}-{platform.node()}-{dead}-abc_12"
    (tmp_path / name).mkdir()
    (tmp_path / name / "step.pt2").write_bytes(b"half")
    running = tmp_path / f".tmp-{'0' * 24}-{platform.node()}-{os.getpid()}-xyz"
    running.mkdir()
    other_machine = tmp_path / f".tmp-{'0' * 24}-elsewhere-{dead}-def"
    other_machine.mkdir()
    GraphCache(tmp_path).get(caches._key(), caches._build(0), caches._Loader())
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("."))
    assert left == sorted([running.name, other_machine.name])


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_frames_before_a_damaged_one_are_written_even_when_writes_lag(
    capsys, tmp_path, monkeypatch
):
    # Writes run behind inference; an input error used to drop those not yet started.
    import time

    import hosts.exr.processor as processor

    real = processor.write_atomic

    def slow(*args, **kwargs):
        time.sleep(0.3)
        real(*args, **kwargs)

    monkeypatch.setattr(processor, "write_atomic", slow)
    weights = make_weights(tmp_path)
    write_shot(tmp_path / "in", 5)
    (tmp_path / "in/plate.1005.exr").write_bytes(b"\x76\x2f\x31\x01" + bytes(60))
    code = main([str(tmp_path / "in"), "--weights", str(weights), "-q", "--io-threads", "1"])
    assert code == errors.EXIT_BAD_INPUT and "plate.1005.exr" in capsys.readouterr().err
    written = sorted(p.name for p in (tmp_path / "in/matte").iterdir())
    assert written == [f"plate.{f}.exr" for f in range(1001, 1005)]
    assert all(np.isfinite(pixels(tmp_path / "in/matte" / n)).all() for n in written)
