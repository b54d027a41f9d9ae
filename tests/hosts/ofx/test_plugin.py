"""The Memmatte OpenFX plug-in, driven by the minimal ctypes host (hosts/ofx/minihost.py)."""

import random
import shutil
import threading

import numpy as np
import pytest

from core import MattingSession
from hosts.ofx.facts import PROPERTY_NAMES, ofx
from hosts.ofx.minihost import (
    COMPONENTS_OF,
    FAILED,
    FILTER,
    GENERAL,
    OK,
    OPAQUE,
    OUTPUT,
    PREMULTIPLIED,
    UNPREMULTIPLIED,
    Layout,
)

MATTE_AS_ALPHA, FOREGROUND_PREMULTIPLIED, ALPHA_ONLY = 0, 1, 2


def _session(checkpoint, frames, ratio="auto"):
    rgb = [f[..., :3] for f in frames]
    return list(MattingSession(rgb, weights=checkpoint, device="cpu", downsample_ratio=ratio))


def _effect(host, frames, model, **kwargs):
    params = {"model": str(model), **kwargs.pop("params", {})}
    return host.instance(frames, params=params, **kwargs)


def test_describes_a_keyer_with_its_contexts_depths_and_icon(host, bundle):
    assert host.status_load == OK and host.status_describe == OK
    assert host.plugin.pluginApi == b"OfxImageEffectPluginAPI" and host.plugin.apiVersion == 1
    props = host.descriptor.props.values
    assert props["OfxPropLabel"] == ["Memmatte"]
    assert props["OfxImageEffectPluginPropGrouping"] == ["Keyer"]
    assert props["OfxImageEffectPropSupportedContexts"] == [FILTER, GENERAL]
    assert props["OfxImageEffectPropSupportedPixelDepths"] == [
        "OfxBitDepthByte", "OfxBitDepthShort", "OfxBitDepthFloat",
    ]  # fmt: skip
    assert props["OfxImageEffectPropTemporalClipAccess"] == [1]
    assert props["OfxImageEffectPluginRenderThreadSafety"] == ["OfxImageEffectRenderFullySafe"]
    icon = bundle / "Contents" / "Resources" / f"{host.identifier}.png"
    assert icon.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("context", [FILTER, GENERAL])
def test_describe_in_context_defines_source_output_and_params(host, context):
    status, node = host.describe_in_context(context)
    assert status == OK
    assert set(node.clips) == {"Source", "Output"}
    assert node.clips["Source"].values["OfxImageEffectPropTemporalClipAccess"] == [1]
    output = node.params["output"].props.values["OfxParamPropChoiceOption"]
    assert output == ["Matte as alpha", "Foreground premultiplied", "Alpha only"]
    assert node.params["downsampleRatio"].props.get("OfxParamPropDefault") == 0.0  # auto
    assert node.params["model"].props.get("OfxParamPropStringMode") == "OfxParamStringIsFilePath"


@pytest.mark.parametrize(
    ("first", "time", "expected"),
    [(0, 0, (0, 0)), (0, 1, (0, 1)), (0, 4, (2, 4)), (1001, 1001, (1001, 1001)),
     (1001, 1002, (1001, 1002)), (1001, 1005, (1003, 1005))],
)  # fmt: skip
def test_frames_needed_are_t_minus_2_to_t_clamped_at_the_first_frame(
    host, clip, model, first, time, expected
):
    effect = _effect(host, clip, model, first=first)
    assert effect.status_create == OK
    assert effect.frames_needed(time) == (OK, [expected])


def test_frames_in_any_order_from_two_threads_match_the_session(host, clip, model, checkpoint):
    reference = _session(checkpoint, clip)
    effect = _effect(host, clip, model, first=1001, params={"output": ALPHA_ONLY})
    order = list(range(len(clip)))
    random.Random(5).shuffle(order)
    results, errors = {}, []

    def render(indices):
        for i in indices:
            status, rgba = effect.render(1001 + i)
            if status != OK:
                errors.append((i, status))
            results[i] = rgba

    threads = [threading.Thread(target=render, args=(order[k::2],)) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and sorted(results) == list(range(len(clip)))
    for i, rgba in results.items():
        assert reference[i].alpha.std() > 0.01  # a matte with structure, not a constant
        for c in range(4):
            assert np.abs(rgba[..., c] - reference[i].alpha).max() <= 1e-4, (i, c)
    assert not host.images, "every fetched image was released"


def test_each_frame_fetches_only_t_minus_2_to_t(host, clip, model):
    effect = _effect(host, clip, model, first=10, params={"output": ALPHA_ONLY})
    for time, sources in [(10, {10}), (11, {10, 11}), (14, {12, 13, 14})]:
        host.fetches.clear()
        assert effect.render(time)[0] == OK
        fetched = {t for name, t in host.fetches if name == "Source"}
        assert fetched == sources


@pytest.mark.parametrize("ratio", [0.0, 0.5])
def test_output_modes(host, clip, model, checkpoint, ratio):
    reference = _session(checkpoint, clip, "auto" if ratio == 0 else ratio)
    t = 3
    effect = _effect(host, clip, model, params={"downsampleRatio": ratio})
    effect.set("output", MATTE_AS_ALPHA)
    status, rgba = effect.render(t)
    assert status == OK
    assert np.array_equal(rgba[..., :3], clip[t][..., :3])
    assert np.abs(rgba[..., 3] - reference[t].alpha).max() <= 1e-4
    effect.set("output", FOREGROUND_PREMULTIPLIED)
    status, rgba = effect.render(t)
    assert np.abs(rgba[..., :3] - reference[t].premultiplied()).max() <= 1e-4
    assert np.abs(rgba[..., 3] - reference[t].alpha).max() <= 1e-4


@pytest.mark.parametrize(("dtype", "scale"), [(np.uint8, 255), (np.uint16, 65535)])
def test_integer_images(host, clip, model, checkpoint, dtype, scale):
    frames = [np.round(f * scale).astype(dtype) for f in clip]
    reference = _session(checkpoint, frames)
    effect = _effect(host, frames, model, params={"output": FOREGROUND_PREMULTIPLIED})
    status, rgba = effect.render(2)
    assert status == OK and rgba.dtype == dtype
    # The plug-in's float result rounds to the nearest code value.
    tolerance = 0.5 / scale + 1e-4
    assert np.abs(rgba[..., 3] / scale - reference[2].alpha).max() <= tolerance
    assert np.abs(rgba[..., :3] / scale - reference[2].premultiplied()).max() <= tolerance


@pytest.mark.parametrize(
    "layout",
    [Layout(top_down=True), Layout(padding=12), Layout(top_down=True, padding=4, origin=(-7, 30))],
)
def test_row_bytes_and_bounds_do_not_change_the_result(host, clip, model, layout):
    plain = _effect(host, clip, model).render(4)
    other = _effect(host, clip, model, layout=layout).render(4)
    assert plain[0] == other[0] == OK
    assert np.array_equal(plain[1], other[1])


def test_rgb_source(host, clip, model):
    rgb = [np.ascontiguousarray(f[..., :3]) for f in clip]
    assert np.array_equal(
        _effect(host, rgb, model).render(1)[1], _effect(host, clip, model).render(1)[1]
    )


def test_render_window_writes_only_inside_it(host, clip, model):
    effect = _effect(host, clip, model)
    full = effect.render(3)[1]
    # OpenFX windows are (x1, y1, x2, y2) with y up: rows 8..19 from the bottom.
    status, part = effect.render(3, window=(5, 8, 40, 20))
    assert status == OK
    rows = slice(48 - 20, 48 - 8)
    assert np.array_equal(part[rows, 5:40], full[rows, 5:40])
    outside = np.ones(part.shape[:2], bool)
    outside[rows, 5:40] = False
    assert np.isnan(part[outside]).all()


def test_zero_sized_window_renders_nothing(host, clip, model):
    effect = _effect(host, clip, model)
    host.fetches.clear()
    status, rgba = effect.render(3, window=(10, 10, 10, 30))
    assert status == OK
    assert host.fetches == []
    assert np.isnan(rgba).all()


def test_half_float_is_refused_with_a_message(host, clip, model):
    effect = _effect(host, [f.astype(np.float16) for f in clip], model)
    host.messages.clear()
    status, _ = effect.render(2)
    assert status == FAILED
    assert host.messages[-1][0] == "OfxMessageError"
    assert "OfxBitDepthHalf" in host.messages[-1][1]
    assert not host.images


def test_missing_weights_fail_the_render_with_a_message(host, clip, tmp_path, monkeypatch):
    missing = tmp_path / "nowhere.pt"
    effect = _effect(host, clip, missing)
    host.messages.clear()
    assert effect.render(0)[0] == FAILED
    assert host.messages[-1] == ("OfxMessageError", f"Memmatte: no model file at {missing}")
    monkeypatch.delenv("MEMMATTE_OFX_MODEL", raising=False)
    effect.set("model", "")
    assert effect.render(0)[0] == FAILED
    assert "MEMMATTE_OFX_MODEL" in host.messages[-1][1]


def test_model_from_the_environment(host, clip, model, monkeypatch):
    monkeypatch.setenv("MEMMATTE_OFX_MODEL", str(model))
    by_env = _effect(host, clip, "").render(5)
    by_param = _effect(host, clip, model).render(5)
    assert by_env[0] == OK and np.array_equal(by_env[1], by_param[1])


def test_fixed_size_export_is_explained(host, clip, network, tmp_path):
    from core.export import export

    fixed = export(
        network, tmp_path / "fixed.pt", fmt="torchscript", height=48, width=64, ratio=1.0
    )
    host.messages.clear()
    assert _effect(host, clip, fixed).render(1)[0] == FAILED
    assert "--flexible" in host.messages[-1][1]


def test_scene_linear_source(host, clip, model, checkpoint):
    def to_linear(v):
        return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4).astype(np.float32)

    linear = [to_linear(f) for f in clip]
    reference = _session(checkpoint, clip)
    effect = _effect(host, linear, model, params={"colourSpace": 1, "output": 1})
    status, rgba = effect.render(2)
    assert status == OK
    assert np.abs(rgba[..., 3] - reference[2].alpha).max() <= 1e-4
    expected = to_linear(reference[2].foreground) * reference[2].alpha[..., None]
    assert np.abs(rgba[..., :3] - expected).max() <= 1e-4


def test_missing_runtime_fails_the_render_with_a_message(bundle, clip, model, tmp_path):
    from hosts.ofx.minihost import MiniHost

    copy = shutil.copytree(bundle, tmp_path / "Memmatte.ofx.bundle")
    (copy / "Contents" / "Linux-x86-64" / "libmemmatte_runtime.so").unlink()
    host = MiniHost(copy)
    assert host.status_describe == OK
    assert _effect(host, clip, model).render(0)[0] == FAILED
    assert "inference runtime" in host.messages[-1][1]


def test_a_file_that_is_not_torchscript_fails_with_a_message(host, clip, tmp_path):
    bad = tmp_path / "weights.safetensors"
    bad.write_bytes(b"not a TorchScript archive")
    host.messages.clear()
    assert _effect(host, clip, bad).render(0)[0] == FAILED
    assert f"cannot load the TorchScript model {bad}" in host.messages[-1][1]


def test_unaligned_rows_of_16_bit_images(host, clip, model):
    frames = [np.round(f * 65535).astype(np.uint16) for f in clip]
    plain = _effect(host, frames, model).render(2)
    odd = _effect(host, frames, model, layout=Layout(top_down=True, padding=3)).render(2)
    assert plain[0] == odd[0] == OK
    assert np.array_equal(plain[1], odd[1])


def _fresh_host(bundle, tmp_path, **options):
    """A second host on a copy of the bundle (a copy loads as its own library, so the
    session's host keeps its suites)."""
    from hosts.ofx.minihost import MiniHost

    return MiniHost(shutil.copytree(bundle, tmp_path / "Memmatte.ofx.bundle"), **options)


def test_describe_sets_only_properties_a_strict_host_knows(bundle, tmp_path):
    host = _fresh_host(bundle, tmp_path)
    assert host.status_describe == OK
    status, _ = host.describe_in_context(GENERAL)
    assert status == OK
    assert host.messages == []  # no property set failed
    assert set(host.descriptor.props.values) <= PROPERTY_NAMES
    depths = host.descriptor.props.values[ofx.kOfxImageEffectPropSupportsMultipleClipDepths]
    assert depths == [0]


def test_describe_reports_a_property_the_host_refuses_and_goes_on(bundle, tmp_path):
    refused = ofx.kOfxImageEffectPropSupportsMultipleClipDepths
    host = _fresh_host(bundle, tmp_path, refuse={refused})
    assert host.status_describe == OK
    assert host.messages == [
        (
            ofx.kOfxMessageLog,
            f"Memmatte: OfxActionDescribe: setting {refused} on the effect descriptor failed "
            "(kOfxStatErrUnknown)",
        )
    ]
    assert host.descriptor.props.values[ofx.kOfxPropLabel] == ["Memmatte"]


def test_describe_in_context_fails_with_a_message_when_a_clip_cannot_be_defined(bundle, tmp_path):
    host = _fresh_host(bundle, tmp_path, failing={"clipDefine"})
    status, _ = host.describe_in_context(FILTER)
    assert status == FAILED
    text = "OfxImageEffectActionDescribeInContext: clipDefine Source failed (kOfxStatFailed)"
    assert host.messages[-2:] == [
        (ofx.kOfxMessageLog, f"Memmatte: {text}"),  # the host's log
        (ofx.kOfxMessageError, f"Memmatte: {text}"),  # shown to the user
    ]


@pytest.mark.parametrize(
    ("mode", "expected"),
    [(MATTE_AS_ALPHA, UNPREMULTIPLIED), (FOREGROUND_PREMULTIPLIED, PREMULTIPLIED),
     (ALPHA_ONLY, PREMULTIPLIED)],
)  # fmt: skip
def test_output_clip_declares_its_premultiplication(host, clip, model, mode, expected):
    effect = _effect(host, clip, model, params={"output": mode})
    status, out = effect.clip_preferences()
    assert status == OK
    assert out.values[ofx.kOfxImageEffectPropPreMultiplication] == [expected]
    assert out.values[COMPONENTS_OF + OUTPUT] == [ofx.kOfxImageComponentRGBA]


@pytest.mark.parametrize("mode", [MATTE_AS_ALPHA, FOREGROUND_PREMULTIPLIED])
def test_a_premultiplied_source_is_unpremultiplied_before_matting(host, clip, model, mode):
    # Straight colour under a source alpha in [0.25, 1]; the same pixels premultiplied.
    straight = [np.concatenate([f[..., :3], 0.25 + 0.75 * f[..., 3:]], axis=-1) for f in clip]
    premultiplied = [np.concatenate([f[..., :3] * f[..., 3:], f[..., 3:]], -1) for f in straight]
    params = {"output": mode}
    plain = _effect(host, straight, model, params=params).render(3)
    premult = _effect(
        host, premultiplied, model, params=params, premultiplication=PREMULTIPLIED
    ).render(3)
    assert plain[0] == premult[0] == OK
    assert np.abs(premult[1] - plain[1]).max() <= 1e-5
    if mode == MATTE_AS_ALPHA:
        assert np.abs(premult[1][..., :3] - straight[3][..., :3]).max() <= 1e-6


def test_an_opaque_or_unpremultiplied_source_is_used_as_it_is(host, clip, model):
    plain = _effect(host, clip, model).render(2)
    opaque = _effect(host, clip, model, premultiplication=OPAQUE).render(2)
    assert plain[0] == opaque[0] == OK
    assert np.array_equal(plain[1], opaque[1])
