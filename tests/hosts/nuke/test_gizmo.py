"""Structural checks of Memmatte.gizmo: it parses, uses real node classes and knob types, and
its graph feeds the Inference node frames t-2, t-1, t in the exported model's channel order."""

from __future__ import annotations

import re
import types
from pathlib import Path

import pytest

from tests.hosts.nuke.nkscript import Gizmo, NkSyntaxError, Node, parse_gizmo, tokenize

NUKE_DIR = Path(__file__).parents[3] / "hosts" / "nuke"
DOCS = Path(__file__).parents[3] / "docs" / "hosts" / "nuke.md"

# Classes that exist in Nuke 13-16: checked against Foundry's reference guide and the
# Cattery gizmos Foundry ships (which use Input, Dot, Assert, OCIOColorSpace, TimeOffset,
# Shuffle2, Inference, Grade, Remove, Switch, Output).
NUKE_CLASSES = {
    "Input", "Output", "Dot", "NoOp", "Switch", "Assert",
    "TimeOffset", "FrameHold", "TimeWarp",
    "Shuffle", "Shuffle2", "Copy", "Remove",
    "Colorspace", "OCIOColorSpace", "Clamp", "Grade",
    "Premult", "Unpremult", "Merge2",
    "Inference",
}  # fmt: skip

# NDK knob IDs: 1 string, 2 file, 3 int, 4 pulldown, 6 checkbox, 7 float, 20 tab,
# 22 Python button, 26 text, 41 link.
KNOB_TYPES = {1, 2, 3, 4, 6, 7, 20, 22, 26, 41}

# Knobs every node (and so the gizmo itself) has.
NODE_KNOBS = {"inputs", "name", "label", "help", "tile_color", "note_font", "xpos", "ypos"}


@pytest.fixture(scope="module")
def gizmo() -> Gizmo:
    return parse_gizmo((NUKE_DIR / "Memmatte.gizmo").read_text())


# -- the reader itself -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, message",
    [
        ("Gizmo {\n Input { name A }\n", "unbalanced '{'"),
        ("Gizmo { }\n}\n", "unbalanced '}'"),
        ('Gizmo {\n help "a } b"\n}\n', "unterminated string"),  # braces ignore quotes
        ('Gizmo { }\n label "no end\n', "unterminated string"),
    ],
)
def test_reader_refuses_unbalanced_text(text, message):
    with pytest.raises(NkSyntaxError, match=message):
        tokenize(text)


def test_reader_keeps_escaped_braces_inside_expressions():
    (command,) = tokenize(r'knob {{"a \{b\} \[c]"}}')
    assert [t.kind for t in command] == ["word", "braces"]
    node = Node("X", {"knob": command[1]}, 1)
    assert node.expression("knob") == "a {b} [c]"


def test_reader_pops_inputs_from_the_top_of_the_stack():
    text = (
        "version 14.0\nGizmo {\n}\n Input {\n  inputs 0\n  name B\n }\nset NB [stack 0]\n"
        " Input {\n  inputs 0\n  name A\n }\npush $NB\n Copy {\n  inputs 2\n  name C\n }\n"
        " Output {\n  name Out\n }\nend_group\n"
    )
    g = parse_gizmo(text)
    assert [n.name for n in g.node("C").inputs] == ["B", "A"]
    assert g.output.inputs[0].name == "C"


# -- the gizmo's text ----------------------------------------------------------------------


def test_gizmo_is_a_group_of_real_nuke_nodes(gizmo):
    assert gizmo.version == "13.1 v1", "opens in Nuke 13.1+, like Foundry's Cattery gizmos"
    unknown = {n.cls for n in gizmo.nodes} - NUKE_CLASSES
    assert not unknown, f"not Nuke node classes: {unknown}"
    assert len(gizmo.of_class("Input")) == 1 and gizmo.knobs["inputs"].text == "1"
    assert len({n.name for n in gizmo.nodes}) == len(gizmo.nodes), "node names must be unique"


def test_user_knobs_have_valid_types_and_unique_names(gizmo):
    names = [k.name for k in gizmo.user_knobs]
    assert len(set(names)) == len(names)
    for knob in gizmo.user_knobs:
        assert knob.type in KNOB_TYPES, f"{knob.name}: knob type {knob.type}"
    assert gizmo.user_knobs[0].type == 20, "the first user knob must be a tab"
    types_by_name = {k.name: k.type for k in gizmo.user_knobs}
    assert types_by_name["python"] == 1
    assert types_by_name["matte_file"] == 2
    assert types_by_name["render_matte"] == 22
    assert types_by_name["output"] == 4
    assert types_by_name["shot_first"] == 3
    assert gizmo.user_knob("output").flags["M"].split() == ["foreground", "plate"]


def test_gizmo_values_and_expressions_name_existing_knobs(gizmo):
    user = {k.name for k in gizmo.user_knobs}
    assert set(gizmo.knobs) - NODE_KNOBS <= user
    for node in gizmo.nodes:
        for token in node.knobs.values():
            for ref in re.findall(r"parent\.(\w+)", token.text):
                assert ref in user, f"{node.name} refers to missing knob parent.{ref}"
    for knob in gizmo.user_knobs:
        if knob.type == 41:
            node_name, knob_name = knob.flags["T"].split(".")
            assert knob_name in gizmo.node(node_name).knobs


def test_render_button_calls_the_nuke_ui_module(gizmo, memmatte_nuke):
    script = gizmo.user_knob("render_matte").flags["T"]
    compile(script, "render_matte", "exec")
    called = re.search(r"memmatte_nuke\.nuke_ui\.(\w+)\(nuke\.thisNode\(\)\)", script).group(1)
    source = (NUKE_DIR / "memmatte_nuke" / "nuke_ui.py").read_text()
    assert f"def {called}(node" in source


def test_inference_runs_the_cat_made_from_the_export(gizmo, memmatte_nuke):
    (inference,) = gizmo.of_class("Inference")
    model_file = inference.value("modelFile")
    assert memmatte_nuke.CAT_FILE in model_file
    assert model_file.endswith("*.cat]"), "looked up on the plugin path, like Foundry's Cattery"
    assert gizmo.user_knob("modelFile").flags["T"] == f"{inference.name}.modelFile"
    docs = DOCS.read_text()
    assert "python -m core.export --format torchscript" in docs
    assert memmatte_nuke.CAT_FILE in docs
    assert ", ".join(memmatte_nuke.CHANNELS_IN) in docs
    assert ", ".join(memmatte_nuke.CHANNELS_OUT) in docs


# -- the gizmo's graph ---------------------------------------------------------------------


def _evaluate(expr: str, knobs: dict[str, float], frame: int, first_frame: int) -> float:
    """A Nuke expression of this gizmo's subset: parent.knob, frame, !, ?:, max(), [python]."""

    fake_nuke = types.SimpleNamespace(
        toNode=lambda name: (
            types.SimpleNamespace(firstFrame=lambda: first_frame) if name == "Input1" else None
        )
    )

    def python(m):
        return str(eval(m.group(1), {"nuke": fake_nuke}))

    expr = re.sub(r"\[python \{(.*?)\}\]", python, expr)
    expr = re.sub(r"parent\.(\w+)", lambda m: str(knobs[m.group(1)]), expr)
    expr = re.sub(r"([\w.]+) \? ([\w.]+) : ([\w.]+)", r"(\2 if \1 else \3)", expr)
    expr = re.sub(r"!(?!=)", " not ", expr)
    return eval(expr, {"max": max, "frame": frame})


def _disabled(node: Node, knobs: dict) -> bool:
    expr = node.expression("disable")
    if expr is not None:
        return bool(_evaluate(expr, knobs, 0, 0))
    return node.value("disable", "false") == "true"


def _trace(node: Node, channel: str, frame: int, knobs: dict, first: int, path=()):
    """Where ``channel`` of ``node`` at ``frame`` comes from: (source, channel, frame, path)
    where source is the Input or Inference node."""
    path = (*path, node.name)
    if node.cls in ("Input", "Inference"):
        return node, channel, frame, path
    if _disabled(node, knobs):
        return _trace(node.inputs[0], channel, frame, knobs, first, path)
    if node.cls == "Copy":
        for i in range(4):
            if node.value(f"to{i}") == channel:
                return _trace(node.inputs[1], node.value(f"from{i}"), frame, knobs, first, path)
        return _trace(node.inputs[0], channel, frame, knobs, first, path)
    if node.cls == "TimeOffset":
        frame -= int(node.value("time_offset"))  # a positive offset shows earlier input frames
    if node.cls == "FrameHold":
        assert node.value("increment", "0") == "0"
        frame = int(_evaluate(node.expression("first_frame"), knobs, frame, first))
    return _trace(node.inputs[0], channel, frame, knobs, first, path)


DEFAULTS = {
    "input_linear": 1,
    "set_shot_first": 0,
    "shot_first": 1001,
    "output": 0,
    "premultiply": 1,
    "useGPUIfAvailable": 1,
    "halfPrecision": 0,
}


def test_gizmo_defaults_are_the_ones_the_graph_tests_assume(gizmo):
    assert gizmo.knobs["input_linear"].text == "true"
    assert gizmo.knobs["premultiply"].text == "true"
    assert "set_shot_first" not in gizmo.knobs  # off
    assert "output" not in gizmo.knobs  # first entry: foreground


def test_time_offsets_fetch_the_two_previous_frames(gizmo):
    offsets = sorted(int(n.value("time_offset")) for n in gizmo.of_class("TimeOffset"))
    # Nuke's TimeOffset shows input frame t - time_offset at frame t: +2 and +1 fetch t-2, t-1.
    assert offsets == [1, 2]
    for node in gizmo.of_class("TimeOffset"):
        assert node.inputs[0].cls == "FrameHold", "previous frames are held at the shot start"


def test_inference_input_is_frames_t2_t1_t_in_the_models_channel_order(gizmo, memmatte_nuke):
    (inference,) = gizmo.of_class("Inference")
    (plate,) = gizmo.of_class("Input")
    t = 1010
    for k, channel in enumerate(memmatte_nuke.CHANNELS_IN):
        source, source_channel, frame, path = _trace(
            inference.inputs[0], channel, t, DEFAULTS, first=1001
        )
        assert source is plate
        assert source_channel == ("rgba.red", "rgba.green", "rgba.blue")[k % 3]
        assert frame == t - 2 + k // 3, f"{channel} carries frame {frame}"
        assert {"ToSRGB", "ClampRGB", "HoldShotStart"} <= set(path)
    assert memmatte_nuke.FRAME_CHANNELS[-2] == memmatte_nuke.CHANNELS_IN[:3]


@pytest.mark.parametrize(
    "t, knobs, expected",
    [
        (1001, {}, [1001, 1001, 1001]),  # the first frame stands in for t-2 and t-1
        (1002, {}, [1001, 1001, 1002]),
        (1003, {}, [1001, 1002, 1003]),
        (1040, {}, [1038, 1039, 1040]),
        (1021, {"set_shot_first": 1, "shot_first": 1020}, [1020, 1020, 1021]),
    ],
)
def test_frames_before_the_shot_are_its_first_frame(gizmo, memmatte_nuke, t, knobs, expected):
    (inference,) = gizmo.of_class("Inference")
    knobs = {**DEFAULTS, **knobs}
    frames = [
        _trace(inference.inputs[0], memmatte_nuke.FRAME_CHANNELS[k][0], t, knobs, first=1001)[2]
        for k in (-2, -1, 0)
    ]
    assert frames == expected


@pytest.mark.parametrize("output, rgb_source", [(0, "Inference"), (1, "Input")])
def test_output_is_the_matte_in_alpha_with_foreground_or_plate_colour(
    gizmo, memmatte_nuke, output, rgb_source
):
    knobs = {**DEFAULTS, "output": output}
    assert gizmo.output.inputs[0].cls == "Premult"
    source, channel, frame, path = _trace(gizmo.output, "rgba.alpha", 1005, knobs, 1001)
    assert (source.cls, channel, frame) == ("Inference", "rgba.alpha", 1005)
    rgb = ("rgba.red", "rgba.green", "rgba.blue")
    for out, model_channel in zip(rgb, memmatte_nuke.CHANNELS_OUT[:3], strict=True):
        source, channel, frame, path = _trace(gizmo.output, out, 1005, knobs, 1001)
        assert (source.cls, channel, frame) == (rgb_source, model_channel, 1005)
        if rgb_source == "Inference":
            assert "ToLinear" in path, "the foreground goes back to scene-linear"


def test_colour_conversion_is_linear_to_srgb_and_back(gizmo):
    to_srgb, to_linear = gizmo.node("ToSRGB"), gizmo.node("ToLinear")
    assert to_srgb.cls == to_linear.cls == "Colorspace"
    assert to_srgb.value("colorspace_in", "linear") == "linear"
    assert to_srgb.value("colorspace_out") == "sRGB"
    assert to_linear.value("colorspace_in") == "sRGB"
    assert to_linear.value("colorspace_out", "linear") == "linear"
    assert gizmo.node("ClampRGB").value("channels") == "rgb"
    knobs_off = {**DEFAULTS, "input_linear": 0}
    assert _disabled(to_srgb, knobs_off) and _disabled(to_linear, knobs_off)
    assert not _disabled(to_srgb, DEFAULTS)
    assert _disabled(gizmo.node("Premult1"), {**DEFAULTS, "premultiply": 0})


def test_inference_moves_the_model_where_the_export_is_tested_to_go(gizmo):
    """*Use GPU if available* (on by default) puts the model on the GPU and *optimize for
    speed and memory* (off by default) in half precision: the export is tested to follow
    both (tests/core/test_export.py on the CPU in half, benchmarks/gpu_check.py on CUDA in
    float32 and half)."""
    (inference,) = gizmo.of_class("Inference")
    assert inference.expression("useGPUIfAvailable") == "parent.useGPUIfAvailable"
    assert inference.expression("halfPrecision") == "parent.halfPrecision"
    assert gizmo.knobs["useGPUIfAvailable"].text == "true"
    assert "halfPrecision" not in gizmo.knobs  # off
    root = NUKE_DIR.parents[1]
    tests = (root / "tests" / "core" / "test_export.py").read_text()
    assert "def test_torchscript_moves_as_nukes_inference_node_moves_it" in tests
    assert "torch.half" in tests
    gpu_check = (root / "benchmarks" / "gpu_check.py").read_text()
    assert "module = torch.jit.load(str(path)).to(device)" in gpu_check
    assert "torch.float16" in gpu_check
