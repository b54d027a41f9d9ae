"""Knob callbacks of the Memmatte gizmo (runs inside Nuke).

The Render matte button reads the settings on the main thread, runs the processor from a
worker thread with a ``nuke.ProgressTask`` (progress and cancel), and hands every change to
the script back to the main thread with ``nuke.executeInMainThread``.
"""

from __future__ import annotations

import threading

import nuke

from . import render

_running: dict[str, render.RenderJob] = {}


PASS_THROUGH = ("Dot",)
"""Node classes that pass pixels and frames through unchanged (disabled nodes do too)."""


def find_read(node):
    """The Read upstream of ``node``'s input, through Dots and disabled nodes only.

    The render path reads the Read's files from disk, so any node in between (a Transform,
    a TimeOffset, a grade) would be ignored by the matte; it is refused, as is a Read that
    changes frame numbers (its *frame* knob), whose mattes would land on other frames."""
    upstream = node.input(0)
    seen = set()
    while upstream is not None and upstream.Class() != "Read":
        if upstream.name() in seen:
            break
        seen.add(upstream.name())
        disabled = upstream.knob("disable")
        if upstream.Class() not in PASS_THROUGH and not (disabled and disabled.value()):
            raise ValueError(
                f"{node.name()}: {upstream.name()} ({upstream.Class()}) sits between the plate's "
                "Read and the gizmo; the render path reads the plate's files, so it would be "
                "ignored. Connect the Read directly and transform, retime or grade after the "
                "gizmo (or disable the node)"
            )
        upstream = upstream.input(0)
    if upstream is None or upstream.Class() != "Read":
        raise ValueError(
            f"{node.name()}: connect a Read of the plate's image sequence to its input"
        )
    frame = upstream.knob("frame")
    if frame is not None and str(frame.value()).strip():
        mode = upstream.knob("frame_mode")
        how = f"{mode.value()} {frame.value()}" if mode is not None else frame.value()
        raise ValueError(
            f"{upstream.name()} changes frame numbers (frame: {how}); the render path writes "
            "mattes under the files' own frame numbers, which would not line up. Clear the "
            "Read's frame knob and retime after the gizmo"
        )
    return upstream


def prepare(node) -> tuple[render.RenderJob, str, int, int]:
    """The job for the gizmo's settings: (job, matte pattern in #### form, first, last frame
    to render). The shot is the Read's frame range, from *shot starts at frame* when set."""
    read = find_read(node)
    plate = nuke.filename(read)
    if not plate:
        raise ValueError(f"{read.name()} has no file")
    first, last = int(read["first"].value()), int(read["last"].value())
    if node["set_shot_first"].value():
        shot_first = int(node["shot_first"].value())
        if not first <= shot_first <= last:
            raise ValueError(
                f"the shot cannot start at frame {shot_first}: {read.name()} has frames "
                f"{first}-{last}"
            )
        first = shot_first
    frames = render.parse_frames(node["frames"].value(), first, last)
    matte = node["matte_file"].value().strip() or render.default_matte_pattern(plate)
    matte = render.FramePattern.parse(matte).hashes()
    command = render.build_command(
        render.resolve_python(node["python"].value()),
        plate,
        first,
        last,
        matte,
        frames=frames,
        weights=node["weights"].value(),
        resume=bool(node["resume"].value()),
        rgb="plate" if node["output"].value() == "plate" else "foreground",
    )
    job = render.RenderJob(command, matte, range(frames[0], frames[1] + 1))
    return job, matte, frames[0], frames[1]


def render_clicked(node) -> threading.Thread | None:
    """The Render matte button."""
    name = node.fullName()
    if name in _running:
        nuke.message(f"{node.name()} is already rendering its matte.")
        return None
    try:
        job, matte, first, last = prepare(node)
    except ValueError as error:
        _set_status(node, f"error: {error}")
        nuke.message(f"Memmatte: {error}")
        return None
    _running[name] = job
    _set_status(node, f"rendering frames {first}-{last}")
    title = f"Memmatte {node.name()}: frames {first}-{last}"
    thread = threading.Thread(
        target=_render_in_background,
        args=(node, name, job, title, matte, first, last),
        name=f"memmatte {name}",
        daemon=True,
    )
    thread.start()
    return thread


def _render_in_background(node, name, job, title, matte, first, last) -> None:
    task = nuke.ProgressTask(title)
    task.setMessage("loading the network")
    holder = [task]

    def progress(p: render.Progress) -> None:
        holder[0].setProgress(p.percent)
        holder[0].setMessage(f"{p.message} ({p.done} of {p.total})")

    try:
        result = job.run(on_progress=progress, is_cancelled=task.isCancelled)
    except Exception as error:  # a bug here must still close the task and report
        result = render.RenderResult("failed", error=f"{type(error).__name__}: {error}")
    finally:
        holder.clear()
        del task  # Nuke closes the progress bar when the task goes away
    nuke.executeInMainThread(_finished, args=(node, name, result, matte, first, last))


def _finished(node, name, result: render.RenderResult, matte: str, first: int, last: int) -> None:
    _running.pop(name, None)
    if result.ok:
        read = show_matte(node, matte, first, last)
        _set_status(node, f"rendered frames {first}-{last} → {read.name()}")
    elif result.status == "cancelled":
        kept = len(result.frames_done)
        _set_status(node, f"cancelled; {kept} finished frames kept, partial files removed")
    else:
        _set_status(node, f"failed: {result.error.splitlines()[-1] if result.error else ''}")
        nuke.message(f"Memmatte render failed:\n\n{result.error}")


def show_matte(node, matte: str, first: int, last: int):
    """Creates the Read of the matte EXRs next to ``node``, or updates it (its range grows to
    take in these frames when it already reads the same files). Main thread only."""
    name = f"{node.name()}_matte"
    with _parent(node):
        read = nuke.toNode(name)
        if read is None or read.Class() != "Read":
            read = nuke.nodes.Read(name=name)
            read.setXYpos(node.xpos() + 150, node.ypos())
        elif _same_files(read["file"].value(), matte):
            first = min(first, int(read["first"].value()))
            last = max(last, int(read["last"].value()))
        read["file"].setValue(matte)
        for knob, value in (
            ("first", first),
            ("last", last),
            ("origfirst", first),
            ("origlast", last),
        ):
            read[knob].setValue(value)
        read["reload"].execute()
    return read


def _same_files(a: str, b: str) -> bool:
    """Whether two file knob values name the same sequence: Nuke returns a file knob's value
    as ``%04d`` whatever was set (``####``), so the strings differ where the files do not."""
    try:
        return render.FramePattern.parse(a) == render.FramePattern.parse(b)
    except ValueError:  # no frame number: a single file
        return a == b


def _parent(node):
    """The group that holds ``node``, found from the root by its full name: ``toNode``
    works in the current group context, which inside a button's script is the gizmo."""
    group = nuke.root()
    for name in node.fullName().split(".")[:-1]:
        group = group.node(name)
    return group


def _set_status(node, text: str) -> None:
    node["status"].setValue(text)
