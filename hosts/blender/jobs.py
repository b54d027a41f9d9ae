"""Matte jobs of Memmatte nodes: planning, the running jobs, applying their results, and
checking a cache before a render.

``start`` turns a node into a running ``MatteJob`` (``worker.py``); ``finish`` applies a
finished job to its node. Both run on Blender's main thread — the modal operator's timer,
or ``matte_scene`` for farms — which is the only place Blender data is touched.

A node's cache folder is ``<Cache>/<blend>_<scene>_<node>/``, with a ``memmatte.json``
manifest of what its mattes were computed from (the footage's files and frame mapping, the
weights and device). ``run`` reuses a cache whose manifest matches instead of computing
again; ``check_node`` refuses to render from a missing, incomplete or stale cache.
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

from . import compat
from .client import command as command_module
from .client import frames
from .footage import (
    Footage,
    FootageError,
    FramePlan,
    file_digest,
    find_footage,
    footage_key,
    hash_pattern,
    missing_files,
    plan_frames,
    split_frame_number,
)
from .group import apply_matte, iter_nodes
from .preferences import Settings
from .worker import (
    RESULT,
    MatteJob,
    Progress,
    Stage,
    WorkerError,
    cache_complete,
    read_manifest,
    remove_stale_staging,
    resolve_python,
    staging_folder,
)

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
    return f"{compat.tree_key(node.id_data)}\x00{node.name}"


def running(node) -> RunningJob | None:
    return _running.get(key(node))


def cache_folder(scene, node) -> Path:
    """``<node.cache_dir>/<blend>_<scene>_<node>``: two .blend files in one folder never
    share a cache, whatever their scenes and nodes are called. The .blend must be saved for
    a relative cache."""
    cache_dir = node.cache_dir or "//memmatte_cache/"
    if cache_dir.startswith("//") and not bpy.data.is_saved:
        raise WorkerError(
            "Save the .blend first: the matte cache goes beside it "
            f"({cache_dir}), or give the node an absolute Cache folder"
        )
    root = Path(bpy.path.abspath(cache_dir))
    blend = Path(bpy.data.filepath).stem if bpy.data.filepath else "untitled"
    return root / bpy.path.clean_name(f"{blend}_{scene.name}_{node.name}")


def manifest(footage: Footage, plan: FramePlan, settings: Settings, padding: int) -> dict:
    """What a node's matte is computed from, as stored in its cache's ``memmatte.json``."""
    first, last = plan.input_frames
    weights = "default"
    if settings.weights:
        if not os.path.isfile(settings.weights):
            raise WorkerError(f"the weights file {settings.weights} does not exist")
        weights = file_digest(settings.weights)
    return {
        "footage": footage_key(footage, plan),
        "settings": {"weights": weights, "device": settings.device},
        "scene_frames": list(plan.scene_frames),
        "input_frames": [first, last],
        "padding": padding,
        "files": [f"matte.{n:0{padding}d}.exr" for n in range(first, last + 1)],
    }


def _padding(footage: Footage) -> int:
    """Digits of the matte file names: the footage's for a sequence read directly, else 4."""
    return len(split_frame_number(footage.filepath)[1]) if footage.direct else 4


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
    command = command_module.BatchCommand(
        (source,),
        output=str(staging / RESULT / f"matte.{'#' * padding}.exr"),
        frames=frames.range_text(first, last),
        weights=settings.weights or None,
        device=settings.device,
        log_format="json",
    )
    stages.append(Stage("Matting", tuple(command.argv(python)), count))
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
    wanted = manifest(footage, plan, settings, _padding(footage))
    remove_stale_staging(destination)  # left by a Blender of this machine that crashed
    staging = staging_folder(destination)
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        stages, padding = _stages(footage, plan, settings, python, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    job = MatteJob(stages, staging, destination, python=python, manifest=wanted)
    return RunningJob(
        job, compat.tree_key(node.id_data), node.name, plan, str(destination), padding
    )


def finish(entry: RunningJob) -> Progress:
    """Applies an ended job to its node (main thread) and forgets it."""
    _running.pop(f"{entry.tree}\x00{entry.node}", None)
    progress = entry.job.progress()
    tree = compat.find_tree(entry.tree)
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


def reuse(scene, node, settings: Settings) -> bool:
    """Points ``node`` at its cache and returns True when the cache already holds the
    complete matte of the current footage, frames and settings (nothing to compute)."""
    footage = find_footage(node)
    plan = plan_frames(footage, scene.frame_start, scene.frame_end)
    folder = cache_folder(scene, node)
    padding = _padding(footage)
    if not cache_complete(folder, manifest(footage, plan, settings, padding)):
        return False
    apply_matte(node, str(folder), plan, padding)
    node.message = ""
    return True


def run(scene, node, settings: Settings, report=print) -> Progress:
    """Computes ``node``'s matte synchronously (farms, scripts), or reuses its cache when it
    is complete for the current footage and settings; ``report`` gets progress lines."""
    if running(node) is None:
        try:
            reused = reuse(scene, node, settings)
        except (FootageError, WorkerError) as error:
            node.message = str(error)
            raise
        if reused:
            report(f"Memmatte '{node.name}': the cache is complete, not computed again")
            return Progress("done", "Cached")
    entry = start(scene, node, settings)
    last = [None]

    def show(progress: Progress) -> None:
        line = f"Memmatte '{node.name}': {progress.label} {progress.done}/{progress.total}"
        if progress.state == "running" and line != last[0]:
            report(line)
            last[0] = line

    entry.job.wait(show)
    return finish(entry)


def matte_scene(scene, settings: Settings, report=print) -> list[str]:
    """``run`` for every Memmatte node of ``scene``'s compositor; returns the matte folders.
    ``WorkerError`` names the first node whose matte could not be computed."""
    folders = []
    for _tree, node in iter_nodes(scene):
        # A complete cache of the same footage and settings is reused, not computed again.
        progress = run(scene, node, settings, report)
        if progress.state != "done":
            raise WorkerError(progress.message or f"Memmatte '{node.name}': {progress.state}")
        folders.append(str(cache_folder(scene, node)))
    return folders


class CacheError(WorkerError):
    """A render would read a missing, incomplete or stale matte cache."""


def check_node(scene, node) -> None:
    """``CacheError`` (also shown on the node) unless ``node``'s matte cache holds the matte
    of its current footage for every frame the scene renders."""
    try:
        _check_cache(scene, node)
    except FootageError as error:
        node.message = str(error)
        raise CacheError(f"Memmatte '{node.name}': {error}") from error
    except CacheError as error:
        node.message = str(error)
        raise


def _check_cache(scene, node) -> None:
    hint = "compute it (Compute Matte, or bpy.ops.memmatte.matte_scene()) before rendering"
    image = node.node_tree.nodes["Matte"].image
    if image is None or node.matte_frames[1] < node.matte_frames[0]:
        raise CacheError(f"Memmatte '{node.name}' has no matte: {hint}")
    folder = Path(bpy.path.abspath(image.filepath, library=image.library)).parent
    found = read_manifest(folder)
    if found is None:
        raise CacheError(f"Memmatte '{node.name}': no matte cache in {folder}; {hint}")
    footage = find_footage(node)
    plan = plan_frames(footage, scene.frame_start, scene.frame_end)
    try:
        first, last = found["scene_frames"]
        computed = FramePlan((first, last), tuple(found["input_frames"]), plan.matte_user)
    except (KeyError, TypeError, ValueError):
        raise CacheError(
            f"Memmatte '{node.name}': unreadable manifest in {folder}; {hint}"
        ) from None
    if not first <= plan.scene_frames[0] <= plan.scene_frames[1] <= last:
        raise CacheError(
            f"Memmatte '{node.name}': the scene renders frames {plan.scene_frames[0]}-"
            f"{plan.scene_frames[1]}, the matte in {folder} covers {first}-{last}; {hint}"
        )
    if found.get("footage") != footage_key(footage, computed):
        raise CacheError(
            f"Memmatte '{node.name}': the matte in {folder} was computed from other footage "
            f"or frame settings than the node has now (stale cache); {hint}"
        )
    missing = [name for name in found.get("files", ()) if not (folder / name).is_file()]
    if missing:
        raise CacheError(
            f"Memmatte '{node.name}': {len(missing)} matte file(s) missing in {folder}, "
            f"first {missing[0]}; {hint}"
        )


def check_scene(scene) -> None:
    """``check_node`` for every Memmatte node of ``scene``'s compositor that is not muted (a
    muted node passes its input through and reads no matte)."""
    for _tree, node in iter_nodes(scene):
        if not node.mute:
            check_node(scene, node)


def footage_summary(node) -> str:
    """One line about the node's footage, or what is wrong with it."""
    try:
        footage = find_footage(node)
    except FootageError as error:
        return str(error)
    kind = {"sequence": "Sequence", "movie": "Movie", "clip": "Movie clip"}[footage.kind]
    return f"{kind}: {os.path.basename(footage.filepath)}"
