"""The processor on real EXR (and other) files: pixels, channels, metadata, chunks, resume."""

import functools
import json
import threading
from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest

from core import MattingSession
from core.weights import file_hash, load_network
from hosts.exr import Cancelled, UsageError, process_shot
from hosts.exr.colour import conversion, ocio_convert
from hosts.exr.curves import RTOL
from hosts.exr.io import read_plate, read_stamp, temp_path
from tests.hosts.exr.images import read_pixels, temp_files, write_image, write_shot


def _run(plates: str, out: str, weights: Path, **kwargs):
    return process_shot(plates, out, weights=weights, device="cpu", **kwargs)


def _expected(paths: list[Path], weights: Path, space: str, ratio: float = 1.0):
    """What the processor should write: the session run on the plates converted to sRGB,
    the foreground converted back to the plate's space."""
    conv = conversion(space)
    frames = [conv.to_network(read_plate(p).rgb()) for p in paths]
    session = MattingSession(
        frames, weights=load_network(weights), device="cpu", downsample_ratio=ratio
    )
    return [(r.alpha, conv.to_plate(r.foreground)) for r in session]


def test_rgba_is_the_foreground_in_the_plate_space_premultiplied_by_alpha(tmp_path, weights):
    paths = write_shot(tmp_path / "in", 4)
    report = _run(str(tmp_path / "in/plate.####.exr"), str(tmp_path / "out/m.####.exr"), weights)
    assert report.written == (1001, 1002, 1003, 1004)
    expected = _expected(paths, weights, "lin_rec709")
    for frame, (alpha, fg) in zip(range(1001, 1005), expected, strict=True):
        spec, px = read_pixels(tmp_path / f"out/m.{frame}.exr")
        assert spec.channelnames == ("R", "G", "B", "A")
        assert spec.format == oiio.TypeDesc("half")
        assert np.array_equal(px[..., 3], alpha.astype(np.float16).astype(np.float32))
        premultiplied = (fg * alpha[..., None]).astype(np.float16).astype(np.float32)
        assert np.abs(px[..., :3] - premultiplied).max() <= 1e-3
    assert float(expected[0][0].std()) > 0.05  # a matte that varies, not a constant


def test_unpremultiplied_and_srgb_plates(tmp_path, weights):
    paths = write_shot(tmp_path / "in", 3, ext=".png", pixel_type="uint8")
    _run(
        str(tmp_path / "in/plate.####.png"),
        str(tmp_path / "out/m.####.exr"),
        weights,
        premultiplied=False,
        pixel_type="float",
    )
    expected = _expected(paths, weights, "sRGB")
    spec, px = read_pixels(tmp_path / "out/m.1002.exr")
    assert spec.format == oiio.TypeDesc("float")
    # An sRGB plate reaches the network as it is; the EXR holds the foreground decoded to
    # scene-linear (tests/hosts/exr/test_output_colour.py reads it back through OCIO).
    linear = ocio_convert(expected[1][1], "srgb_tx", "lin_rec709")
    assert np.allclose(px[..., :3], linear, rtol=RTOL, atol=1e-9)  # lookup tables
    assert np.array_equal(px[..., 3], expected[1][0])
    assert '"premultiplied": false' in spec.get_string_attribute("memmatte")


def test_colorspace_option_converts_from_and_back_to_that_space(tmp_path, weights):
    paths = write_shot(tmp_path / "in", 2)
    _run(str(paths[0].parent / "plate.####.exr"), str(tmp_path / "a/m.####.exr"), weights)
    _run(
        str(paths[0].parent / "plate.####.exr"),
        str(tmp_path / "b/m.####.exr"),
        weights,
        colorspace="ACEScg",
    )
    linear = read_pixels(tmp_path / "a/m.1001.exr")
    acescg = read_pixels(tmp_path / "b/m.1001.exr")
    assert json.loads(acescg[0].getattribute("memmatte"))["colorspace"] == "ACEScg"
    assert not np.array_equal(linear[1], acescg[1])
    alpha, fg = _expected(paths, weights, "ACEScg")[0]
    premultiplied = (fg * alpha[..., None]).astype(np.float16).astype(np.float32)
    assert np.abs(acescg[1][..., :3] - premultiplied).max() <= 1e-3


def test_metadata_and_windows_are_copied_and_stamped(tmp_path, weights):
    attrs = {
        "PixelAspectRatio": 2.0,
        "smpte:TimeCode": (oiio.TypeDesc("timecode"), (0x01000000, 0)),
        "FramesPerSecond": (oiio.TypeDesc("rational"), (24000, 1001)),
        "studio:shot": "sh010",
        "worldToCamera": (oiio.TypeDesc("matrix"), tuple(float(i) for i in range(16))),
    }
    write_shot(tmp_path / "in", 2, attributes=attrs, origin=(5, 3), display=(0, 0, 64, 40))
    _run(str(tmp_path / "in/plate.####.exr"), None, weights, compression="piz")
    spec, px = read_pixels(tmp_path / "in/matte/plate.1002.exr")
    assert (spec.x, spec.y, spec.width, spec.height) == (5, 3, 48, 32)
    assert (spec.full_x, spec.full_y, spec.full_width, spec.full_height) == (0, 0, 64, 40)
    assert spec.getattribute("PixelAspectRatio") == 2.0
    assert spec.getattribute("smpte:TimeCode") == (0x01000000, 0)
    assert spec.getattribute("FramesPerSecond") == (24000, 1001)
    assert spec.getattribute("studio:shot") == "sh010"
    assert spec.getattribute("worldToCamera") == tuple(float(i) for i in range(16))
    assert spec.getattribute("compression") == "piz"
    stamp = spec.getattribute("memmatte")
    assert f'"weights": "{file_hash(weights)}"' in stamp
    assert '"downsample_ratio": 1.0' in stamp and '"version": "0.1.0"' in stamp
    assert px.shape == (32, 48, 4)


def test_alpha_only_and_layers_channel_layouts(tmp_path, weights):
    paths = write_shot(tmp_path / "in", 3)
    plates = str(tmp_path / "in/plate.####.exr")
    _run(plates, str(tmp_path / "rgba/m.####.exr"), weights)
    _run(plates, str(tmp_path / "alpha/m.####.exr"), weights, layout="alpha")
    _run(plates, str(tmp_path / "layers/m.####.exr"), weights, layout="layers")
    _, rgba = read_pixels(tmp_path / "rgba/m.1003.exr")
    spec_a, alpha = read_pixels(tmp_path / "alpha/m.1003.exr")
    spec_l, layers = read_pixels(tmp_path / "layers/m.1003.exr")
    assert spec_a.channelnames == ("A",) and np.array_equal(alpha[..., 0], rgba[..., 3])
    channel = {name: layers[..., i] for i, name in enumerate(spec_l.channelnames)}
    assert sorted(channel) == ["B", "G", "R", "fg.B", "fg.G", "fg.R", "matte.A"]
    _, plate = read_pixels(paths[2])
    for i, c in enumerate("RGB"):
        assert np.array_equal(channel[c], plate[..., i])  # the plate, untouched
        assert np.array_equal(channel[f"fg.{c}"], rgba[..., i])
    assert np.array_equal(channel["matte.A"], rgba[..., 3])


def test_chunks_write_bit_identical_files_to_a_whole_shot_run(tmp_path, weights):
    write_shot(tmp_path / "in", 12)
    plates = str(tmp_path / "in/plate.####.exr")
    _run(plates, str(tmp_path / "whole/m.####.exr"), weights, downsample_ratio=0.5)
    for chunk in ("1001-1004", "1005-1008", "1009-1012"):
        _run(
            plates,
            str(tmp_path / "chunks/m.####.exr"),
            weights,
            frames=chunk,
            downsample_ratio=0.5,
            io_threads=1,  # and the number of I/O threads changes nothing either
        )
    for frame in range(1001, 1013):
        whole = (tmp_path / f"whole/m.{frame}.exr").read_bytes()
        assert (tmp_path / f"chunks/m.{frame}.exr").read_bytes() == whole, frame


@pytest.mark.slow
def test_compiled_chunks_equal_a_compiled_whole_shot_run(tmp_path, weights):
    write_shot(tmp_path / "in", 6)
    plates = str(tmp_path / "in/plate.####.exr")
    run = functools.partial(process_shot, plates, weights=weights, device="cpu", compile=True)
    run(str(tmp_path / "whole/m.####.exr"), downsample_ratio=0.5)
    for chunk in ("1001-1003", "1004-1006"):
        run(str(tmp_path / "chunks/m.####.exr"), frames=chunk, downsample_ratio=0.5)
    for frame in range(1001, 1007):
        whole = (tmp_path / f"whole/m.{frame}.exr").read_bytes()
        assert (tmp_path / f"chunks/m.{frame}.exr").read_bytes() == whole, frame


@pytest.mark.slow
def test_precompiled_graphs_serve_every_chunk_and_chunks_equal_a_whole_shot_run(
    tmp_path, weights, capsys
):
    from core.batch import main

    write_shot(tmp_path / "in", 6)
    common = [str(tmp_path / "in/plate.####.exr"), "--weights", str(weights)]
    common += ["--device", "cpu", "--downsample-ratio", "0.5", "--cache-dir", str(tmp_path / "c")]
    assert main([*common, "--precompile"]) == 0
    assert "compiled and cached compiled graphs" in capsys.readouterr().err
    (entry,) = (tmp_path / "c").iterdir()
    # Without --compile, runs use the cached graphs; chunks equal the whole-shot run.
    assert main([*common, "-o", str(tmp_path / "whole/m.####.exr")]) == 0
    for chunk in ("1001-1003", "1004-1006"):
        assert main([*common, "-o", str(tmp_path / "chunks/m.####.exr"), "--frames", chunk]) == 0
    err = capsys.readouterr().err
    assert err.count("loaded compiled graphs for 48x32") == 3 and str(entry) in err
    assert main([*common, "-o", str(tmp_path / "eager/m.####.exr"), "--eager"]) == 0
    for frame in range(1001, 1007):
        whole = (tmp_path / f"whole/m.{frame}.exr").read_bytes()
        assert (tmp_path / f"chunks/m.{frame}.exr").read_bytes() == whole, frame
        (_, compiled), (_, eager) = (
            read_pixels(tmp_path / f"{d}/m.{frame}.exr") for d in ("whole", "eager")
        )
        assert np.abs(compiled - eager).max() <= 1e-3  # half-float outputs
    assert list((tmp_path / "c").iterdir()) == [entry]


def test_resume_skips_complete_frames_and_redoes_others(tmp_path, weights):
    write_shot(tmp_path / "in", 6)
    plates, out = str(tmp_path / "in/plate.####.exr"), str(tmp_path / "out/m.####.exr")
    _run(plates, out, weights)
    clean = {f: (tmp_path / f"out/m.{f}.exr").read_bytes() for f in range(1001, 1007)}
    (tmp_path / "out/m.1004.exr").unlink()
    (tmp_path / "out/m.1002.exr").write_bytes(b"truncated")
    stale = temp_path(tmp_path / "out/m.1004.exr").with_name(".m.1004.tmp-4000000.exr")
    stale.write_bytes(b"partial")
    report = _run(plates, out, weights, resume=True)
    assert report.written == (1002, 1004) and report.skipped == (1001, 1003, 1005, 1006)
    assert {f: (tmp_path / f"out/m.{f}.exr").read_bytes() for f in clean} == clean
    assert temp_files(tmp_path) == []


def test_resume_over_outputs_made_otherwise_is_refused_and_leaves_them(tmp_path, weights):
    write_shot(tmp_path / "in", 4)
    plates, out = str(tmp_path / "in/plate.####.exr"), str(tmp_path / "out/m.####.exr")
    _run(plates, out, weights)
    before = {p: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    for change, differs in [
        ({"layout": "alpha"}, "layout 'rgba' there, 'alpha' now"),
        ({"downsample_ratio": 0.5}, "downsample_ratio"),
        ({"compile": True}, "compile False there, True now"),
    ]:
        with pytest.raises(UsageError, match="was written with other settings") as error:
            _run(plates, out, weights, resume=True, **change)
        assert differs in str(error.value) and "m.1001.exr" in str(error.value)
    assert {p: p.read_bytes() for p in (tmp_path / "out").iterdir()} == before


def test_cancel_stops_promptly_and_leaves_only_complete_files(tmp_path, weights):
    write_shot(tmp_path / "in", 12)
    plates, out = str(tmp_path / "in/plate.####.exr"), str(tmp_path / "out/m.####.exr")
    cancel = threading.Event()

    def progress(event):
        if event.kind == "frame" and event.done == 3:
            cancel.set()

    with pytest.raises(Cancelled):
        _run(plates, out, weights, progress=progress, cancel=cancel)
    written = sorted((tmp_path / "out").glob("m.*.exr"))
    assert 3 <= len(written) < 12
    assert temp_files(tmp_path) == []
    for path in written:
        assert read_pixels(path)[1].shape == (32, 48, 4)
    report = _run(plates, out, weights, resume=True)
    assert len(report.skipped) == len(written)
    _run(plates, str(tmp_path / "clean/m.####.exr"), weights)
    for frame in range(1001, 1013):
        clean = (tmp_path / f"clean/m.{frame}.exr").read_bytes()
        assert (tmp_path / f"out/m.{frame}.exr").read_bytes() == clean


def test_nan_inf_and_negative_pixels_are_sanitised_and_counted_once_per_shot(tmp_path, weights):
    paths = write_shot(tmp_path / "in", 5)
    damages = ([np.nan, np.inf, -1.0], [-0.25, 0, 0], [-3e-7] * 3)
    for path, damage in zip(paths[1:4], damages, strict=True):
        _, px = read_pixels(path)
        px[0, 0] = damage
        write_image(path, px, "float")
    events = []
    _run(str(tmp_path / "in/plate.####.exr"), None, weights, progress=events.append)
    # One event for the shot; the third damaged frame holds only rounding noise (-3e-7,
    # within the documented -1e-4), replaced but not counted.
    (warning,) = [e for e in events if e.kind in ("sanitised", "warning")]
    assert warning.frame == 1002 and warning.path == str(paths[1])
    assert warning.message == (
        "replaced 1 NaN, 1 Inf and 2 negative values (below -0.0001) in 2 frame(s), the first 1002"
    )
    assert events.index(warning) == len(events) - 2  # just before shot_done
    _, out = read_pixels(tmp_path / "in/matte/plate.1002.exr")
    assert np.isfinite(out).all()


def test_frames_read_only_as_memory_are_not_reported(tmp_path, weights):
    paths = write_shot(tmp_path / "in", 4)
    _, px = read_pixels(paths[1])
    px[0, 0] = [np.nan, -1.0, -1.0]
    write_image(paths[1], px)
    events = []
    plates = str(tmp_path / "in/plate.####.exr")
    _run(plates, None, weights, frames="1003-1004", progress=events.append)
    assert [e for e in events if e.kind in ("sanitised", "warning")] == []


@pytest.mark.parametrize(
    ("ext", "pixel_type"),
    [(".tif", "uint16"), (".dpx", "uint16"), (".jpg", "uint8"), (".tif", "float")],
)
def test_other_formats_are_read(tmp_path, weights, ext, pixel_type):
    write_shot(tmp_path / "in", 2, ext=ext, pixel_type=pixel_type)
    report = _run(str(tmp_path / f"in/plate.####{ext}"), None, weights)
    assert report.written == (1001, 1002)
    spec, _ = read_pixels(tmp_path / "in/matte/plate.1001.exr")
    stamp = json.loads(spec.getattribute("memmatte"))
    space = stamp["colorspace"]
    # Float data is scene-linear; integer data is sRGB (the network's own space).
    assert conversion(space).identity == (pixel_type != "float")
    assert pixel_type != "float" or space == "lin_rec709"
    # Either way the EXR is scene-linear, and its header says so.
    assert stamp["output_colorspace"] == spec.get_string_attribute("oiio:ColorSpace")
    assert oiio.ColorConfig().equivalent(stamp["output_colorspace"], "lin_rec709")


def test_the_bundled_sample_shot_is_matted(tmp_path, weights):
    sample = Path(__file__).resolve().parents[3] / "examples" / "sample_shot"
    report = _run(str(sample / "plate.####.exr"), str(tmp_path / "m.####.exr"), weights)
    assert report.written == tuple(range(1001, 1025))
    spec, px = read_pixels(tmp_path / "m.1024.exr")
    assert px.shape == (180, 320, 4) and spec.getattribute("FramesPerSecond") == (24, 1)
    assert spec.getattribute("smpte:TimeCode") is not None


def test_frame_events_come_in_frame_order_when_writes_finish_out_of_order(
    tmp_path, weights, monkeypatch
):
    import hosts.exr.processor as processor

    write_shot(tmp_path / "in", 5)
    real_write = processor.write_atomic
    first_started, later_written = threading.Event(), threading.Event()

    def write_atomic(path, spec, pixels):
        if Path(path).name == "m.1001.exr":  # the first frame's write is the slowest
            first_started.set()
            later_written.wait(timeout=30)
        real_write(path, spec, pixels)
        if Path(path).name == "m.1002.exr":
            later_written.set()

    monkeypatch.setattr(processor, "write_atomic", write_atomic)
    events = []
    _run(
        str(tmp_path / "in/plate.####.exr"),
        str(tmp_path / "out/m.####.exr"),
        weights,
        io_threads=3,
        progress=events.append,
    )
    assert first_started.is_set() and later_written.is_set()
    frames = [(e.frame, e.done) for e in events if e.kind == "frame"]
    assert frames == [(1001, 1), (1002, 2), (1003, 3), (1004, 4), (1005, 5)]


def test_resume_never_mixes_eager_frames_with_cached_compiled_ones(tmp_path, weights, monkeypatch):
    # The default mode runs the cached compiled graphs when they exist, else eager; the stamp
    # records which ran, so graphs cached between a run and its resume are refused.
    write_shot(tmp_path / "in", 3)
    plates, out = str(tmp_path / "in/plate.####.exr"), str(tmp_path / "out/m.####.exr")
    cache = tmp_path / "cache"
    _run(plates, out, weights, cache_dir=cache)
    assert read_stamp(tmp_path / "out/m.1001.exr")["compile"] is False
    monkeypatch.setattr("core.compiled.GraphCache.has", lambda self, key: True)
    monkeypatch.setattr("core.compiled.GraphCache.untrusted", lambda self, key=None: [])
    monkeypatch.setattr("core.session.MattingSession.precompile", lambda self, *a, **k: True)
    with pytest.raises(UsageError, match="compile False there, 'aot' now") as error:
        _run(plates, out, weights, cache_dir=cache, resume=True)
    assert "--eager for frames made without compiled graphs" in str(error.value)
