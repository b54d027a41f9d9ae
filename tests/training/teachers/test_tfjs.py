"""The TF.js graph-model reader on small models written by the tests."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from training.teachers.tfjs import TfjsFormatError, read_model, read_weights, to_torch


def write_model(
    folder: Path,
    groups: list[list[tuple[dict, bytes]]],
    *,
    shards_per_group: int = 1,
    nodes: list[dict] | None = None,
) -> Path:
    """model.json + shards: each group's bytes are cut into ``shards_per_group`` files."""
    manifest = []
    for g, group in enumerate(groups):
        data = b"".join(raw for _, raw in group)
        cuts = np.linspace(0, len(data), shards_per_group + 1).astype(int)
        paths = []
        for s in range(shards_per_group):
            name = f"group{g + 1}-shard{s + 1}of{shards_per_group}.bin"
            (folder / name).write_bytes(data[cuts[s] : cuts[s + 1]])
            paths.append(name)
        manifest.append({"paths": paths, "weights": [entry for entry, _ in group]})
    spec = {
        "format": "graph-model",
        "modelTopology": {"node": nodes or []},
        "weightsManifest": manifest,
    }
    path = folder / "model.json"
    path.write_text(json.dumps(spec))
    return path


def entry(name: str, shape: list[int], weight_dtype: str, /, **quantization) -> dict:
    spec = {"name": name, "shape": shape, "dtype": weight_dtype}
    if quantization:
        spec["quantization"] = quantization
    return spec


def test_plain_dtypes_across_shards_and_groups(tmp_path):
    f32 = np.arange(6, dtype="<f4").reshape(2, 3) / 7
    i32 = np.array([-5, 0, 2147483647], dtype="<i4")
    flags = np.array([[True, False], [False, True]])
    half = np.array([0.5, -1.25, 65504.0], dtype="<f2")
    c64 = np.array([1 + 2j, -3.5j], dtype="<c8")
    path = write_model(
        tmp_path,
        [
            [
                (entry("a/f32", [2, 3], "float32"), f32.tobytes()),
                (entry("a/i32", [3], "int32"), i32.tobytes()),
                (entry("a/bool", [2, 2], "bool"), flags.astype(np.uint8).tobytes()),
            ],
            [
                (entry("b/half", [3], "float16"), half.tobytes()),
                (entry("b/c64", [2], "complex64"), c64.tobytes()),
                (entry("b/scalar", [], "float32"), np.float32(3.5).tobytes()),
            ],
        ],
        shards_per_group=2,
    )
    weights = read_weights(path)
    assert list(weights) == ["a/f32", "a/i32", "a/bool", "b/half", "b/c64", "b/scalar"]
    np.testing.assert_array_equal(weights["a/f32"], f32)
    assert weights["a/f32"].dtype == np.float32
    np.testing.assert_array_equal(weights["a/i32"], i32)
    assert weights["a/bool"].dtype == bool
    np.testing.assert_array_equal(weights["a/bool"], flags)
    assert weights["b/half"].dtype == np.float32
    np.testing.assert_array_equal(weights["b/half"], half.astype(np.float32))
    np.testing.assert_array_equal(weights["b/c64"], c64)
    assert weights["b/scalar"].shape == () and weights["b/scalar"] == 3.5


def test_affine_quantization_uint8_and_uint16(tmp_path):
    q8 = np.array([0, 1, 128, 255], dtype=np.uint8)
    q16 = np.array([0, 1, 40000, 65535], dtype="<u2")
    path = write_model(
        tmp_path,
        [
            [
                (entry("w8", [2, 2], "float32", dtype="uint8", min=-0.7, scale=0.01), q8.tobytes()),
                (entry("w16", [4], "float32", dtype="uint16", min=-2.0, scale=1e-4), q16.tobytes()),
                (entry("i8", [4], "int32", dtype="uint8", min=-3.0, scale=0.5), q8.tobytes()),
            ]
        ],
    )
    weights = read_weights(path)
    # value = q * scale + min, computed in double and stored as float32 (as TF.js does)
    expected8 = np.array([-0.7, -0.69, 0.58, 1.85], dtype=np.float32).reshape(2, 2)
    np.testing.assert_allclose(weights["w8"], expected8, rtol=0, atol=1e-6)
    assert weights["w8"].dtype == np.float32
    np.testing.assert_array_equal(
        weights["w16"], (q16.astype(np.float64) * 1e-4 - 2.0).astype(np.float32)
    )
    # int32 weights round the dequantized value (half up): -3, -2.5 → -2, 61, 124.5 → 125
    np.testing.assert_array_equal(weights["i8"], [-3, -2, 61, 125])
    assert weights["i8"].dtype == np.int32


def test_float16_quantization(tmp_path):
    values = np.array([[0.1, -2.0], [1e-3, 300.0]], dtype=np.float32)
    path = write_model(
        tmp_path,
        [[(entry("w", [2, 2], "float32", dtype="float16"), values.astype("<f2").tobytes())]],
    )
    weight = read_weights(path)["w"]
    assert weight.dtype == np.float32
    np.testing.assert_array_equal(weight, values.astype(np.float16).astype(np.float32))


def test_strings_and_to_torch(tmp_path):
    words = [b"hello", b"", "caf\u00e9".encode()]
    raw = b"".join(struct.pack("<I", len(w)) + w for w in words)
    path = write_model(
        tmp_path,
        [
            [
                (entry("s", [3], "string"), raw),
                (entry("f", [2], "float32"), np.array([1, 2], "<f4").tobytes()),
            ]
        ],
    )
    weights = read_weights(path)
    assert list(weights["s"]) == words
    tensors = to_torch(weights)
    assert list(tensors) == ["f"]
    assert torch.equal(tensors["f"], torch.tensor([1.0, 2.0]))


def test_graph_nodes_are_kept(tmp_path):
    node = {"name": "x", "op": "Placeholder", "attr": {}}
    path = write_model(tmp_path, [[(entry("c", [1], "float32"), b"\0\0\0\0")]], nodes=[node])
    model = read_model(path)
    assert model.node("x")["op"] == "Placeholder"
    assert model.path == path


def test_truncated_shard_names_file_and_tensor(tmp_path):
    path = write_model(
        tmp_path,
        [
            [
                (entry("first", [2], "float32"), np.zeros(2, "<f4").tobytes()),
                (entry("second", [4], "float32"), np.zeros(4, "<f4").tobytes()),
            ]
        ],
    )
    shard = tmp_path / "group1-shard1of1.bin"
    shard.write_bytes(shard.read_bytes()[:-3])
    with pytest.raises(TfjsFormatError, match=r"model\.json.*'second'.*group1-shard1of1\.bin"):
        read_weights(path)


def test_missing_shard(tmp_path):
    path = write_model(tmp_path, [[(entry("w", [1], "float32"), b"\0\0\0\0")]])
    (tmp_path / "group1-shard1of1.bin").unlink()
    with pytest.raises(TfjsFormatError, match=r"model\.json.*group1-shard1of1\.bin is missing"):
        read_weights(path)


def test_unknown_dtypes(tmp_path):
    path = write_model(tmp_path, [[(entry("w", [1], "float64"), bytes(8))]])
    with pytest.raises(TfjsFormatError, match=r"model\.json.*'w'.*unknown dtype 'float64'"):
        read_weights(path)
    path = write_model(
        tmp_path, [[(entry("q", [1], "float32", dtype="int4", min=0, scale=1), bytes(1))]]
    )
    with pytest.raises(TfjsFormatError, match=r"'q'.*unknown quantization dtype 'int4'"):
        read_weights(path)


def test_quantization_without_min_and_scale(tmp_path):
    path = write_model(tmp_path, [[(entry("q", [2], "float32", dtype="uint8"), bytes(2))]])
    with pytest.raises(TfjsFormatError, match=r"'q' is uint8-quantized but has no min and scale"):
        read_weights(path)


def test_element_count_mismatches(tmp_path):
    # Shards longer than the manifest's shapes describe.
    path = write_model(tmp_path, [[(entry("w", [2], "float32"), bytes(12))]])
    with pytest.raises(TfjsFormatError, match=r"hold 12 bytes but .* describe 8"):
        read_weights(path)
    # A graph Const node declaring a different element count than the manifest entry.
    node = {
        "name": "w",
        "op": "Const",
        "attr": {"value": {"tensor": {"tensorShape": {"dim": [{"size": "3"}]}}}},
    }
    path = write_model(tmp_path, [[(entry("w", [2], "float32"), bytes(8))]], nodes=[node])
    with pytest.raises(TfjsFormatError, match=r"'w'.*declares shape \[3\].*holds 2 elements"):
        read_weights(path)
    # A shape that is not a list of non-negative integers.
    path = write_model(tmp_path, [[(entry("w", [2, -1], "float32"), bytes(8))]])
    with pytest.raises(TfjsFormatError, match=r"'w' has an invalid shape \[2, -1\]"):
        read_weights(path)


def test_not_a_model_file(tmp_path):
    with pytest.raises(TfjsFormatError, match="no such model file"):
        read_weights(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(TfjsFormatError, match="no weightsManifest"):
        read_weights(bad)
