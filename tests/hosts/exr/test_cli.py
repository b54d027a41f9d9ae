"""``python -m core.batch``: exit codes, messages, log formats, and a SIGKILL mid-shot."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from core.batch import main
from hosts.exr import errors
from tests.hosts.exr.images import read_pixels, temp_files, write_image, write_shot
from tests.hosts.exr.test_io import write_parts

ROOT = Path(__file__).resolve().parents[3]


def torch_has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _cli(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def shot(tmp_path: Path) -> Path:
    write_shot(tmp_path / "in", 6)
    return tmp_path / "in"


def test_a_run_writes_mattes_and_logs_each_frame(capsys, shot, weights):
    code, _, err = _cli(capsys, shot / "plate.####.exr", "--weights", weights, "--device", "cpu")
    assert code == errors.EXIT_OK
    assert sorted(p.name for p in (shot / "matte").iterdir()) == [
        f"plate.{f}.exr" for f in range(1001, 1007)
    ]
    assert "frame 1006 → " in err and "6 frame(s) written" in err


def test_json_log_has_one_event_per_line(capsys, shot, weights):
    code, out, _ = _cli(
        capsys, shot, "--weights", weights, "--device", "cpu", "--log-format", "json"
    )
    assert code == 0
    events = [json.loads(line) for line in out.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "shot_start" and kinds[-2:] == ["shot_done", "summary"]
    frames = [e for e in events if e["event"] == "frame"]
    assert [e["frame"] for e in frames] == list(range(1001, 1007))
    assert frames[-1]["done"] == frames[-1]["total"] == 6
    assert events[-1]["exit_code"] == 0


def test_frames_past_the_end_of_the_shot_are_skipped_with_a_warning(capsys, shot, weights):
    # OpenCue's #FRAME_END# can run past the last frame in the last chunk.
    code, _, err = _cli(
        capsys, shot, "--weights", weights, "--device", "cpu", "--frames", "1005-1010"
    )
    assert code == 0 and "4 frame(s) outside the shot skipped" in err
    assert sorted(p.name for p in (shot / "matte").iterdir()) == [
        "plate.1005.exr",
        "plate.1006.exr",
    ]


def test_quiet_prints_nothing_on_success(capsys, shot, weights):
    code, out, err = _cli(capsys, shot, "--weights", weights, "--device", "cpu", "-q")
    assert (code, out, err) == (0, "", "")


@pytest.mark.parametrize("damage", ["corrupt", "truncated", "missing", "resolution"])
def test_bad_frames_stop_the_shot_with_exit_3_naming_the_file(capsys, shot, weights, damage):
    frame = shot / "plate.1004.exr"
    if damage == "corrupt":
        frame.write_bytes(b"\x00" * 64)
    elif damage == "truncated":
        data = frame.read_bytes()
        frame.write_bytes(data[: len(data) * 2 // 3])
    elif damage == "missing":
        frame.unlink()
    else:
        write_image(frame, read_pixels(shot / "plate.1001.exr")[1][:16])
    code, _, err = _cli(capsys, shot / "plate.####.exr", "--weights", weights, "--device", "cpu")
    assert code == errors.EXIT_BAD_INPUT
    assert str(frame) in err
    expected = {
        "corrupt": "cannot be read",
        "truncated": "truncated or corrupt",
        "missing": "missing frame",
        "resolution": "must not change resolution",
    }[damage]
    assert expected in err
    assert temp_files(shot) == []


def test_keep_going_runs_the_other_shots_and_reports_all_failures(capsys, tmp_path, weights):
    write_shot(tmp_path / "a", 3)
    write_shot(tmp_path / "b", 3, name="bad.")
    write_shot(tmp_path / "c", 4, name="also_bad.")
    (tmp_path / "b/bad.1002.exr").write_bytes(b"garbage")
    (tmp_path / "c/also_bad.1002.exr").unlink()
    inputs = [tmp_path / "b/bad.####.exr", tmp_path / "a/plate.####.exr", tmp_path / "c"]
    code, _, err = _cli(capsys, *inputs, "--weights", weights, "--device", "cpu", "--keep-going")
    assert code == errors.EXIT_PARTIAL
    assert len(list((tmp_path / "a/matte").glob("*.exr"))) == 3
    assert "FAILED" in err and "bad.1002.exr" in err and "also_bad.1002.exr" in err
    code, _, err = _cli(capsys, *inputs, "--weights", weights, "--device", "cpu")
    assert code == errors.EXIT_BAD_INPUT and "bad.1002.exr" in err


def test_usage_errors_exit_2(capsys, shot, weights, tmp_path):
    code, _, err = _cli(capsys, shot / "plate.####.exr", "--weights", tmp_path / "none.st")
    assert code == errors.EXIT_USAGE and "none.st" in err
    code, _, err = _cli(
        capsys, shot / "plate.####.exr", "--weights", weights, "-o", shot / "plate.####.exr"
    )
    assert code == errors.EXIT_USAGE and "refusing to overwrite input" in err
    code, _, err = _cli(capsys, shot, "--weights", weights, "--frames", "2001-2010")
    assert code == errors.EXIT_USAGE and "none of them is in" in err
    code, _, err = _cli(capsys, shot, "--weights", weights, "--colorspace", "nope")
    assert code == errors.EXIT_USAGE and "unknown colour space 'nope'" in err
    with pytest.raises(SystemExit) as exc:
        main([str(shot), "--compression", "lzma"])
    assert exc.value.code == errors.EXIT_USAGE


def test_unwritable_output_exits_5(capsys, shot, weights):
    (shot / "blocker").write_text("a file where the output folder should be")
    code, _, err = _cli(
        capsys, shot, "--weights", weights, "--device", "cpu", "-o", shot / "blocker/m.####.exr"
    )
    assert code == errors.EXIT_OUTPUT and "blocker" in err
    assert temp_files(shot) == []


def test_internal_errors_exit_1_with_a_traceback(capsys, shot, weights, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr("hosts.exr.processor.matte_pixels", broken)
    code, _, err = _cli(capsys, shot, "--weights", weights, "--device", "cpu")
    assert code == errors.EXIT_INTERNAL
    assert "Traceback" in err and "simulated bug" in err
    assert temp_files(shot) == []


def _batch(*args) -> list[str]:
    return [sys.executable, "-m", "core.batch", *map(str, args), "--device", "cpu"]


def _start_and_stop(command, env, out: Path, outputs: int, sig: int) -> int:
    """Starts ``command``, sends ``sig`` once ``outputs`` files exist, returns the exit code."""
    proc = subprocess.Popen(command, cwd=ROOT, env=env)
    deadline = time.monotonic() + 120
    while len(list(out.glob("m.*.exr"))) < outputs and proc.poll() is None:
        assert time.monotonic() < deadline, "no outputs appeared"
        time.sleep(0.005)
    proc.send_signal(sig)
    return proc.wait()


def test_sigterm_then_sigkill_mid_shot_then_resume_equals_a_clean_run(capsys, tmp_path, weights):
    write_shot(tmp_path / "in", 12, height=144, width=256)
    plates = tmp_path / "in/plate.####.exr"
    common = ["--weights", weights, "--threads", "1", "--downsample-ratio", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = tmp_path / "out"
    command = _batch(plates, "-o", out / "m.####.exr", *common, "-q", "--resume")

    # SIGTERM (a farm cancelling a task) stops cleanly after the frame in flight.
    code = _start_and_stop(command, env, out, 2, signal.SIGTERM)
    assert code == errors.EXIT_TERMINATED
    assert temp_files(tmp_path) == []
    # SIGKILL leaves no chance to clean up.
    code = _start_and_stop(command, env, out, len(list(out.glob("m.*.exr"))) + 2, signal.SIGKILL)
    done = len(list(out.glob("m.*.exr")))
    assert code == -signal.SIGKILL and 4 <= done < 12, done
    # A temporary file from a process that died, as a kill during a write leaves one.
    (out / ".m.1011.tmp-4000001.exr").write_bytes(b"partial")

    resumed = subprocess.run(
        [*command[:-2], "--resume", "--log-format", "json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert resumed.returncode == 0, resumed.stderr
    events = [json.loads(line) for line in resumed.stdout.splitlines()]
    assert any(e["event"] == "stale_temp" for e in events)
    assert next(e for e in events if e["event"] == "resume")["done"] == done

    code, _, _ = _cli(capsys, plates, "-o", tmp_path / "clean/m.####.exr", *common, "-q")
    assert code == 0
    for frame in range(1001, 1013):
        expected = (tmp_path / f"clean/m.{frame}.exr").read_bytes()
        assert (out / f"m.{frame}.exr").read_bytes() == expected, frame
    assert temp_files(tmp_path) == []


# -- errors, not tracebacks: one line and the right exit code, before any expensive work ---


@pytest.fixture
def no_model(monkeypatch):
    """Fails the test if the weights are loaded: the error must come before that."""

    def refuse(*args, **kwargs):
        raise AssertionError("the weights were loaded before the error was found")

    monkeypatch.setattr("hosts.exr.processor.load_model", refuse)


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.skipif(torch_has_cuda(), reason="this machine has CUDA")
def test_cuda_on_a_machine_without_it_is_a_usage_error(capsys, shot, weights, no_model):
    code, _, err = _cli(capsys, shot, "--weights", weights, "--device", "cuda")
    assert code == errors.EXIT_USAGE
    assert "--device cuda: this torch" in _one_line(err) and "--device cpu" in err
    assert not (shot / "matte").exists()


def test_a_bad_frame_range_says_what_is_accepted(capsys, shot, weights, no_model):
    code, _, err = _cli(capsys, shot, "--weights", weights, "--frames", "10a5")
    assert code == errors.EXIT_USAGE
    line = _one_line(err)
    assert "frames '10a5': not a frame range" in line and "1001-1050" in line
    assert "(?" not in line and "\\Z" not in line  # not fileseq's regular expression


def test_emit_openjd_with_missing_weights_exits_2(capsys, shot, tmp_path):
    template = tmp_path / "job.yaml"
    code, _, err = _cli(
        capsys, shot, "--emit-openjd", template, "--weights", tmp_path / "missing.safetensors"
    )
    assert code == errors.EXIT_USAGE
    assert "missing.safetensors: no such weights file" in _one_line(err)
    assert not template.exists()


def test_an_unwritable_output_is_found_before_the_weights_load(capsys, shot, weights, no_model):
    (shot / "blocker").write_text("a file where the output folder should be")
    code, _, err = _cli(capsys, shot, "--weights", weights, "-o", shot / "blocker/sub/m.####.exr")
    assert code == errors.EXIT_OUTPUT
    assert "cannot create the output folder" in _one_line(err) and "blocker" in err


def test_a_damaged_exr_prints_our_message_only(tmp_path, weights):
    write_shot(tmp_path / "in", 3, height=96, width=96)
    frame = tmp_path / "in/plate.1002.exr"
    frame.write_bytes(frame.read_bytes()[:-200])
    result = subprocess.run(
        _batch(tmp_path / "in", "--weights", weights, "-q"),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == errors.EXIT_BAD_INPUT
    line = _one_line(result.stderr)  # no line of the OpenEXR library before ours
    assert line.startswith(f"memmatte: {frame}: truncated or corrupt")


def test_a_closed_log_pipe_stops_cleanly_with_exit_141(tmp_path, weights):
    write_shot(tmp_path / "in", 8)
    proc = subprocess.Popen(
        _batch(tmp_path / "in", "--weights", weights, "--log-format", "json"),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert json.loads(proc.stdout.readline())["event"] == "shot_start"
    proc.stdout.close()  # what `| head -1` does
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == errors.EXIT_BROKEN_PIPE
    assert "broken pipe" in _one_line(err) and "--resume" in err
    assert temp_files(tmp_path) == []


# -- which channels are the colour ----------------------------------------------------------


def test_colour_in_the_second_part_of_multipart_plates_gives_the_plain_plates_mattes(
    capsys, tmp_path, weights
):
    plain = write_shot(tmp_path / "plain", 3)
    for path in plain:
        _, rgb = read_pixels(path)
        depth = rgb[..., :1] * 0 + 7.0
        write_parts(
            tmp_path / "parts" / path.name,
            [("depth", ("Z",), depth), ("rgba", ("R", "G", "B"), rgb)],
        )
    for folder in ("plain", "parts"):
        code, _, err = _cli(capsys, tmp_path / folder, "--weights", weights, "--device", "cpu")
        assert code == 0, err
    for path in plain:
        expected = read_pixels(path.parent / "matte" / path.name)[1]
        got = read_pixels(tmp_path / "parts/matte" / path.name)[1]
        assert got.max() > 0 and np.array_equal(got, expected), path.name


@pytest.mark.parametrize("channels", [("Z",), ("Y",), ("R", "G")])
def test_plates_without_rgb_exit_3_naming_file_and_channels(capsys, tmp_path, weights, channels):
    pixels = np.ones((8, 8, len(channels)), np.float32)
    for frame in (1001, 1002):
        write_image(tmp_path / f"p.{frame}.exr", pixels, channels=channels)
    code, _, err = _cli(capsys, tmp_path / "p.####.exr", "--weights", weights)
    assert code == errors.EXIT_BAD_INPUT
    assert "p.1001.exr: no channels R, G, B" in err and ",".join(channels) in err
    assert "--channels" in err
    code, _, err = _cli(capsys, tmp_path / "p.####.exr", "--channels", "R,G")
    assert code == errors.EXIT_USAGE and "three channel names" in err


def test_a_frame_named_by_its_file_equals_that_frame_of_a_whole_shot_run(capsys, tmp_path, weights):
    write_shot(tmp_path / "in", 8)
    common = ["--weights", weights, "--device", "cpu"]
    code, _, _ = _cli(capsys, tmp_path / "in/plate.####.exr", "-o", f"{tmp_path}/whole/", *common)
    assert code == 0
    code, _, err = _cli(capsys, tmp_path / "in/plate.1007.exr", "-o", f"{tmp_path}/one/", *common)
    assert code == 0, err
    assert "matting frame(s) 1007 of the sequence 1001-1008" in err
    assert [p.name for p in (tmp_path / "one").iterdir()] == ["plate.1007.exr"]
    whole = read_pixels(tmp_path / "whole/plate.1007.exr")[1]
    assert np.array_equal(read_pixels(tmp_path / "one/plate.1007.exr")[1], whole)


def test_resume_with_another_thread_count_is_refused(capsys, tmp_path, weights):
    # One thread and two sum convolutions in another order: ~2 % of pixels differ by a
    # half-float step, so a shot resumed with another --threads would mix the two.
    write_shot(tmp_path / "in", 3)
    out = tmp_path / "out/m.####.exr"
    common = [tmp_path / "in", "-o", out, "--weights", weights, "--device", "cpu"]
    code, _, _ = _cli(capsys, *common, "--threads", "1")
    assert code == 0
    code, _, err = _cli(capsys, *common, "--threads", "2", "--resume")
    assert code == errors.EXIT_USAGE
    assert "m.1001.exr was written with other settings (threads 1 there, 2 now)" in err
    code, _, err = _cli(capsys, *common, "--threads", "1", "--resume")
    assert code == 0 and "3 already complete" in err


def test_runs_say_whether_cached_compiled_graphs_were_used(capsys, shot, weights, tmp_path):
    common = [shot, "--weights", weights, "--device", "cpu", "--log-format", "json"]
    code, out, _ = _cli(capsys, *common, "--cache-dir", tmp_path / "cache")
    assert code == 0
    (event,) = [json.loads(line) for line in out.splitlines() if '"compiled"' in line]
    assert "running eager" in event["message"] and "--precompile" in event["message"]
    assert event["path"].startswith(str(tmp_path / "cache"))
    assert not (tmp_path / "cache").exists()  # looking does not create the cache
    code, out, _ = _cli(capsys, *common, "-o", tmp_path / "e/m.####.exr", "--eager")
    assert code == 0 and '"compiled"' not in out
