"""The compositor API differences between Blender 4.2-4.5 and 5.x, in one place.

5.x: a scene's compositor is a node group (``scene.compositing_node_group``) whose Group
Output has an Image socket; Set Alpha's mode is a menu input socket ("Type").
4.x: ``scene.use_nodes`` / ``scene.node_tree`` with a Composite node; Set Alpha's mode is
the ``mode`` property.

Features are detected, not version numbers compared, so a point release that keeps an old
API keeps working. No module-level ``bpy`` import: ``extract.py`` loads this file by path.
"""

from __future__ import annotations

from typing import Any

SET_ALPHA_MODES = {
    "PREMULTIPLIED": ("Apply Mask", "APPLY"),
    "STRAIGHT": ("Replace Alpha", "REPLACE_ALPHA"),
}
"""Our alpha modes → (5.x menu item, 4.x enum identifier) of Set Alpha."""


def compositor_tree(scene: Any) -> Any | None:
    """The scene's compositor node tree, or None when it has none."""
    if hasattr(scene, "compositing_node_group"):
        return scene.compositing_node_group
    return scene.node_tree if scene.use_nodes else None


EMBEDDED = "scene:"
"""Prefix of ``tree_key`` for a 4.x scene's own compositor tree, which is not in
``bpy.data.node_groups`` and is called "Compositing Nodetree" in every scene."""


def tree_key(tree: Any) -> str:
    """A name that finds ``tree`` again with ``find_tree``: a node group's name, or for a 4.x
    scene's embedded compositor ``EMBEDDED`` + the scene's name."""
    if getattr(tree, "is_embedded_data", False):
        import bpy

        for scene in bpy.data.scenes:
            if getattr(scene, "node_tree", None) == tree:
                return EMBEDDED + scene.name
    return tree.name


def find_tree(key: str) -> Any | None:
    """The node tree that ``tree_key`` named, or None when it is gone."""
    import bpy

    tree = bpy.data.node_groups.get(key)
    if tree is None and key.startswith(EMBEDDED):
        scene = bpy.data.scenes.get(key[len(EMBEDDED) :])
        tree = getattr(scene, "node_tree", None) if scene is not None else None
    return tree


def compositor_result(tree: Any) -> Any:
    """The socket of ``tree`` that is the compositor's result: the Group Output's Image (5.x)
    or the Composite node's Image (4.x)."""
    for node in tree.nodes:
        if node.bl_idname in ("NodeGroupOutput", "CompositorNodeComposite"):
            return node.inputs[0]
    raise LookupError(f"the compositor {tree.name!r} has no Group Output or Composite node")


def new_compositor(scene: Any, name: str = "Compositor") -> tuple[Any, Any]:
    """Gives ``scene`` an empty compositor; returns (tree, the socket that is the result).

    The result socket is the Group Output's Image (5.x) or the Composite node's Image (4.x);
    what is linked to it is what renders write to files.
    """
    import bpy

    if hasattr(scene, "compositing_node_group"):
        tree = bpy.data.node_groups.new(name, "CompositorNodeTree")
        scene.compositing_node_group = tree
        tree.interface.new_socket("Image", in_out="OUTPUT", socket_type="NodeSocketColor")
        output = tree.nodes.new("NodeGroupOutput")
    else:
        scene.use_nodes = True
        tree = scene.node_tree
        tree.nodes.clear()
        output = tree.nodes.new("CompositorNodeComposite")
    output.location = (600, 0)
    return tree, output.inputs[0]


def set_alpha_mode(node: Any, mode: str) -> None:
    """Sets a Set Alpha node to "PREMULTIPLIED" (Apply Mask) or "STRAIGHT" (Replace Alpha)."""
    menu_item, enum_item = SET_ALPHA_MODES[mode]
    if "Type" in node.inputs:
        node.inputs["Type"].default_value = menu_item
    else:
        node.mode = enum_item
