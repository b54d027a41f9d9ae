"""Matte jobs of Memmatte nodes: planning, the running jobs, and applying their results.

``start`` turns a node into a running ``MatteJob`` (``worker.py``); ``finish`` applies a
finished job to its node. Both run on Blender's main thread — the modal operator's timer,
or ``matte_scene`` for farms — which is the only place Blender data is touched.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import bpy

from .footage import (
    Footage,
    FootageError,
    FramePlan,
    find_footage,
    hash_pattern,
    missing_files,
    plan_frames,
    split_frame_number,
)
from .preferences import Settings
from .worker import MatteJob, Progress, Stage, WorkerError, resolve_python

EXTRACT_SCRIPT = Path(__file__).with_name("extract.py")


@dataclass
class RunningJob:
    """A job and what its node needs when it ends."""

    job: MatteJob
    tree: str
    node: str
    plan: FramePlan
    folder: str
    padding: int


_running: dict[str, RunningJob] = {}


def key(node) -> str:
    """Identifies a node across redraws: its tree's name and its own."""
    return f"{node.id_data.name}\x00{node.name}"


def running(node) -> RunningJob | None:
    return _running.get(key(node))


def cache_folder(scene, node) -> Path:
    """``<node.cache_dir>/<scene>_<node>``; the .blend must be saved for a relative cache."""
    cache_dir = node.cache_dir or "//memmatte_cache/"
    if cache_dir.startswith("//") and not bpy.data.is_saved:
        raise WorkerError(
            "Save the .blend first: the matte cache goes beside it "
            f"({cache_dir}), or give the node an absolute Cache folder"
        )
    root = Path(bpy.path.abspath(cache_dir))
    return root / bpy.path.clean_name(f"{scene.name}_{node.name}")


def _blender_command() -> list[str]:
    """How to start a background Blender: the running binary, or (bpy as a Python module)
    this same interpreter, which can ``import bpy``."""
    if bpy.app.binary_path:
        return [
            bpy.app.binary_path,
            "-b",
            "--factory-startup",
            "--python",
            str(EXTRACT_SCRIPT),
            "--",
        ]
    return [sys.executable, str(EXTRACT_SCRIPT)]


def _stages(
    footage: Footage, plan: FramePlan, settings: Settings, python: str, staging: Path
) -> tuple[list[Stage], int]:
    """The job's stages and the digits of the matte file names."""
    first, last = plan.input_frames
    count = last - first + 1
    stages = []
    if footage.direct:
        missing = missing_files(footage, first, last)
        if missing:
            raise FootageError(
                f"'{footage.node_name}': {len(missing)} footage frame(s) missing, first {missing[0]}"
            )
        source = hash_pattern(footage.filepath)
        padding = len(split_frame_number(footage.filepath)[1])
    else:
        spec = {
            "kind": footage.kind,
            "filepath": footage.filepath,
            "colorspace": footage.colorspace,
            "user": {
                "frame_start": footage.user.frame_start,
                "frame_offset": footage.user.frame_offset,
                "frame_duration": footage.user.frame_duration,
                "cyclic": footage.user.cyclic,
            },
            "frames": [first, last],
            "output": str(staging / "source" / "frame."),
        }
        spec_path = staging / "extract.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        stages.append(
            Stage(
                "Reading footage",
                (*_blender_command(), str(spec_path)),
                count,
                needs_memmatte=False,
            )
        )
        source = str(staging / "source" / "frame.####.exr")
        padding = 4
    command = [
        python, "-m", "core.batch", source,
        "--output", str(staging / "matte" / f"matte.{'#' * padding}.exr"),
        "--frames", f"{first}-{last}",
        "--log-format", "json",
    ]  # fmt: skip
    if settings.weights:
        command += ["--weights", settings.weights]
    if settings.device != "auto":
        command += ["--device", settings.device]
    stages.append(Stage("Matting", tuple(command), count))
    return stages, padding


def start(scene, node, settings: Settings) -> RunningJob:
    """Plans and starts the job of ``node`` over ``scene``'s frame range.

    Raises ``FootageError`` or ``WorkerError`` (messages for the artist, also shown on the
    node) before anything runs when the footage, the cache or memmatte's Python are not
    usable.
    """
    if running(node) is not None:
        raise WorkerError(f"'{node.name}' is already computing its matte")
    try:
        entry = _plan(scene, node, settings)
    except (FootageError, WorkerError) as error:
        node.message = str(error)
        raise
    _running[key(node)] = entry
    node.message = ""
    entry.job.start()
    return entry


def _plan(scene, node, settings: Settings) -> RunningJob:
    python = resolve_python(settings.python)
    footage = find_footage(node)
    plan = plan_frames(footage, scene.frame_start, scene.frame_end)
    destination = cache_folder(scene, node)
    staging = destination.parent / f".{destination.name}.incoming"
    shutil.rmtree(staging, ignore_errors=True)  # left by a Blender that crashed mid-job
    staging.mkdir(parents=True)
    try:
        stages, padding = _stages(footage, plan, settings, python, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    job = MatteJob(stages, staging, destination, python=python)
    return RunningJob(job, node.id_data.name, node.name, plan, str(destination), padding)


def finish(entry: RunningJob) -> Progress:
    """Applies an ended job to its node (main thread) and forgets it."""
    from .nodes import apply_matte

    _running.pop(f"{entry.tree}\x00{entry.node}", None)
    progress = entry.job.progress()
    tree = bpy.data.node_groups.get(entry.tree)
    node = tree.nodes.get(entry.node) if tree is not None else None
    if node is None:  # deleted while computing
        return progress
    if progress.state == "done":
        apply_matte(node, entry.folder, entry.plan, entry.padding)
        node.message = ""
    elif progress.state == "failed":
        node.message = progress.message
    return progress


def cancel(entry: RunningJob) -> Progress:
    """Kills the worker, removes its partial files, and forgets the job."""
    entry.job.cancel()
    return finish(entry)


def cancel_all() -> None:
    for entry in list(_running.values()):
        entry.job.cancel()
    _running.clear()


atexit.register(cancel_all)


def run(scene, node, settings: Settings, report=print) -> Progress:
    """Computes ``node``'s matte synchronously (farms, scripts); ``report`` gets progress lines."""
    entry = start(scene, node, settings)
    last = [None]

    def show(progress: Progress) -> None:
        line = f"Memmatte '{node.name}': {progress.label} {progress.done}/{progress.total}"
        if progress.state == "running" and line != last[0]:
            report(line)
            last[0] = line

    entry.job.wait(show)
    return finish(entry)


def footage_summary(node) -> str:
    """One line about the node's footage, or what is wrong with it."""
    try:
        footage = find_footage(node)
    except FootageError as error:
        return str(error)
    kind = {"sequence": "Sequence", "movie": "Movie", "clip": "Movie clip"}[footage.kind]
    return f"{kind}: {os.path.basename(footage.filepath)}"
