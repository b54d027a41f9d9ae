"""Operators and UI: Compute Matte (modal from the UI, synchronous from scripts), Cancel,
Matte Scene (farms), the node's buttons and the sidebar panel.

Compute Matte started from a button runs as a modal operator: the worker runs in child
processes, a 0.1 s timer polls its progress on the main thread, the status bar shows a
progress bar, and Esc (or the node's Cancel button) kills the worker. Called from a script
(``bpy.ops.memmatte.compute_matte()``, ``blender -b --python-expr``) it waits for the result.
"""

from __future__ import annotations

import sys

import bpy

from . import compat, jobs
from .footage import FootageError
from .group import NODE_IDNAME, iter_nodes
from .preferences import settings
from .worker import WorkerError

USER_ERRORS = (FootageError, WorkerError)  # jobs.CacheError is a WorkerError


def _find_node(context, tree_name: str, node_name: str):
    """The node named by an operator's properties, else the active Memmatte node of the
    node editor, else the scene's only Memmatte node."""
    if tree_name and node_name:
        tree = compat.find_tree(tree_name)
        node = tree.nodes.get(node_name) if tree is not None else None
        if node is None or node.bl_idname != NODE_IDNAME:
            raise WorkerError(f"no Memmatte node '{node_name}' in '{tree_name}'")
        return node
    space = getattr(context, "space_data", None)
    tree = getattr(space, "edit_tree", None)
    active = tree.nodes.active if tree is not None else None
    if active is not None and active.bl_idname == NODE_IDNAME:
        return active
    found = iter_nodes(context.scene)
    if len(found) == 1:
        return found[0][1]
    raise WorkerError(
        "select a Memmatte node" if found else "the scene's compositor has no Memmatte node"
    )


def _redraw(context) -> None:
    wm = context.window_manager
    for window in wm.windows:
        for area in window.screen.areas:
            if area.type == "NODE_EDITOR":
                area.tag_redraw()


def _status_drawer(entry: jobs.RunningJob):
    def draw(header, _context):
        progress = entry.job.progress()
        layout = header.layout
        text = f"Memmatte: {progress.label} {progress.done}/{progress.total}"
        layout.progress(factor=progress.fraction, type="BAR", text=text)
        layout.label(text="Esc to cancel", icon="EVENT_ESC")

    return draw


class MEMMATTE_OT_compute_matte(bpy.types.Operator):
    """Compute the matte of this node's footage over the scene's frame range (Esc cancels)"""

    bl_idname = "memmatte.compute_matte"
    bl_label = "Compute Matte"

    tree: bpy.props.StringProperty(name="Node Tree", options={"SKIP_SAVE", "HIDDEN"})
    node: bpy.props.StringProperty(name="Node", options={"SKIP_SAVE", "HIDDEN"})

    _entry = None
    _timer = None

    def execute(self, context):
        try:
            node = _find_node(context, self.tree, self.node)
            progress = jobs.run(context.scene, node, settings(context))
        except USER_ERRORS as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        if progress.state != "done":
            self.report({"ERROR"}, progress.message or f"Memmatte {progress.state}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Memmatte: matte of '{node.name}' computed")
        return {"FINISHED"}

    def invoke(self, context, _event):
        if context.window is None:  # no event loop (background): wait for the result
            return self.execute(context)
        try:
            node = _find_node(context, self.tree, self.node)
            self._entry = jobs.start(context.scene, node, settings(context))
        except USER_ERRORS as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.1, window=context.window)
        wm.modal_handler_add(self)
        if context.workspace is not None:
            context.workspace.status_text_set(_status_drawer(self._entry))
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        entry = self._entry
        if event.type == "ESC" and event.value == "PRESS":
            jobs.cancel(entry)
            self._end(context)
            self.report({"INFO"}, f"Memmatte: cancelled '{entry.node}'")
            return {"CANCELLED"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        progress = entry.job.progress()
        if context.workspace is not None:
            context.workspace.status_text_set(_status_drawer(entry))
        _redraw(context)
        if not progress.finished:
            return {"PASS_THROUGH"}
        progress = jobs.finish(entry)
        self._end(context)
        if progress.state == "done":
            self.report({"INFO"}, f"Memmatte: matte of '{entry.node}' computed")
            return {"FINISHED"}
        if progress.state == "failed":
            self.report({"ERROR"}, progress.message)
        return {"CANCELLED"}

    def cancel(self, context):
        """Blender ends the operator (a file is loaded, the window closes): stop the worker."""
        if self._entry is not None:
            jobs.cancel(self._entry)
        self._end(context)

    def _end(self, context):
        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None
        if context.workspace is not None:
            context.workspace.status_text_set(None)
        _redraw(context)


class MEMMATTE_OT_cancel(bpy.types.Operator):
    """Stop computing this node's matte; the cache keeps its previous matte"""

    bl_idname = "memmatte.cancel"
    bl_label = "Cancel"

    tree: bpy.props.StringProperty(options={"SKIP_SAVE", "HIDDEN"})
    node: bpy.props.StringProperty(options={"SKIP_SAVE", "HIDDEN"})

    def execute(self, context):
        try:
            node = _find_node(context, self.tree, self.node)
        except WorkerError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        entry = jobs.running(node)
        if entry is not None:
            entry.job.cancel()  # the modal operator sees "cancelled" and cleans up
        return {"FINISHED"}


class MEMMATTE_OT_matte_scene(bpy.types.Operator):
    """Compute the matte of every Memmatte node in the scene's compositor, waiting for each
    (for scripts and render farms)"""

    bl_idname = "memmatte.matte_scene"
    bl_label = "Matte Scene"

    def execute(self, context):
        try:
            jobs.matte_scene(context.scene, settings(context))
        except USER_ERRORS as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        return {"FINISHED"}


class MEMMATTE_OT_check_cache(bpy.types.Operator):
    """Check that every Memmatte node's cache holds the matte of its current footage for the
    scene's frames (render farms: fails, and with --python-exit-code 1 exits 1, when not)"""

    bl_idname = "memmatte.check_cache"
    bl_label = "Check Matte Cache"

    def execute(self, context):
        try:
            jobs.check_scene(context.scene)
        except USER_ERRORS as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        return {"FINISHED"}


def draw_controls(layout, node, details: bool = False) -> None:
    """The node's Compute/Cancel button, progress and status (node body and sidebar)."""
    entry = jobs.running(node)
    if entry is not None:
        progress = entry.job.progress()
        row = layout.row(align=True)
        row.progress(
            factor=progress.fraction,
            type="BAR",
            text=f"{progress.label} {progress.done}/{progress.total}",
        )
        op = row.operator(MEMMATTE_OT_cancel.bl_idname, text="", icon="CANCEL")
        op.tree, op.node = compat.tree_key(node.id_data), node.name
    else:
        op = layout.operator(MEMMATTE_OT_compute_matte.bl_idname, icon="PLAY")
        op.tree, op.node = compat.tree_key(node.id_data), node.name
    if node.message:
        layout.label(text=node.message, icon="ERROR")
    elif node.matte_frames[1] >= node.matte_frames[0]:
        first, last = node.matte_frames
        layout.label(text=f"Matte: frames {first}-{last}", icon="CHECKMARK")
    else:
        layout.label(text="No matte yet", icon="INFO")
    if details:
        layout.label(text=jobs.footage_summary(node), icon="FILE_MOVIE")


class NODE_PT_memmatte(bpy.types.Panel):
    bl_space_type = "NODE_EDITOR"
    bl_region_type = "UI"
    bl_category = "Memmatte"
    bl_label = "Memmatte"

    @classmethod
    def poll(cls, context):
        space = context.space_data
        return getattr(space, "tree_type", "") == "CompositorNodeTree"

    def draw(self, context):
        layout = self.layout
        tree = context.space_data.edit_tree
        node = tree.nodes.active if tree is not None else None
        if node is None or node.bl_idname != NODE_IDNAME:
            layout.label(text="Select a Memmatte node", icon="INFO")
            return
        layout.label(text=node.name, icon="NODE_COMPOSITING")
        layout.prop(node, "alpha_mode")
        layout.prop(node, "cache_dir")
        draw_controls(layout, node, details=True)


CLASSES = (
    MEMMATTE_OT_compute_matte,
    MEMMATTE_OT_cancel,
    MEMMATTE_OT_matte_scene,
    MEMMATTE_OT_check_cache,
    NODE_PT_memmatte,
)


@bpy.app.handlers.persistent
def _on_load(*_args) -> None:
    jobs.cancel_all()


@bpy.app.handlers.persistent
def check_before_render(scene, *_args) -> None:
    """render_pre: a render from a missing, incomplete or stale matte cache is reported (on
    the node, on stderr, and as this handler's exception) instead of rendering alpha 0 or 1
    silently. Blender prints a handler's exception but goes on rendering, so farm jobs also
    run ``bpy.ops.memmatte.check_cache()`` (or ``matte_scene()``) with --python-exit-code 1
    before -a, which stops them with exit 1 (docs/hosts/blender.md)."""
    try:
        jobs.check_scene(scene)
    except jobs.CacheError as error:
        print(f"ERROR: {error}", file=sys.stderr, flush=True)
        raise


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.app.handlers.load_pre.append(_on_load)
    bpy.app.handlers.render_pre.append(check_before_render)


def unregister() -> None:
    if check_before_render in bpy.app.handlers.render_pre:
        bpy.app.handlers.render_pre.remove(check_before_render)
    if _on_load in bpy.app.handlers.load_pre:
        bpy.app.handlers.load_pre.remove(_on_load)
    jobs.cancel_all()
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
