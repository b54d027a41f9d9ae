"""Assemble and render Blender scenes for the rendered generator: Cycles settings, the person's
lights, camera and motion, and a frame render read back as a numpy array.

Needs `bpy`. One process holds one scene at a time: `new_scene()` clears everything.
Render output is Cycles' own: scene-linear Rec.709 RGBA, premultiplied by alpha.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import tempfile
from pathlib import Path

import bpy
import mathutils
import numpy as np
import OpenImageIO as oiio

from training.synthetic.blender_figure import FigureObjects, build_figure
from training.synthetic.blender_room import add_room_camera, build_room, place_room
from training.synthetic.rendered_body import HEAD_PIVOT
from training.synthetic.rendered_spec import (
    FPS,
    LightSpec,
    RenderSettings,
    RoomSpec,
    SceneSpec,
)


def new_scene(size: tuple[int, int], settings: RenderSettings) -> bpy.types.Scene:
    """An empty scene with Cycles set up for `size` (H, W)."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    cycles = scene.cycles
    cycles.device = "CPU"
    cycles.samples = settings.samples
    cycles.seed = settings.seed
    cycles.use_animated_seed = False
    cycles.use_adaptive_sampling = False
    cycles.use_denoising = settings.denoise
    cycles.max_bounces = settings.max_bounces
    cycles.diffuse_bounces = min(2, settings.max_bounces)
    cycles.glossy_bounces = min(2, settings.max_bounces)
    cycles.transmission_bounces = settings.max_bounces
    cycles.transparent_max_bounces = 8
    cycles.sample_clamp_indirect = 10.0
    cycles.pixel_filter_type = "BLACKMAN_HARRIS"
    cycles.filter_width = 1.5
    scene.cycles_curves.shape = "RIBBONS"
    scene.render.resolution_y, scene.render.resolution_x = int(size[0]), int(size[1])
    scene.render.resolution_percentage = 100
    scene.render.fps = int(FPS)
    scene.render.use_persistent_data = True
    scene.render.threads_mode = "FIXED" if settings.threads else "AUTO"
    if settings.threads:
        scene.render.threads = settings.threads
    scene.render.use_motion_blur = settings.motion_blur
    settings_img = scene.render.image_settings
    settings_img.file_format = "OPEN_EXR"
    settings_img.color_mode = "RGBA"
    settings_img.color_depth = "32"
    settings_img.exr_codec = "NONE"
    scene.world = bpy.data.worlds.new("world")
    return scene


def set_world(scene: bpy.types.Scene, colour, strength: float) -> None:
    tree = scene.world.node_tree
    tree.nodes.clear()
    bg = tree.nodes.new("ShaderNodeBackground")
    bg.inputs["Color"].default_value = (*colour, 1.0)
    bg.inputs["Strength"].default_value = strength
    out = tree.nodes.new("ShaderNodeOutputWorld")
    tree.links.new(bg.outputs[0], out.inputs["Surface"])


def head_top(spec: SceneSpec) -> float:
    """World z of the top of the head (with hair) at rest."""
    fig = spec.figure
    crown = -HEAD_PIVOT[2] + 0.01 + fig.head.height
    return fig.height + fig.body.neck_length + crown + fig.hair.volume + 0.01


def camera_rest(spec: SceneSpec, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Camera position and the point it looks at, at rest, in world coordinates."""
    cam = spec.camera
    h, w = size
    sensor_h = 36.0 * h / w
    distance = cam.frame_height * cam.focal_length / sensor_h
    frame_w = cam.frame_height * w / h
    aim_z = head_top(spec) + cam.headroom * cam.frame_height - cam.frame_height / 2
    x = -cam.offset * frame_w
    eye = np.array([x, -distance, spec.figure.height + cam.height])
    return eye, np.array([x, 0.0, aim_z])


def add_camera(scene, spec: SceneSpec, size: tuple[int, int], frames: range) -> bpy.types.Object:
    """The clip's camera with its motion keyed on every frame of `frames` (plus one each side for
    motion blur), depth of field focused on the eyes (plus the spec's focus offset)."""
    cam_spec, motion = spec.camera, spec.motion
    data = bpy.data.cameras.new("camera")
    data.lens = cam_spec.focal_length
    data.sensor_fit = "HORIZONTAL"
    data.sensor_width = 36.0
    data.clip_start = 0.05
    data.clip_end = 100.0
    eye, target = camera_rest(spec, size)
    eyes_z = spec.figure.height + spec.figure.body.neck_length - HEAD_PIVOT[2]
    data.dof.use_dof = True
    data.dof.aperture_fstop = cam_spec.fstop
    data.dof.focus_distance = max(
        0.2, float(np.linalg.norm(np.array([0.0, -0.09, eyes_z]) - eye)) + cam_spec.focus_offset
    )
    obj = bpy.data.objects.new("camera", data)
    scene.collection.objects.link(obj)
    scene.camera = obj
    scene.render.motion_blur_shutter = motion.shutter
    base = _look_at(eye, target, cam_spec.roll)
    for f in range(frames.start - 1, frames.stop + 1):
        t = f / FPS
        mx, mz, pan, tilt, dolly = (w(t) for w in motion.camera)
        rot = base @ mathutils.Euler((tilt, pan, 0.0), "XYZ").to_matrix()
        forward = np.array(rot.col[2]) * -1.0
        right = np.array(rot.col[0])
        up = np.array(rot.col[1])
        pos = eye + mx * right + mz * up + dolly * forward
        obj.location = tuple(pos)
        obj.rotation_mode = "QUATERNION"
        obj.rotation_quaternion = rot.to_quaternion()
        obj.keyframe_insert("location", frame=f)
        obj.keyframe_insert("rotation_quaternion", frame=f)
    return obj


def _look_at(eye: np.ndarray, target: np.ndarray, roll: float) -> mathutils.Matrix:
    direction = mathutils.Vector((target - eye).tolist())
    rot = direction.to_track_quat("-Z", "Y").to_matrix()
    return rot @ mathutils.Matrix.Rotation(roll, 3, "Z")


def animate_figure(objects: FigureObjects, spec: SceneSpec, frames: range) -> None:
    """Key the body's sway and turn and the head's turn, nod and tilt on every frame."""
    motion, height = spec.motion, spec.figure.height
    body, head = objects.body, objects.head
    for f in range(frames.start - 1, frames.stop + 1):
        t = f / FPS
        bx, bz, turn = (w(t) for w in motion.body)
        yaw, nod, tilt = (w(t) for w in motion.head)
        body.location = (bx, 0.0, height + bz)
        body.rotation_euler = (0.0, 0.0, turn)
        head.rotation_euler = (nod, tilt, yaw)
        body.keyframe_insert("location", frame=f)
        body.keyframe_insert("rotation_euler", frame=f)
        head.keyframe_insert("rotation_euler", frame=f)


def add_person_lights(scene, spec: SceneSpec, strength: float = 1.0) -> None:
    """Key, fill and rim area lights aimed at the head; `strength` scales their power."""
    target = np.array([0.0, 0.0, head_top(spec) - 0.15])
    for name, light in (
        ("key", spec.lighting.key),
        ("fill", spec.lighting.fill),
        ("rim", spec.lighting.rim),
    ):
        _area_light(scene, name, light, target, strength)


def _area_light(scene, name: str, light: LightSpec, target: np.ndarray, strength: float) -> None:
    data = bpy.data.lights.new(name, "AREA")
    data.shape = "DISK"
    data.size = light.size
    data.energy = light.power * strength
    data.color = light.colour
    # azimuth 0 is the camera side (-y); positive goes to camera right (+x)
    direction = np.array(
        [
            math.sin(light.azimuth) * math.cos(light.elevation),
            -math.cos(light.azimuth) * math.cos(light.elevation),
            math.sin(light.elevation),
        ]
    )
    pos = target + light.distance * direction
    obj = bpy.data.objects.new(name, data)
    obj.location = tuple(pos)
    obj.rotation_mode = "QUATERNION"
    obj.rotation_quaternion = mathutils.Vector((-direction).tolist()).to_track_quat("-Z", "Y")
    scene.collection.objects.link(obj)


@contextlib.contextmanager
def _quiet_stdout():
    """Silence Blender's per-frame progress and 'Saved:' lines, which it prints from C."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def render_frame(scene: bpy.types.Scene, frame: int, transparent: bool) -> np.ndarray:
    """Render `frame`: (H, W, 4) float32 scene-linear RGBA, premultiplied (alpha 1 everywhere
    when not `transparent`)."""
    scene.render.film_transparent = transparent
    scene.frame_set(frame)
    with tempfile.TemporaryDirectory(prefix="memmatte_render_") as tmp:
        path = Path(tmp) / "frame.exr"
        scene.render.filepath = str(path)
        with _quiet_stdout():
            bpy.ops.render.render(write_still=True)
        image = oiio.ImageBuf(str(path))
        pixels = image.get_pixels(oiio.FLOAT)
    if pixels is None or pixels.shape[2] < 4:
        raise RuntimeError(f"Cycles wrote no RGBA image for frame {frame}")
    return np.ascontiguousarray(pixels[..., :4], np.float32)


def build_clip_scene(
    spec: SceneSpec, size: tuple[int, int], settings: RenderSettings, frames: range
) -> FigureObjects:
    """A fresh scene holding the clip's person, lights, world and animated camera."""
    scene = new_scene(size, settings)
    objects = build_figure(
        spec.figure,
        scene.collection,
        strand_scale=settings.strand_scale,
        resolution=settings.resolution,
    )
    set_world(scene, spec.lighting.world_colour, spec.lighting.world_strength)
    add_person_lights(scene, spec)
    add_camera(scene, spec, size, frames)
    animate_figure(objects, spec, frames)
    return objects


def build_room_scene(
    room: RoomSpec,
    size: tuple[int, int],
    settings: RenderSettings,
    spec: SceneSpec | None = None,
    frames: range | None = None,
) -> None:
    """A fresh scene holding a room: seen from its own still camera, or, given a clip `spec`,
    through that clip's animated camera with the room placed behind where the person stands."""
    scene = new_scene(size, settings)
    set_world(scene, (0.8, 0.85, 1.0), 0.05)
    objects = build_room(room, scene.collection)
    if spec is None:
        add_room_camera(scene, objects, room)
        return
    add_camera(scene, spec, size, frames or range(1))
    eye, target = camera_rest(spec, size)
    place_room(objects, room, eye, target, gap=room_gap(room))


def room_gap(room: RoomSpec) -> float:
    """How far behind the person a room's back wall stands (metres)."""
    return 0.8 + 0.3 * room.focus_distance
