"""``python -m core.batch``: exit codes, messages, log formats, and a SIGKILL mid-shot."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.batch import main
from hosts.exr import errors
from tests.hosts.exr.images import read_pixels, temp_files, write_image, write_shot

ROOT = Path(__file__).resolve().parents[3]


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
