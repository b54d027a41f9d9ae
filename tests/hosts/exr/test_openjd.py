"""Open Job Description templates, validated and run locally with the real openjd CLI."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.batch import main
from tests.hosts.exr.images import write_shot

OPENJD = shutil.which("openjd", path=str(Path(sys.executable).parent)) or shutil.which("openjd")
pytestmark = pytest.mark.skipif(OPENJD is None, reason="openjd-cli (the dev extra) is missing")


def test_a_chunked_openjd_job_writes_what_one_process_writes(tmp_path, weights, capsys):
    write_shot(tmp_path / "in", 7)
    plates = tmp_path / "in/plate.####.exr"
    common = [
        "--weights", weights, "--device", "cpu", "--threads", "1", "--downsample-ratio", "0.5"
    ]  # fmt: skip
    template = tmp_path / "job/job.json"
    code = main(
        [str(plates), "-o", str(tmp_path / "farm/m.####.exr"), *map(str, common),
         "--emit-openjd", str(template), "--chunk-size", "3"]
    )  # fmt: skip
    assert code == 0 and "openjd run" in capsys.readouterr().err
    job = json.loads(template.read_text())
    precompile, step = job["steps"]
    # The first step compiles the shot's graphs into the cache; the chunks wait for it.
    assert step["dependencies"] == [{"dependsOn": precompile["name"]}]
    args = precompile["script"]["actions"]["onRun"]["args"]
    assert args[:3] == ["-m", "core.batch", "{{Param.Input}}"] and "--precompile" in args
    assert args[args.index("--downsample-ratio") + 1] == "0.5"
    (frame,) = step["parameterSpace"]["taskParameterDefinitions"]
    assert frame["type"] == "CHUNK[INT]" and frame["range"] == "1001-1007"
    assert step["script"]["actions"]["onRun"]["command"] == "{{Param.Python}}"
    values = json.loads((tmp_path / "job/job.params.json").read_text())
    assert values["Input"].endswith("in/plate.1001-1007@@@@.exr")

    check = subprocess.run([OPENJD, "check", str(template)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    run = subprocess.run(
        [OPENJD, "run", str(template), "-p", f"file://{tmp_path / 'job/job.params.json'}",
         "-p", "ChunkSize=3", "--step", step["name"]],
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "Chunks run: 3" in run.stdout

    assert main([str(plates), "-o", str(tmp_path / "one/m.####.exr"), *map(str, common)]) == 0
    for f in range(1001, 1008):
        assert (tmp_path / f"farm/m.{f}.exr").read_bytes() == (
            tmp_path / f"one/m.{f}.exr"
        ).read_bytes(), f


def test_the_template_pins_the_thread_count(tmp_path, weights, capsys):
    # Tasks on machines with other core counts would otherwise write slightly different
    # pixels, and a retried task's --resume would refuse the outputs of another count.
    import torch

    write_shot(tmp_path / "in", 3)
    template = tmp_path / "job/job.json"
    code = main([str(tmp_path / "in"), "--weights", str(weights), "--emit-openjd", str(template)])
    assert code == 0
    args = json.loads(template.read_text())["steps"][0]["script"]["actions"]["onRun"]["args"]
    assert args[args.index("--threads") + 1] == str(torch.get_num_threads())
    assert f"--threads {torch.get_num_threads()}" in capsys.readouterr().err


@pytest.mark.slow
def test_the_precompile_step_compiles_once_and_every_chunk_loads(tmp_path, weights, capsys):
    write_shot(tmp_path / "in", 5)
    template = tmp_path / "job/job.json"
    code = main(
        [str(tmp_path / "in/plate.####.exr"), "-o", str(tmp_path / "farm/m.####.exr"),
         "--weights", str(weights), "--device", "cpu", "--threads", "1",
         "--downsample-ratio", "0.5", "--cache-dir", str(tmp_path / "cache"),
         "--emit-openjd", str(template), "--chunk-size", "2"]
    )  # fmt: skip
    assert code == 0
    params = f"file://{tmp_path / 'job/job.params.json'}"
    logs = []
    for step in json.loads(template.read_text())["steps"]:
        run = subprocess.run(
            [OPENJD, "run", str(template), "-p", params, "--step", step["name"]],
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        logs.append(run.stdout)
    precompile, chunks = logs
    assert precompile.count("compiled and cached compiled graphs") == 1
    assert "Chunks run: 3" in chunks and chunks.count("loaded compiled graphs") == 3
    assert len(list((tmp_path / "cache").iterdir())) == 1
    assert len(list((tmp_path / "farm").glob("m.*.exr"))) == 5
