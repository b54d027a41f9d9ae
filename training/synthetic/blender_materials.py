"""Cycles materials for the rendered generator: skin, lips, eyes, clothing, hair and room surfaces.

Needs `bpy`. Colours are scene-linear RGB. Texture coordinates are the object's own (metres), so
patterns keep their size whatever the mesh resolution.
"""

from __future__ import annotations

import bpy

from training.synthetic.rendered_spec import RGB, ClothingSpec, HairSpec, HeadSpec


class Nodes:
    """A little builder over a node tree: `add(type, **inputs)` and `link(a, b)`."""

    def __init__(self, tree: bpy.types.NodeTree) -> None:
        self.tree = tree

    def add(self, kind: str, *, props: dict | None = None, **inputs):
        node = self.tree.nodes.new(kind)
        for name, value in (props or {}).items():
            setattr(node, name, value)
        for name, value in inputs.items():
            self.set(node.inputs[_socket(name)], value)
        return node

    def set(self, socket, value) -> None:
        if isinstance(value, bpy.types.NodeSocket):
            self.tree.links.new(value, socket)
        elif isinstance(value, bpy.types.Node):
            self.tree.links.new(value.outputs[0], socket)
        elif isinstance(value, tuple) and len(value) == 3 and socket.type == "RGBA":
            socket.default_value = (*value, 1.0)
        else:
            socket.default_value = value

    def math(self, op: str, a, b=0.0):
        node = self.add("ShaderNodeMath", props={"operation": op})
        self.set(node.inputs[0], a)
        self.set(node.inputs[1], b)
        return node

    def mix(self, factor, a, b, blend: str = "MIX"):
        """Colour mix node (the RGBA sockets, not the float ones of the same name)."""
        node = self.add("ShaderNodeMix", props={"data_type": "RGBA", "blend_type": blend})
        inputs = {s.identifier: s for s in node.inputs}
        self.set(inputs["Factor_Float"], factor)
        self.set(inputs["A_Color"], a)
        self.set(inputs["B_Color"], b)
        return next(s for s in node.outputs if s.identifier == "Result_Color")


def _socket(name: str) -> str:
    return name.replace("_", " ")


def _material(name: str) -> tuple[bpy.types.Material, Nodes]:
    mat = bpy.data.materials.new(name)
    tree = mat.node_tree
    tree.nodes.clear()
    return mat, Nodes(tree)


def _output(n: Nodes, shader) -> None:
    out = n.add("ShaderNodeOutputMaterial")
    n.set(out.inputs["Surface"], shader)


def _object_coords(n: Nodes):
    return n.add("ShaderNodeTexCoord").outputs["Object"]


def _skin_bsdf(n: Nodes, head: HeadSpec, scalp_colour: RGB | None):
    coords = _object_coords(n)
    blotch = n.add("ShaderNodeTexNoise", Vector=coords, Scale=60.0, Detail=3.0)
    tint = n.math("MULTIPLY_ADD", blotch.outputs["Fac"], 0.25)
    n.set(tint.inputs[2], 0.875)
    base = n.mix(1.0, head.skin, tint, "MULTIPLY")
    colour = base
    if scalp_colour is not None:
        scalp = n.add("ShaderNodeAttribute", props={"attribute_name": "scalp"})
        colour = n.mix(scalp.outputs["Fac"], colour, scalp_colour)
    pores = n.add("ShaderNodeTexNoise", Vector=coords, Scale=900.0, Detail=1.0)
    bump = n.add("ShaderNodeBump", Strength=0.08, Distance=0.0005, Height=pores.outputs["Fac"])
    return n.add(
        "ShaderNodeBsdfPrincipled",
        Base_Color=colour,
        Roughness=head.skin_roughness,
        Subsurface_Weight=0.15,
        Subsurface_Radius=(1.0, 0.5, 0.3),
        Subsurface_Scale=0.003,
        Normal=bump,
    )


def skin_material(head: HeadSpec, hair: HairSpec) -> bpy.types.Material:
    """Skin, turning to the hair colour where the mesh attribute `scalp` is 1."""
    mat, n = _material("skin")
    _output(n, _skin_bsdf(n, head, hair.colour))
    return mat


def lips_material(head: HeadSpec) -> bpy.types.Material:
    mat, n = _material("lips")
    _output(
        n,
        n.add(
            "ShaderNodeBsdfPrincipled",
            Base_Color=head.lips,
            Roughness=0.35,
            Subsurface_Weight=0.2,
            Subsurface_Radius=(1.0, 0.3, 0.2),
            Subsurface_Scale=0.003,
        ),
    )
    return mat


def eye_material(head: HeadSpec, eye_radius: float) -> bpy.types.Material:
    """Sclera, iris and pupil by distance from the eye's -y axis; glossy for catch lights."""
    mat, n = _material("eye")
    coords = n.add("ShaderNodeTexCoord").outputs["Object"]
    xyz = n.add("ShaderNodeSeparateXYZ", Vector=coords)  # the eye looks along its -y axis
    radial = n.add(
        "ShaderNodeVectorMath",
        props={"operation": "LENGTH"},
    )
    combine = n.add("ShaderNodeCombineXYZ", X=xyz.outputs["X"], Y=0.0, Z=xyz.outputs["Z"])
    n.set(radial.inputs[0], combine)
    front = n.math("LESS_THAN", xyz.outputs["Y"], 0.0)
    iris = n.math("MULTIPLY", n.math("LESS_THAN", radial.outputs["Value"], eye_radius * 0.6), front)
    pupil = n.math(
        "MULTIPLY", n.math("LESS_THAN", radial.outputs["Value"], eye_radius * 0.25), front
    )
    colour = n.mix(iris, (0.4, 0.36, 0.33), head.iris)
    colour = n.mix(pupil, colour, (0.01, 0.01, 0.01))
    _output(
        n, n.add("ShaderNodeBsdfPrincipled", Base_Color=colour, Roughness=0.04, Coat_Weight=0.5)
    )
    return mat


def body_material(head: HeadSpec, cloth: ClothingSpec) -> bpy.types.Material:
    """Skin where the mesh attribute `cloth` (a signed distance in metres) is negative, the
    clothing pattern where it is positive, with a crisp edge between."""
    mat, n = _material("body")
    skin = _skin_bsdf(n, head, None)
    fabric = _cloth_bsdf(n, cloth)
    sd = n.add("ShaderNodeAttribute", props={"attribute_name": "cloth"})
    edge = n.add("ShaderNodeMapRange", Value=sd.outputs["Fac"], From_Min=-0.0012, From_Max=0.0012)
    mixed = n.add("ShaderNodeMixShader", Fac=edge.outputs["Result"])
    n.set(mixed.inputs[1], skin)
    n.set(mixed.inputs[2], fabric)
    _output(n, mixed)
    return mat


def _cloth_bsdf(n: Nodes, cloth: ClothingSpec):
    coords = _object_coords(n)
    rotate = n.add(
        "ShaderNodeVectorRotate",
        props={"rotation_type": "Y_AXIS"},
        Vector=coords,
        Angle=cloth.pattern_angle,
    )
    p = rotate.outputs["Vector"]
    s = cloth.pattern_scale
    colour = cloth.colour
    bump_height = None
    if cloth.pattern == "stripes":  # bands 1 / s metres apart
        z = n.add("ShaderNodeSeparateXYZ", Vector=p).outputs["Z"]
        band = n.math("LESS_THAN", n.math("FRACT", n.math("MULTIPLY", z, s)), 0.4)
        colour = n.mix(band, cloth.colour, cloth.second)
    elif cloth.pattern == "checks":
        check = n.add(
            "ShaderNodeTexChecker",
            Vector=p,
            Scale=s,
            Color1=cloth.colour,
            Color2=cloth.second,
        )
        colour = check.outputs["Color"]
    elif cloth.pattern == "dots":
        dots = n.add("ShaderNodeTexVoronoi", Vector=p, Scale=s, Randomness=0.3)
        colour = n.mix(
            n.math("LESS_THAN", dots.outputs["Distance"], 0.28), cloth.colour, cloth.second
        )
    elif cloth.pattern == "knit":
        ribs = n.add(
            "ShaderNodeTexWave",
            props={"wave_type": "BANDS", "bands_direction": "X"},
            Vector=coords,
            Scale=60.0,  # ribs about 5 mm apart
            Distortion=1.0,
            Detail=2.0,
        )
        bump_height = ribs.outputs["Fac"]
        colour = n.mix(n.math("MULTIPLY", ribs.outputs["Fac"], 0.3), cloth.colour, cloth.second)
    elif cloth.pattern == "print":
        blobs = n.add("ShaderNodeTexNoise", Vector=p, Scale=s / 1.5, Detail=2.0)
        colour = n.mix(
            n.math("GREATER_THAN", blobs.outputs["Fac"], 0.55), cloth.colour, cloth.second
        )
    folds = n.add("ShaderNodeTexNoise", Vector=coords, Scale=7.0, Detail=2.0)
    shade = n.math("MULTIPLY_ADD", folds.outputs["Fac"], 0.3)
    n.set(shade.inputs[2], 0.85)
    tinted = n.mix(1.0, colour, shade, "MULTIPLY")
    bump = n.add("ShaderNodeBump", Strength=0.25, Distance=0.01, Height=folds.outputs["Fac"])
    if bump_height is not None:
        bump = n.add(
            "ShaderNodeBump", Strength=0.4, Distance=0.002, Height=bump_height, Normal=bump
        )
    return n.add(
        "ShaderNodeBsdfPrincipled",
        Base_Color=tinted,
        Roughness=cloth.roughness,
        Sheen_Weight=cloth.sheen,
        Sheen_Roughness=0.4,
        Normal=bump,
    )


def hair_material(hair: HairSpec) -> bpy.types.Material:
    """Principled Hair (Chiang) by melanin, with per-strand colour and roughness variation."""
    mat, n = _material("hair")
    bsdf = n.add(
        "ShaderNodeBsdfHairPrincipled",
        props={"parametrization": "MELANIN"},
        Melanin=hair.melanin,
        Melanin_Redness=hair.redness,
        Roughness=0.35,
        Radial_Roughness=0.4,
        Coat=0.1,
        Random_Color=0.15,
        Random_Roughness=0.2,
    )
    _output(n, bsdf)
    return mat


def flat_material(
    name: str, colour: RGB, roughness: float = 0.6, vary: float = 0.0
) -> bpy.types.Material:
    """A painted surface with a little noise; `vary` shifts the hue by up to that fraction per
    object (books on a shelf)."""
    mat, n = _material(name)
    coords = _object_coords(n)
    noise = n.add("ShaderNodeTexNoise", Vector=coords, Scale=3.0, Detail=2.0)
    shade = n.math("MULTIPLY_ADD", noise.outputs["Fac"], 0.2)
    n.set(shade.inputs[2], 0.9)
    base = colour
    if vary > 0:
        random = n.add("ShaderNodeObjectInfo").outputs["Random"]
        hue = n.math("MULTIPLY_ADD", random, vary)
        n.set(hue.inputs[2], 0.5 - vary / 2)
        value = n.math("MULTIPLY_ADD", random, 0.8)
        n.set(value.inputs[2], 0.6)
        base = n.add(
            "ShaderNodeHueSaturation", Hue=hue, Saturation=0.8, Value=value, Fac=1.0, Color=colour
        ).outputs["Color"]
    tinted = n.mix(1.0, base, shade, "MULTIPLY")
    _output(n, n.add("ShaderNodeBsdfPrincipled", Base_Color=tinted, Roughness=roughness))
    return mat


def wall_material(colour: RGB, pattern: str) -> bpy.types.Material:
    mat, n = _material("wall")
    coords = _object_coords(n)
    if pattern == "stripes":
        wave = n.add(
            "ShaderNodeTexWave",
            props={"wave_type": "BANDS", "bands_direction": "X"},
            Vector=coords,
            Scale=1.5,
            Distortion=0.0,
        )
        dark = tuple(c * 0.8 for c in colour)
        base = n.mix(n.math("GREATER_THAN", wave.outputs["Fac"], 0.5), colour, dark)
        height = None
    elif pattern == "brick":
        brick = n.add(
            "ShaderNodeTexBrick",
            Vector=coords,
            Color1=colour,
            Color2=tuple(c * 0.85 for c in colour),
            Mortar=tuple(min(1.0, c * 1.2) for c in colour),
            Scale=4.0,
            Mortar_Size=0.015,
        )
        base = brick.outputs["Color"]
        height = brick.outputs["Fac"]
    else:
        base, height = colour, None
    noise = n.add("ShaderNodeTexNoise", Vector=coords, Scale=8.0, Detail=3.0)
    bsdf_in = {"Roughness": 0.8}
    if height is not None:
        bsdf_in["Normal"] = n.add("ShaderNodeBump", Strength=0.3, Height=height)
    tinted = n.mix(0.15, base, noise.outputs["Color"], "MULTIPLY")
    _output(n, n.add("ShaderNodeBsdfPrincipled", Base_Color=tinted, **bsdf_in))
    return mat


def floor_material(kind: str, colour: RGB) -> bpy.types.Material:
    mat, n = _material("floor")
    coords = _object_coords(n)
    dark = tuple(c * 0.6 for c in colour)
    if kind == "wood":
        planks = n.add(
            "ShaderNodeTexBrick",
            Vector=coords,
            Color1=colour,
            Color2=dark,
            Mortar=tuple(c * 0.3 for c in colour),
            Scale=1.0,
            Mortar_Size=0.004,
            Brick_Width=1.2,
            Row_Height=0.15,
            props={"offset": 0.37},
        )
        grain = n.add(
            "ShaderNodeTexWave",
            props={"bands_direction": "Y"},
            Vector=coords,
            Scale=6.0,
            Distortion=6.0,
            Detail=3.0,
        )
        base = n.mix(n.math("MULTIPLY", grain.outputs["Fac"], 0.35), planks.outputs["Color"], dark)
        roughness = 0.35
    elif kind == "tiles":
        tiles = n.add(
            "ShaderNodeTexBrick",
            Vector=coords,
            Color1=colour,
            Color2=colour,
            Mortar=tuple(min(1.0, c * 1.4) for c in colour),
            Scale=2.0,
            Mortar_Size=0.01,
            Brick_Width=0.5,
            Row_Height=0.5,
            props={"offset": 0.0},
        )
        base, roughness = tiles.outputs["Color"], 0.2
    else:
        fibres = n.add("ShaderNodeTexNoise", Vector=coords, Scale=200.0, Detail=2.0)
        base = n.mix(n.math("MULTIPLY", fibres.outputs["Fac"], 0.5), colour, dark)
        roughness = 0.95
    _output(n, n.add("ShaderNodeBsdfPrincipled", Base_Color=base, Roughness=roughness))
    return mat


def painting_material(name: str, colour: RGB, seed: float) -> bpy.types.Material:
    """A framed picture: soft colour fields around `colour`, varied by a noise texture."""
    mat, n = _material(name)
    coords = _object_coords(n)
    noise = n.add(
        "ShaderNodeTexNoise",
        Vector=coords,
        Scale=4.0,
        Detail=4.0,
        W=seed,
        props={"noise_dimensions": "4D"},
    )
    base = n.mix(0.6, colour, noise.outputs["Color"])
    _output(n, n.add("ShaderNodeBsdfPrincipled", Base_Color=base, Roughness=0.5))
    return mat


def emission_material(name: str, colour: RGB, strength: float) -> bpy.types.Material:
    mat, n = _material(name)
    _output(n, n.add("ShaderNodeEmission", Color=colour, Strength=strength))
    return mat
