"""The Memmatte compositor node: a ``CompositorNodeCustomGroup`` around a small node group.

A Python node cannot process pixels in Blender's compositor, so the node is a group whose
nodes do the work. Inside::

    Group Input.Image ─► Set Alpha ─► Group Output.Image         (footage + matte alpha)
    Matte (Image node, the cached EXR sequence) ─┬─► Set Alpha.Alpha
                                                 ├─► Group Output.Alpha
                                                 └─► Group Output.Foreground (its RGBA)

"Matte" reads ``<cache>/matte.####.exr`` that the worker wrote: RGB is the clean foreground
premultiplied by alpha (scene-linear Rec.709), A is the matte. Until a matte is computed
the node passes its input through with alpha 1 and a transparent Foreground.
"""

from __future__ import annotations

import contextlib
import os

import bpy

from . import compat
from .footage import FramePlan

GROUP_PREFIX = ".Memmatte"
"""Inner groups start with a dot, which hides them from Blender's group lists."""

ALPHA_MODES = [
    (
        "PREMULTIPLIED",
        "Premultiplied",
        "Footage RGB × matte with the matte as alpha (Set Alpha › Apply Mask): "
        "Blender's convention, ready for Alpha Over",
    ),
    (
        "STRAIGHT",
        "Straight",
        "Footage RGB unchanged with the matte as alpha (Set Alpha › Replace Alpha)",
    ),
]


def _update_alpha_mode(node: MemmatteNode, _context) -> None:
    compat.set_alpha_mode(node.node_tree.nodes["Set Alpha"], node.alpha_mode)


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


def apply_matte(node: MemmatteNode, folder: str, plan: FramePlan, padding: int = 4) -> None:
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


class MemmatteNode(bpy.types.CompositorNodeCustomGroup):
    """Alpha matte and clean foreground of a person in the footage, computed by memmatte."""

    bl_idname = "CompositorNodeMemmatte"
    bl_label = "Memmatte"
    bl_icon = "NODE_COMPOSITING"
    bl_width_default = 200

    alpha_mode: bpy.props.EnumProperty(
        name="Alpha",
        description="How the Image output carries the matte",
        items=ALPHA_MODES,
        default="PREMULTIPLIED",
        update=_update_alpha_mode,
    )
    cache_dir: bpy.props.StringProperty(
        name="Cache",
        description="Folder for the matte EXR sequences (// is the .blend's folder)",
        subtype="DIR_PATH",
        default="//memmatte_cache/",
    )
    matte_frames: bpy.props.IntVectorProperty(
        name="Matte Frames",
        description="Scene frames the cached matte covers",
        size=2,
        default=(0, -1),
    )
    message: bpy.props.StringProperty(name="Message", description="The last problem, if any")

    @classmethod
    def poll(cls, tree):
        return tree.bl_idname == "CompositorNodeTree"

    def init(self, context):
        self.node_tree = build_group(GROUP_PREFIX, self.alpha_mode)

    def copy(self, node):
        # The copy gets its own group and matte image, so computing its matte later does
        # not repoint the original's.
        self.node_tree = node.node_tree.copy()
        matte = self.node_tree.nodes["Matte"]
        if matte.image is not None:
            matte.image = matte.image.copy()

    def draw_buttons(self, context, layout):
        from .operators import draw_controls

        layout.prop(self, "alpha_mode", text="")
        draw_controls(layout, self)

    def draw_buttons_ext(self, context, layout):
        from .operators import draw_controls

        layout.prop(self, "alpha_mode")
        layout.prop(self, "cache_dir")
        draw_controls(layout, self, details=True)


def iter_nodes(scene) -> list[tuple[bpy.types.NodeTree, MemmatteNode]]:
    """(tree, node) for every Memmatte node in the scene's compositor."""
    tree = compat.compositor_tree(scene)
    if tree is None:
        return []
    return [(tree, n) for n in tree.nodes if n.bl_idname == MemmatteNode.bl_idname]


def _add_menu(self, context):
    if getattr(context.space_data, "tree_type", "") == "CompositorNodeTree":
        self.layout.separator()
        op = self.layout.operator("node.add_node", text="Memmatte", icon="NODE_COMPOSITING")
        op.type = MemmatteNode.bl_idname
        op.use_transform = True


ADD_MENUS = (
    "NODE_MT_category_compositor_keying",  # 5.x
    "NODE_MT_category_compositor_matte",  # 4.x
    "NODE_MT_category_COMP_MATTE",
)


def register() -> None:
    bpy.utils.register_class(MemmatteNode)
    menu = next((getattr(bpy.types, m) for m in ADD_MENUS if hasattr(bpy.types, m)), None)
    (menu or bpy.types.NODE_MT_add).append(_add_menu)


def unregister() -> None:
    for name in (*ADD_MENUS, "NODE_MT_add"):
        menu = getattr(bpy.types, name, None)
        if menu is not None:
            menu.remove(_add_menu)
    bpy.utils.unregister_class(MemmatteNode)
