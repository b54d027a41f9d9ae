"""The node group inside a Memmatte node, and the Memmatte nodes of a scene.

Inside::

    Group Input.Image ─► Set Alpha ─► Group Output.Image         (footage + matte alpha)
    Matte (Image node, the cached EXR sequence) ─┬─► Set Alpha.Alpha
                                                 ├─► Group Output.Alpha
                                                 └─► Group Output.Foreground (its RGBA)

"Matte" reads ``<cache>/matte.####.exr`` that the worker wrote: RGB is the clean foreground
premultiplied by alpha (scene-linear Rec.709), A is the matte. Until a matte is computed
the group passes its input through with alpha 1 and a transparent Foreground.
"""

from __future__ import annotations

import contextlib
import os

import bpy

from . import compat
from .footage import FramePlan

NODE_IDNAME = "CompositorNodeMemmatte"
"""The Memmatte node type (``nodes.MemmatteNode``)."""


def build_group(name: str, alpha_mode: str = "PREMULTIPLIED") -> bpy.types.NodeTree:
    """A new inner node group, with no matte yet."""
    group = bpy.data.node_groups.new(name, "CompositorNodeTree")
    interface = group.interface
    interface.new_socket("Image", in_out="INPUT", socket_type="NodeSocketColor")
    interface.new_socket("Image", in_out="OUTPUT", socket_type="NodeSocketColor")
    alpha = interface.new_socket("Alpha", in_out="OUTPUT", socket_type="NodeSocketFloat")
    alpha.default_value = 1.0
    alpha.min_value, alpha.max_value = 0.0, 1.0
    interface.new_socket("Foreground", in_out="OUTPUT", socket_type="NodeSocketColor")

    nodes = group.nodes
    group_in = nodes.new("NodeGroupInput")
    group_in.location = (-400, 0)
    matte = nodes.new("CompositorNodeImage")
    matte.name = matte.label = "Matte"
    matte.location = (-400, -200)
    set_alpha = nodes.new("CompositorNodeSetAlpha")
    set_alpha.name = "Set Alpha"
    set_alpha.location = (0, 0)
    compat.set_alpha_mode(set_alpha, alpha_mode)
    group_out = nodes.new("NodeGroupOutput")
    group_out.location = (300, 0)
    group.links.new(group_in.outputs["Image"], set_alpha.inputs["Image"])
    group.links.new(set_alpha.outputs["Image"], group_out.inputs["Image"])
    return group


def apply_matte(node, folder: str, plan: FramePlan, padding: int = 4) -> None:
    """Points the node's inner Matte image at ``folder/matte.####.exr`` and links it in.

    Main thread only (it changes Blender data). ``padding``: digits in the file names.
    """
    group = node.node_tree
    matte = group.nodes["Matte"]
    first = plan.matte_user.frame_offset + 1
    path = os.path.join(folder, f"matte.{first:0{padding}d}.exr")
    if bpy.data.is_saved:
        with contextlib.suppress(ValueError):  # another drive on Windows: stays absolute
            path = bpy.path.relpath(path)
    image = matte.image
    if image is None:
        image = bpy.data.images.load(bpy.path.abspath(path), check_existing=False)
        image.name = f"Memmatte {node.name}"
    image.filepath = path
    image.source = "SEQUENCE"
    image.reload()
    matte.image = image
    user = plan.matte_user
    matte.frame_start = user.frame_start
    matte.frame_offset = user.frame_offset
    matte.frame_duration = user.frame_duration
    matte.use_cyclic = user.cyclic
    matte.use_auto_refresh = True

    links = group.links
    set_alpha = group.nodes["Set Alpha"]
    group_out = next(n for n in group.nodes if n.bl_idname == "NodeGroupOutput")
    links.new(matte.outputs["Alpha"], set_alpha.inputs["Alpha"])
    links.new(matte.outputs["Alpha"], group_out.inputs["Alpha"])
    links.new(matte.outputs["Image"], group_out.inputs["Foreground"])
    node.matte_frames = plan.scene_frames


def iter_nodes(scene) -> list[tuple[bpy.types.NodeTree, bpy.types.Node]]:
    """(tree, node) for every Memmatte node in the scene's compositor."""
    tree = compat.compositor_tree(scene)
    if tree is None:
        return []
    return [(tree, n) for n in tree.nodes if n.bl_idname == NODE_IDNAME]
