"""Build a `FigureSpec` as Blender objects: body, head, eyes, lips and strand hair.

Needs `bpy`. Head and body are metaball unions of `rendered_body` ellipsoids converted to smooth
meshes; the body carries a per-vertex signed distance to the clothing edge (attribute `cloth`,
positive on the garment, which also stands a few millimetres off the skin) and the head a scalp
mask (attribute `scalp`). Hair is a Curves object of tapered strands parented to the head.

Object hierarchy: body (origin at the neck base, placed in the world) -> head (origin at the neck
pivot, rotates for turns and nods) -> eyes, lips, hair.
"""

from __future__ import annotations

from dataclasses import dataclass

import bpy
import mathutils
import numpy as np

from training.synthetic.blender_materials import (
    body_material,
    eye_material,
    hair_material,
    lips_material,
    skin_material,
)
from training.synthetic.rendered_body import (
    HEAD_PIVOT,
    THRESHOLD,
    Element,
    body_elements,
    head_elements,
    mouth_height,
    surface_along,
)
from training.synthetic.rendered_hair import grow_hair, scalp_mask
from training.synthetic.rendered_spec import BodySpec, ClothingSpec, FigureSpec

_CLOTH_THICKNESS = {"turtleneck": 0.008}


@dataclass
class FigureObjects:
    body: bpy.types.Object
    head: bpy.types.Object
    hair: bpy.types.Object
    strands: int

    def all(self) -> list[bpy.types.Object]:
        return [self.body, *self.body.children_recursive]


def build_figure(
    figure: FigureSpec,
    collection: bpy.types.Collection,
    *,
    strand_scale: float = 1.0,
    resolution: float = 0.004,
) -> FigureObjects:
    """Create the figure's objects in `collection`, the body at the world origin with its neck
    base at z = figure.height. `resolution` is the metaball polygonisation step (metres)."""
    head_els = head_elements(figure.head)
    body_els = body_elements(figure.body)

    body_verts, body_faces = _polygonise(body_els, resolution, collection)
    cloth_sd = _cloth_distance(body_verts, figure.body, figure.clothing)
    body_normals = _vertex_normals(body_verts, body_faces)
    thick = _CLOTH_THICKNESS.get(figure.clothing.neckline, 0.004)
    ramp = np.clip(cloth_sd / 0.008, 0.0, 1.0)  # the fabric edge rolls up over 8 mm
    lift = thick * ramp * ramp * (3 - 2 * ramp)
    body_verts = body_verts + body_normals * lift[:, None]
    body = _mesh_object("body", body_verts, body_faces, collection)
    _set_point_attribute(body.data, "cloth", cloth_sd)
    body.data.materials.append(body_material(figure.head, figure.clothing))
    body.location = (0.0, 0.0, figure.height)

    head_verts, head_faces = _polygonise(head_els, resolution * 0.75, collection)
    head = _mesh_object("head", head_verts - HEAD_PIVOT, head_faces, collection)
    direction = head_verts - np.array(head_els[0].centre)
    direction /= np.array(head_els[0].semi)
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    _set_point_attribute(head.data, "scalp", scalp_mask(direction, figure.hair, soft=0.08))
    head.data.materials.append(skin_material(figure.head, figure.hair))
    head.parent = body
    head.location = (0.0, 0.01, figure.body.neck_length)

    _add_eyes(figure, head_els, head, collection)
    _add_lips(figure, head_els, head, collection)

    strands = grow_hair(figure, strand_scale)
    hair = _curves_object(
        "hair", strands.points - HEAD_PIVOT.astype(np.float32), strands.radius, collection
    )
    hair.data.materials.append(hair_material(figure.hair))
    hair.parent = head
    return FigureObjects(body=body, head=head, hair=hair, strands=len(strands.points))


def _polygonise(
    elements: list[Element], resolution: float, collection: bpy.types.Collection
) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (V, 3) and triangles (F, 3) of the metaball union of `elements`."""
    mb = bpy.data.metaballs.new("shape")
    mb.resolution = mb.render_resolution = resolution
    mb.threshold = THRESHOLD
    for e in elements:
        el = mb.elements.new(type="ELLIPSOID")
        reach = e.reach
        radius = max(e.semi) * reach
        el.co = e.centre
        el.radius = radius
        el.stiffness = e.stiffness
        el.size_x, el.size_y, el.size_z = (s * reach / radius for s in e.semi)
        el.use_negative = e.negative
        el.rotation = mathutils.Matrix(e.rotation().tolist()).to_quaternion()
    obj = bpy.data.objects.new("shape", mb)
    collection.objects.link(obj)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    mesh = bpy.data.meshes.new_from_object(obj.evaluated_get(depsgraph))
    bpy.data.objects.remove(obj)
    bpy.data.metaballs.remove(mb)
    mesh.calc_loop_triangles()
    verts = np.empty(len(mesh.vertices) * 3, np.float64)
    mesh.vertices.foreach_get("co", verts)
    tris = np.empty(len(mesh.loop_triangles) * 3, np.int64)
    mesh.loop_triangles.foreach_get("vertices", tris)
    bpy.data.meshes.remove(mesh)
    verts, tris = verts.reshape(-1, 3), tris.reshape(-1, 3)
    return _smooth(verts, tris), tris


def _smooth(verts: np.ndarray, tris: np.ndarray, iterations: int = 4) -> np.ndarray:
    """Taubin smoothing (shrink-free Laplacian): softens the creases where metaball elements
    meet and the facets of the polygonisation."""
    edges = np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]])
    edges = np.concatenate([edges, edges[:, ::-1]])
    degree = np.bincount(edges[:, 0], minlength=len(verts))[:, None]
    v = verts.copy()
    for _ in range(iterations):
        for factor in (0.5, -0.53):
            total = np.zeros_like(v)
            np.add.at(total, edges[:, 0], v[edges[:, 1]])
            v = v + factor * (total / np.maximum(degree, 1) - v)
    return v


def _vertex_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    a, b, c = (verts[faces[:, i]] for i in range(3))
    face_n = np.cross(b - a, c - a)
    normals = np.zeros_like(verts)
    for i in range(3):
        np.add.at(normals, faces[:, i], face_n)
    return normals / np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)


def _mesh_object(name, verts, faces, collection) -> bpy.types.Object:
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(np.asarray(verts, np.float64).tolist(), [], faces.tolist())
    mesh.shade_smooth()
    mesh.validate()
    obj = bpy.data.objects.new(name, mesh)
    collection.objects.link(obj)
    return obj


def _set_point_attribute(mesh, name: str, values: np.ndarray) -> None:
    attr = mesh.attributes.new(name, "FLOAT", "POINT")
    attr.data.foreach_set("value", np.asarray(values, np.float32))


def _cloth_distance(verts: np.ndarray, body: BodySpec, cloth: ClothingSpec) -> np.ndarray:
    """Signed distance (metres, approximate) from each body vertex to the garment's edge:
    positive on the garment. The neckline is a profile z = f(|x|) seen from the front (deeper at
    the front than the back); sleeves end at the shoulder or half-way down the upper arm."""
    x, y, z = verts[:, 0], verts[:, 1], verts[:, 2]
    ax = np.abs(x)
    nr = body.neck_radius
    depth = cloth.neckline_depth
    front = np.clip(0.5 - y / 0.04, 0.0, 1.0)  # 1 at the front of the neck, 0 at the back
    if cloth.neckline == "v":
        w = nr + 0.035
        f = -0.01 - depth * np.clip(1 - ax / w, 0, 1) * front
    elif cloth.neckline == "scoop":
        w = nr + 0.06
        f = -0.01 - depth * np.clip(1 - (ax / w) ** 2, 0, 1) * front
    elif cloth.neckline == "boat":
        w = nr + 0.09
        f = -0.004 - 0.02 * np.clip(1 - (ax / w) ** 2, 0, 1) * front
    elif cloth.neckline == "turtleneck":
        w = nr + 0.02
        f = np.full_like(x, body.neck_length + 0.005)
    else:  # crew
        w = nr + 0.02
        f = -0.004 - depth * np.clip(1 - (ax / w) ** 2, 0, 1) * front
    sd = np.maximum(f - z, ax - w)
    if cloth.sleeves == "none":
        sd = np.minimum(sd, body.shoulder_width - 0.03 - ax)
    elif cloth.sleeves == "short":
        sd = np.minimum(sd, np.maximum(body.shoulder_width - 0.01 - ax, z + 0.2))
    return sd


def _add_eyes(figure, head_els, head, collection) -> None:
    """Eyeballs set into the sockets with the cornea at the uncarved face surface, and upper and
    lower lids (skin-coloured spherical caps just outside the eyeball)."""
    h = figure.head
    solid = [e for e in head_els if not e.negative]
    origins = np.array([[s * h.eye_spacing, -0.2, 0.0] for s in (-1.0, 1.0)])
    face = surface_along(origins, np.array([0.0, 1.0, 0.0]), solid)
    eye_mat = eye_material(h, h.eye_radius)
    skin = head.data.materials[0]
    r = h.eye_radius
    for i, side in enumerate(("r", "l")):
        centre = tuple(face[i] + np.array([0.0, r * 1.2, 0.0]) - HEAD_PIVOT)
        for name, radius, polar, mat in (
            (f"eye_{side}", r, (0.0, np.pi), eye_mat),
            (f"lid_upper_{side}", r * 1.08, (0.0, 1.35), skin),
            (f"lid_lower_{side}", r * 1.06, (np.pi - 1.0, np.pi), skin),
        ):
            obj = _sphere(name, radius, collection, segments=24, polar=polar)
            obj.data.materials.append(mat)
            obj.parent = head
            obj.location = centre


def _add_lips(figure, head_els, head, collection) -> None:
    h = figure.head
    mouth_z = mouth_height(h)
    mat = lips_material(h)
    for name, dz, semi in (
        ("lip_upper", 0.004, (h.lip_width, 0.007 * h.lip_fullness, 0.0045 * h.lip_fullness)),
        (
            "lip_lower",
            -0.0045,
            (h.lip_width * 0.9, 0.008 * h.lip_fullness, 0.0055 * h.lip_fullness),
        ),
    ):
        origin = np.array([[0.0, -0.2, mouth_z + dz]])
        surface = surface_along(origin, np.array([0.0, 1.0, 0.0]), head_els)[0]
        centre = surface + np.array([0.0, semi[1] * 0.45, 0.0])
        obj = _sphere(name, 1.0, collection, segments=20)
        obj.scale = semi
        obj.data.materials.append(mat)
        obj.parent = head
        obj.location = tuple(centre - HEAD_PIVOT)


def _sphere(
    name: str, radius: float, collection, segments: int, polar: tuple[float, float] = (0, np.pi)
) -> bpy.types.Object:
    """A UV sphere with poles on the z axis, or the band of it between polar angles `polar`
    (radians from +z); a band that reaches a pole is closed there."""
    lo, hi = polar
    rings = max(3, int(np.ceil(segments / 2 * (hi - lo) / np.pi)))
    theta = np.linspace(lo, hi, rings + 1)
    phi = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    verts, faces = [], []
    index = {}
    for i, t in enumerate(theta):
        if np.isclose(np.sin(t), 0.0):
            index[i] = [len(verts)] * segments
            verts.append((0.0, 0.0, radius * np.cos(t)))
        else:
            index[i] = list(range(len(verts), len(verts) + segments))
            verts += [
                (radius * np.sin(t) * np.cos(p), radius * np.sin(t) * np.sin(p), radius * np.cos(t))
                for p in phi
            ]
    for i in range(rings):
        for j in range(segments):
            k = (j + 1) % segments
            quad = [index[i][j], index[i][k], index[i + 1][k], index[i + 1][j]]
            quad = list(dict.fromkeys(quad))  # a pole collapses the quad to a triangle
            faces.append(quad)
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(verts, [], faces)
    mesh.shade_smooth()
    obj = bpy.data.objects.new(name, mesh)
    collection.objects.link(obj)
    return obj


def _curves_object(name, points: np.ndarray, radius: np.ndarray, collection) -> bpy.types.Object:
    n, p, _ = points.shape
    curves = bpy.data.hair_curves.new(name)
    curves.add_curves([p] * n)
    curves.position_data.foreach_set("vector", np.ascontiguousarray(points, np.float32).ravel())
    attr = curves.attributes.get("radius") or curves.attributes.new("radius", "FLOAT", "POINT")
    attr.data.foreach_set("value", np.ascontiguousarray(radius, np.float32).ravel())
    obj = bpy.data.objects.new(name, curves)
    collection.objects.link(obj)
    return obj
