"""Open Job Description job templates that split shots into farm chunks.

``python -m core.batch shots/*.exr --emit-openjd job.json --chunk-size 10`` writes a
``jobtemplate-2023-09`` template with one step per shot. Each step's task parameter is a
``CHUNK[INT]`` over the shot's frames (the ``TASK_CHUNKING`` extension, contiguous chunks of
``ChunkSize`` frames), and each task runs this same command on its chunk:

    <Python> -m core.batch <Input> --output <Output> --frames 1011-1020 --resume ...

Every chunk reads the two frames before it as memory pre-roll, so the chunks' outputs are
bit-identical to a single-process run. A first step, ``precompile``, compiles the graphs
every shot needs into the compiled-graph cache (``core.batch --precompile``); the chunks
depend on it and load those graphs instead of compiling (or running eager) each. The template is JSON, which is also valid YAML.
The paths (plates, outputs, weights) are PATH job parameters, written beside the template
in ``job.params.json``. Check it with ``openjd check job.json``, run it locally with
``openjd run job.json -p file://job.params.json --step <name>``, or submit both to a farm
that speaks Open Job Description.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from hosts.client.command import BatchCommand
from hosts.exr.processor import BatchOptions, frame_set
from hosts.exr.sequence import Shot, output_shot

SPECIFICATION = "jobtemplate-2023-09"
MAX_CHUNK = 150
"""The largest chunk the TASK_CHUNKING extension allows."""
PRECOMPILE_STEP = "precompile"


def job_template(
    shots: Sequence[Shot],
    options: BatchOptions,
    *,
    weights: str | Path | None,
    chunk_size: int = 10,
    python: str = sys.executable,
    task: BatchCommand | None = None,
    precompile: bool = True,
    cache_dir: str | Path | None = None,
    trusted_group: str | None = None,
) -> tuple[dict, dict[str, str]]:
    """The template as a dict, and the values of its PATH parameters.

    Paths are PATH job parameters (``Input``, ``Output`` — numbered for several shots — and
    ``Weights``), so a farm's path mapping can translate them. Open Job Description allows
    PATH defaults only inside the template's folder, so their values come separately (pass
    them with ``-p file://<values file>``). ``Python`` is the interpreter tasks run.
    task: the ``core.batch`` options every task passes on (colour space, layout, device,
    threads, ...); its inputs, output, frames, weights and cache folder are replaced by the
    template's parameters. precompile: begin with the ``precompile`` step. cache_dir: the compiled
    graphs' folder, a ``CacheDir`` PATH parameter (on a farm of several machines, storage
    they all share); None: each worker's default (``$MEMMATTE_CACHE`` or its user cache).
    trusted_group: ``--trust-cache-group`` for every step (the precompile and the chunks), a
    shared cache's opt-in (docs/farm.md); None: the workers' ``$MEMMATTE_TRUSTED_GROUP``.
    """
    values: dict[str, str] = {}

    if not 1 <= chunk_size <= MAX_CHUNK:
        raise ValueError(f"chunk size must be in 1..{MAX_CHUNK}, got {chunk_size}")
    parameters: list[dict] = [
        {
            "name": "Python",
            "type": "STRING",
            "default": python,
            "description": "The Python interpreter that has memmatte installed.",
        },
        {
            "name": "ChunkSize",
            "type": "INT",
            "default": chunk_size,
            "minValue": 1,
            "maxValue": MAX_CHUNK,
            "description": "Frames per task; each task also reads 2 frames of pre-roll.",
        },
    ]

    def path_parameter(name: str, value: str | Path, description: str, **kind: str) -> str:
        """Declares the PATH parameter ``name`` (its value kept apart, see above); returns
        the placeholder tasks use."""
        parameters.append({"name": name, "type": "PATH", **kind, "description": description})
        values[name] = os.path.abspath(value)
        return f"{{{{Param.{name}}}}}"

    task = task or BatchCommand(("{{Param.Input}}",))
    params: dict[str, str] = {}
    if weights is not None:
        params["weights"] = path_parameter(
            "Weights", weights, "memmatte checkpoint (.safetensors).",
            objectType="FILE", dataFlow="IN",
        )  # fmt: skip
    if cache_dir is not None:
        params["cache_dir"] = path_parameter(
            "CacheDir", cache_dir, "Compiled-graph cache shared by the tasks.",
            objectType="DIRECTORY", dataFlow="INOUT",
        )  # fmt: skip
    if trusted_group is not None:
        params["trust_cache_group"] = trusted_group

    steps = []
    names: set[str] = {PRECOMPILE_STEP} if precompile else set()
    inputs = []
    for number, shot in enumerate(shots, start=1):
        suffix = "" if len(shots) == 1 else str(number)
        out = output_shot(shot, options.output)
        plates = path_parameter(f"Input{suffix}", shot.pattern(), f"Plates of {shot.name}.")
        inputs.append(plates)
        matte = path_parameter(
            f"Output{suffix}", _output_pattern(out), "Matte EXRs (#### is the frame number)."
        )
        frames = step_frames(shot, options)
        chunk = replace(
            task,
            inputs=(plates,),
            output=matte,
            frames="{{Task.Param.Frame}}",
            resume=True,
            log_format="json",
            **params,
        )
        steps.append(
            {
                "name": _unique(f"matte {shot.basename.rstrip('._-') or 'shot'}", names),
                "parameterSpace": {
                    "taskParameterDefinitions": [
                        {
                            "name": "Frame",
                            "type": "CHUNK[INT]",
                            "range": _range_expression(frames),
                            "chunks": {
                                "defaultTaskCount": "{{Param.ChunkSize}}",
                                "rangeConstraint": "CONTIGUOUS",
                            },
                        }
                    ]
                },
                "script": {"actions": {"onRun": _action(chunk)}},
            }
        )
        if precompile:
            steps[-1]["dependencies"] = [{"dependsOn": PRECOMPILE_STEP}]
    if precompile:
        # Only the options that decide which graphs a task runs (ratio, device, precision,
        # threads); layout, colour and --compile do not concern --precompile.
        compile_all = BatchCommand(
            tuple(inputs),
            frames=options.frames,
            downsample_ratio=task.downsample_ratio,
            device=task.device,
            precision=task.precision,
            threads=task.threads,
            precompile=True,
            log_format="json",
            **params,
        )
        action = _action(compile_all)
        steps.insert(0, {"name": PRECOMPILE_STEP, "script": {"actions": {"onRun": action}}})
    title = ", ".join(s.basename.rstrip("._-") for s in shots)
    template = {
        "specificationVersion": SPECIFICATION,
        "extensions": ["TASK_CHUNKING"],
        "name": f"memmatte {title}"[:128],
        "parameterDefinitions": parameters,
        "steps": steps,
    }
    return template, values


def step_frames(shot: Shot, options: BatchOptions) -> list[int]:
    """The frames of ``shot``'s step: the requested ones, else those the shot writes."""
    return frame_set(options.frames) if options.frames else list(shot.only or shot.frames)


def chunk_sizes(frames: Sequence[int], chunk_size: int) -> list[int]:
    """The frame count of each task Open Job Description makes of a step's ``frames``: each
    run of consecutive frames is split into the fewest chunks of at most ``chunk_size``,
    balanced to sizes that differ by one at most (24 frames, chunk size 10 → 8, 8, 8), in
    the order the specification's reference implementation (openjd-model) divides CONTIGUOUS
    chunks."""
    sizes: list[int] = []
    run = 0
    for i, frame in enumerate(frames):
        run += 1
        if i + 1 == len(frames) or frames[i + 1] != frame + 1:
            count = -(-run // chunk_size)
            small, extra = divmod(run, count)
            chunks = [small] * count
            for k in range(extra):  # the larger chunks spread out, as openjd-model does
                chunks[k * count // extra] += 1
            sizes += chunks
            run = 0
    return sizes


def _action(command: BatchCommand) -> dict:
    """An onRun action running ``command`` with the template's ``Python``."""
    python, *args = command.argv("{{Param.Python}}")
    return {"command": python, "args": args}


def values_path(template_path: str | Path) -> Path:
    """Where the PATH parameter values go: ``job.json`` → ``job.params.json``."""
    path = Path(template_path)
    return path.with_name(f"{path.stem}.params.json")


def write_template(path: str | Path, template: dict, values: dict[str, str]) -> Path:
    """Writes the template and, beside it, its parameter values (see ``values_path``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(template, indent=2) + "\n")
    values_path(path).write_text(json.dumps(values, indent=2) + "\n")
    return path


def _output_pattern(out: Shot) -> str:
    if not out.numbered:
        return str(out.path(0))
    return f"{out.dirname}{out.basename}{'#' * max(out.zfill, 1)}{out.extension}"


def _range_expression(frames: list[int]) -> str:
    """Frames → an Open Job Description integer range expression ("1001-1100", "1-9:2")."""
    parts = []
    start = 0
    while start < len(frames):
        stop = start + 1
        step = frames[stop] - frames[start] if stop < len(frames) else 1
        while stop < len(frames) and frames[stop] - frames[stop - 1] == step:
            stop += 1
        first, last = frames[start], frames[stop - 1]
        if first == last:
            parts.append(str(first))
        elif step == 1:
            parts.append(f"{first}-{last}")
        else:
            parts.append(f"{first}-{last}:{step}")
        start = stop
    return ",".join(parts)


def _unique(name: str, taken: set[str]) -> str:
    name = name[:60]
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name} {n}", n + 1
    taken.add(candidate)
    return candidate
