"""What ``memmatte`` (``python -m core.batch``) tells a new user: no warning for the
README's own job, counts that add up, a complete shot said to be complete, progress on a
pseudo-terminal without a width, and its name."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.batch import main
from hosts.exr.cli import build_parser
from hosts.exr.openjd import chunk_sizes
from tests.hosts.exr.images import write_shot

ROOT = Path(__file__).resolve().parents[3]


def _cli(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_readme_main_job_prints_no_warning(capsys, tmp_path):
    # The README's own command, with the bundled default weights, its output sent elsewhere.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (plates,) = re.findall(r'python -m core\.batch "([^"]+)"\n', readme)
    assert plates == "examples/sample_shot/plate.####.exr"
    code, out, err = _cli(capsys, ROOT / plates, "-o", tmp_path / "m.####.exr", "--device", "cpu")
    assert code == 0, err
    assert "24 frame(s) written" in err
    assert "warning" not in (out + err).lower()


def test_resuming_a_complete_shot_says_it_is_complete(capsys, tmp_path, weights):
    write_shot(tmp_path / "in", 3)
    args = (tmp_path / "in/plate.####.exr", "--weights", weights, "--device", "cpu")
    assert _cli(capsys, *args)[0] == 0
    code, _, err = _cli(capsys, *args, "--resume")
    assert code == 0
    assert "3 of 3 frame(s) already complete, skipped" in err
    assert "complete, nothing left to write" in err
    assert "0 frame(s) in" not in err and "frames/s" not in err


def test_emit_openjd_counts_its_steps_and_says_how_chunks_are_sized(capsys, tmp_path, weights):
    write_shot(tmp_path / "in", 24, height=8, width=8)
    template = tmp_path / "job.json"
    code, _, err = _cli(
        capsys, tmp_path / "in/plate.####.exr", "--weights", weights, "--device", "cpu",
        "--emit-openjd", template, "--chunk-size", "10",
    )  # fmt: skip
    assert code == 0, err
    assert "(2 step(s): 'precompile', then 'matte plate': 3 task(s) of 8 frame(s);" in err
    assert "fewest chunks of at most --chunk-size 10 and balances their sizes" in err
    code, _, err = _cli(
        capsys, tmp_path / "in/plate.####.exr", "--weights", weights, "--device", "cpu",
        "--emit-openjd", template, "--chunk-size", "10", "--eager",
    )  # fmt: skip
    assert "(1 step(s): 'matte plate': 3 task(s) of 8 frame(s);" in err


@pytest.mark.parametrize(
    ("frames", "size"),
    [(list(range(1001, 1025)), 10), (list(range(1, 101)), 7), ([1, 3, 5, 6, 7, 8], 3),
     (list(range(10)), 150), (list(range(11)), 1)],
)  # fmt: skip
def test_chunk_sizes_are_open_job_descriptions_own(frames, size):
    # The reference implementation of the specification decides how a farm splits a step.
    from openjd.model._step_param_space_iter import divide_int_list_into_contiguous_chunks

    expected = []
    for chunk in divide_int_list_into_contiguous_chunks(size, frames):
        first, last = (int(v) for v in chunk.split("-"))
        expected.append(last - first + 1)
    assert chunk_sizes(frames, size) == expected


@pytest.mark.skipif(shutil.which("script") is None, reason="needs util-linux script")
def test_a_terminal_with_zero_columns_gets_per_frame_lines(tmp_path, weights):
    write_shot(tmp_path / "in", 3)
    command = (
        f"stty cols 0; {sys.executable} -m core.batch {tmp_path}/in/plate.####.exr "
        f"--weights {weights} --device cpu --threads 1"
    )
    result = subprocess.run(
        ["script", "-qec", command, "/dev/null"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "TERM": "xterm"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    for frame in (1001, 1002, 1003):
        assert f"frame {frame} → " in result.stdout
    assert "3 frame(s) written" in result.stdout


def test_the_console_command_is_named_memmatte():
    assert build_parser().prog == "memmatte"
    assert build_parser().format_usage().startswith("usage: memmatte ")
    assert "python -m core.batch" in build_parser().description
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^memmatte = "core\.batch:main"$', pyproject, re.MULTILINE)


def test_the_installed_console_command_runs():
    command = shutil.which("memmatte", path=str(Path(sys.executable).parent))
    if command is None:
        pytest.skip("memmatte is not installed in this environment (pip install -e .)")
    result = subprocess.run([command, "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.startswith("usage: memmatte ")
