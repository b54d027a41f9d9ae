"""The Memmatte compositor node: a ``CompositorNodeCustomGroup`` around a small node group
(``group.py``), with the buttons of ``operators.py``.

A Python node cannot process pixels in Blender's compositor, so the node is a group whose
nodes do the work.
"""

from __future__ import annotations

import bpy

from . import compat
from .group import NODE_IDNAME, build_group
from .operators import draw_controls

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


class MemmatteNode(bpy.types.CompositorNodeCustomGroup):
    """Alpha matte and clean foreground of a person in the footage, computed by memmatte."""

    bl_idname = NODE_IDNAME
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
        layout.prop(self, "alpha_mode", text="")
        draw_controls(layout, self)

    def draw_buttons_ext(self, context, layout):
        layout.prop(self, "alpha_mode")
        layout.prop(self, "cache_dir")
        draw_controls(layout, self, details=True)


def _add_menu(self, context):
    if getattr(context.space_data, "tree_type", "") == "CompositorNodeTree":
        self.layout.separator()
        op = self.layout.operator("node.add_node", text="Memmatte", icon="NODE_COMPOSITING")
        op.type = NODE_IDNAME
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
