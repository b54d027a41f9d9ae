"""The command builder against the real ``core.batch`` argument parser, both ways."""

import dataclasses
import json

import pytest

from core.batch import main
from hosts.client.command import BatchCommand
from hosts.exr.cli import build_parser, command
from tests.hosts.exr.images import write_shot

EVERY_OPTION = BatchCommand(
    ("/shots/a.####.exr", "/shots/b.%04d.exr"),
    output="/out/{name}.####.exr",
    weights="/w/memmatte.safetensors",
    frames="1001-1050",
    colorspace="ACEScg",
    channels="diffuse",
    layout="layers",
    rgb="plate",
    unpremultiplied=True,
    compression="piz",
    pixel_type="float",
    downsample_ratio="0.25",
    device="cuda:1",
    precision="bf16",
    compile="aot",
    cache_dir="/cache",
    trust_cache_group="render",
    threads=3,
    io_threads=5,
    resume=True,
    keep_going=True,
    emit_openjd="/job/job.json",
    chunk_size=25,
    template_python="/farm/bin/python",
    log_format="json",
    quiet=True,
)


def _parsed(cmd: BatchCommand) -> BatchCommand:
    return _parsed_args(["-m", "core.batch", *cmd.args()])


def test_every_field_is_set_away_from_its_default_in_the_sample():
    # A field added to BatchCommand but not to EVERY_OPTION would escape the round trip.
    defaults = BatchCommand(("x",))
    same = [
        f.name
        for f in dataclasses.fields(BatchCommand)
        if f.name not in ("inputs", "precompile")
        and getattr(EVERY_OPTION, f.name) == getattr(defaults, f.name)
    ]
    assert same == []


@pytest.mark.parametrize(
    "cmd",
    [
        EVERY_OPTION,
        BatchCommand(("/shots/a.####.exr",)),
        dataclasses.replace(EVERY_OPTION, layout="alpha", compile="eager"),
        BatchCommand(("/shots/a.####.exr",), precompile=True, threads=2, device="cpu"),
        BatchCommand(("{{Param.Input}}",), frames="{{Task.Param.Frame}}", resume=True),
    ],
    ids=["every-option", "defaults", "alpha-eager", "precompile", "placeholders"],
)
def test_argv_parses_back_to_the_same_options(cmd):
    assert _parsed(cmd) == cmd


def test_argv_starts_with_the_interpreter_and_the_module():
    argv = BatchCommand(("/p.####.exr",), frames="1-3", log_format="json").argv("/venv/python")
    assert argv == [
        "/venv/python", "-m", "core.batch", "/p.####.exr", "--frames", "1-3", "--log-format", "json"
    ]  # fmt: skip


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"inputs": "/p.####.exr"}, "not one string"),
        ({"inputs": ()}, "at least one plate"),
        ({"inputs": ("x",), "layout": "rgb"}, "layout 'rgb'"),
        ({"inputs": ("x",), "precompile": True, "compile": "eager"}, "precompile"),
    ],
)
def test_commands_core_batch_would_refuse_are_refused(fields, message):
    with pytest.raises((TypeError, ValueError), match=message):
        BatchCommand(**fields)


def test_the_openjd_template_passes_every_task_option_on(tmp_path, capsys):
    """Every option a task needs reaches it, --io-threads and --channels included."""
    write_shot(tmp_path / "in", 3)
    template = tmp_path / "job.json"
    given = dataclasses.replace(
        EVERY_OPTION,
        inputs=(str(tmp_path / "in/plate.####.exr"),),
        output=str(tmp_path / "out/m.####.exr"),
        weights=None,
        frames=None,
        cache_dir=None,
        resume=False,
        keep_going=False,
        emit_openjd=str(template),
        chunk_size=2,
        template_python=None,
        quiet=False,
        device="cpu",  # checked on this machine, which may have no CUDA
        precision="fp32",
        colorspace="ACES - ACEScg",
        layout="rgba",  # --rgb plate is the colour of RGBA outputs (--layers has both)
    )
    assert given.rgb == "plate"
    assert main(given.args()) == 0
    assert "wrote" in json.loads(capsys.readouterr().out.splitlines()[-1])["message"]
    steps = json.loads(template.read_text())["steps"]
    precompile_step, chunk_step = steps
    assert precompile_step["name"] == "precompile"
    # The shared cache's opt-in reaches the step that writes the cache as well as the chunks.
    precompile = _parsed_args(precompile_step["script"]["actions"]["onRun"]["args"])
    assert precompile.precompile and precompile.trust_cache_group == "render"
    chunk = _parsed_args(chunk_step["script"]["actions"]["onRun"]["args"])
    assert chunk == dataclasses.replace(
        given,
        inputs=("{{Param.Input}}",),
        output="{{Param.Output}}",
        frames="{{Task.Param.Frame}}",
        resume=True,
        emit_openjd=None,
        chunk_size=10,
        log_format="json",
    )
    assert chunk.io_threads == 5 and chunk.channels == "diffuse"


def _parsed_args(args: list[str]) -> BatchCommand:
    assert args[:2] == ["-m", "core.batch"]
    return command(build_parser().parse_args(args[2:]))


def test_matting_keeps_how_frames_are_matted_and_drops_the_run_options():
    assert EVERY_OPTION.matting().args() == [
        "/shots/a.####.exr", "/shots/b.%04d.exr", "--colorspace", "ACEScg", "--channels",
        "diffuse", "--rgb", "plate", "--compression", "piz", "--pixel-type", "float", "--downsample-ratio",
        "0.25", "--device", "cuda:1", "--precision", "bf16", "--threads", "3", "--io-threads",
        "5", "--layers", "--unpremultiplied", "--compile",
    ]  # fmt: skip
