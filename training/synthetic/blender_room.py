"""Build a `RoomSpec` as Blender objects: floor, ceiling, three walls (the camera side is left
open), furniture boxes, windows on the back wall, lamps and a ceiling light.

Needs `bpy`. Room coordinates: floor at z = 0, x across, the back wall at y = depth / 2. Every
object hangs under one empty (`RoomObjects.root`) so the whole room can be moved to where a
clip's camera is (`place_room`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import bpy
import mathutils
import numpy as np

from training.synthetic.blender_materials import (
    emission_material,
    flat_material,
    floor_material,
    painting_material,
    wall_material,
)
from training.synthetic.rendered_spec import PAINTING, RoomSpec

_ROOM_CAMERA_SETBACK = 0.6  # the plate camera stands this far inside the open side
_OVERHANG = 6.0  # metres the floor, ceiling and side walls extend past the open side


@dataclass
class RoomObjects:
    root: bpy.types.Object
    camera_position: np.ndarray  # room coordinates
    camera_target: np.ndarray


def build_room(room: RoomSpec, collection: bpy.types.Collection) -> RoomObjects:
    root = bpy.data.objects.new("room", None)
    collection.objects.link(root)
    w, d, h = room.width, room.depth, room.height
    back = d / 2

    def box(name, centre, half, angle, mat):
        obj = _box(name, half, collection, mat)
        obj.location = centre
        obj.rotation_euler = (0.0, 0.0, angle)
        obj.parent = root
        return obj

    walls = wall_material(room.wall, room.wall_pattern)
    plain = flat_material("ceiling", (0.8, 0.8, 0.8), 0.9)
    # floor, ceiling and side walls run on past the open side, so a camera pushed back out of
    # the room (place_room) still sees walls at the frame edges
    mid, half_len = (back - d / 2 - _OVERHANG) / 2, (d + _OVERHANG) / 2
    floor = floor_material(room.floor, room.floor_colour)
    box("floor", (0, mid, -0.05), (w / 2, half_len, 0.05), 0.0, floor)
    box("ceiling", (0, mid, h + 0.05), (w / 2, half_len, 0.05), 0.0, plain)
    box("back_wall", (0, back + 0.05, h / 2), (w / 2, 0.05, h / 2), 0.0, walls)
    for side in (-1.0, 1.0):
        box(
            f"side_wall_{side:+.0f}",
            (side * (w / 2 + 0.05), mid, h / 2),
            (0.05, half_len, h / 2),
            0.0,
            walls,
        )
    materials = [
        flat_material(f"furniture_{i}", c, 0.5 if i != 1 else 0.9, vary=0.6 if i == 3 else 0.0)
        for i, c in enumerate(room.palette)
    ]
    for i, b in enumerate(room.boxes):
        if b.material == PAINTING:
            mat = painting_material(f"painting_{i}", room.palette[3], float(room.seed % 1000 + i))
        else:
            mat = materials[b.material]
        box(f"box_{i}", b.centre, b.half, b.angle, mat)

    sky = emission_material("sky", room.sky, room.sky_strength)
    frame = flat_material("window_frame", (0.8, 0.8, 0.78), 0.4)
    for i, (x, z, hw, hh) in enumerate(room.windows):
        box(f"window_{i}", (x, back - 0.005, z), (hw, 0.005, hh), 0.0, sky)
        for j, (cx, cz, fw, fh) in enumerate(
            [
                (x, z + hh, hw + 0.03, 0.03),
                (x, z - hh, hw + 0.03, 0.03),
                (x - hw, z, 0.03, hh),
                (x + hw, z, 0.03, hh),
                (x, z, 0.015, hh),
                (x, z, hw, 0.015),
            ]
        ):
            box(f"window_{i}_frame_{j}", (cx, back - 0.02, cz), (fw, 0.02, fh), 0.0, frame)
        light = bpy.data.lights.new(f"window_light_{i}", "AREA")
        light.shape = "RECTANGLE"
        light.size, light.size_y = 2 * hw, 2 * hh
        light.energy = 40.0 * room.sky_strength * hw * hh
        light.color = room.sky
        obj = bpy.data.objects.new(f"window_light_{i}", light)
        obj.location = (x, back - 0.05, z)
        obj.rotation_euler = (math.pi / 2, 0.0, 0.0)  # -z (the light's axis) towards -y
        obj.visible_camera = False
        obj.parent = root
        collection.objects.link(obj)

    shade_mat = emission_material("lampshade", (1.0, 0.8, 0.55), 1.5)
    pole = flat_material("lamp_pole", (0.05, 0.05, 0.05), 0.3)
    for i, (x, y, z, watts) in enumerate(room.lamps):
        box(f"lamp_{i}_pole", (x, y, z / 2), (0.015, 0.015, z / 2), 0.0, pole)
        box(f"lamp_{i}_shade", (x, y, z + 0.1), (0.15, 0.15, 0.11), 0.0, shade_mat)
        light = bpy.data.lights.new(f"lamp_{i}", "POINT")
        light.energy = watts
        light.color = (1.0, 0.8, 0.55)
        light.shadow_soft_size = 0.1
        obj = bpy.data.objects.new(f"lamp_{i}", light)
        obj.location = (x, y, z + 0.1)
        obj.parent = root
        collection.objects.link(obj)
    light = bpy.data.lights.new("ceiling_light", "AREA")
    light.size = 1.0
    light.energy = room.ceiling_light
    obj = bpy.data.objects.new("ceiling_light", light)
    obj.location = (0.0, 0.0, h - 0.02)
    obj.visible_camera = False
    obj.parent = root
    collection.objects.link(obj)

    camera = np.array([room.camera_x, -d / 2 + _ROOM_CAMERA_SETBACK, room.camera_z])
    target = np.array([room.look_x, back, room.camera_z - 0.1])
    return RoomObjects(root=root, camera_position=camera, camera_target=target)


def place_room(
    room_objects: RoomObjects, room: RoomSpec, eye: np.ndarray, target: np.ndarray, gap: float
) -> None:
    """Move the room so that its own camera stands at `eye` looking (in plan) towards `target`,
    and push it back if needed so its back wall is at least `gap` metres behind `target`."""
    view = room_objects.camera_target - room_objects.camera_position
    yaw_room = math.atan2(view[0], view[1])
    wanted = target - eye
    yaw = math.atan2(wanted[0], wanted[1])
    spin = mathutils.Matrix.Rotation(yaw_room - yaw, 4, "Z")
    # distance from the room camera to the back wall along its plan view direction
    to_back = (room.depth / 2 - room_objects.camera_position[1]) / max(math.cos(yaw_room), 0.3)
    needed = float(np.hypot(wanted[0], wanted[1])) + gap
    push = max(0.0, needed - to_back)
    direction = np.array([math.sin(yaw), math.cos(yaw), 0.0])
    cam_world = mathutils.Vector((eye - push * direction).tolist())
    cam_room = spin @ mathutils.Vector(room_objects.camera_position.tolist())
    room_objects.root.matrix_world = mathutils.Matrix.Translation(cam_world - cam_room) @ spin


def add_room_camera(scene, room_objects: RoomObjects, room: RoomSpec) -> bpy.types.Object:
    """A still camera for a background plate: the room's own viewpoint, focused at the distance
    where a person would stand."""
    data = bpy.data.cameras.new("plate_camera")
    data.lens = room.focal_length
    data.sensor_fit = "HORIZONTAL"
    data.sensor_width = 36.0
    data.dof.use_dof = True
    data.dof.aperture_fstop = room.fstop
    data.dof.focus_distance = room.focus_distance
    obj = bpy.data.objects.new("plate_camera", data)
    scene.collection.objects.link(obj)
    eye, target = room_objects.camera_position, room_objects.camera_target
    obj.location = tuple(eye)
    obj.rotation_mode = "QUATERNION"
    obj.rotation_quaternion = mathutils.Vector((target - eye).tolist()).to_track_quat("-Z", "Y")
    scene.camera = obj
    return obj


def _box(name: str, half, collection, material) -> bpy.types.Object:
    hx, hy, hz = half
    verts = [(sx * hx, sy * hy, sz * hz) for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]
    faces = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(verts, [], faces)
    mesh.materials.append(material)
    obj = bpy.data.objects.new(name, mesh)
    collection.objects.link(obj)
    return obj
