"""Reader for TensorFlow.js graph models: ``model.json`` + binary weight shards → numpy.

The format (tfjs-converter): ``model.json`` holds ``modelTopology`` (a GraphDef as JSON) and
``weightsManifest``, a list of groups ``{"paths": [...], "weights": [...]}``. A group's shards
are concatenated in ``paths`` order and its weights follow each other in that byte stream,
little-endian, in ``weights`` order. Each weight entry has ``name``, ``shape``, ``dtype``
(float32, int32, bool, string, complex64; float16 is accepted as a stored type too) and an
optional ``quantization`` ``{"dtype": "uint8"|"uint16"|"float16", "min", "scale"}``:

* uint8 / uint16: ``value = q * scale + min`` (float32 weights; int32 weights round it);
* float16: the float32 weight is stored as IEEE half.

Strings are stored per element as a 4-byte little-endian length followed by the bytes.

    weights = read_weights("models/rvm.json")  # {name: np.ndarray}
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

_PLAIN_DTYPES = {
    "float32": np.dtype("<f4"),
    "float16": np.dtype("<f2"),
    "int32": np.dtype("<i4"),
    "bool": np.dtype("u1"),
    "complex64": np.dtype("<c8"),
}
_QUANTIZED_DTYPES = {"uint8": np.dtype("u1"), "uint16": np.dtype("<u2"), "float16": np.dtype("<f2")}
_STRING_LENGTH_BYTES = 4


class TfjsFormatError(ValueError):
    """A TF.js model that cannot be read; the message names the file and the tensor."""


@dataclass(frozen=True)
class GraphModel:
    """A TF.js graph model read from disk.

    ``nodes``: the GraphDef nodes (dicts with name, op, input, attr) as stored in the JSON.
    ``weights``: every weight of the manifest, dequantized (float32 / int32 / bool / bytes).
    """

    path: Path
    nodes: tuple[dict, ...]
    weights: dict[str, np.ndarray]
    signature: dict = field(default_factory=dict)

    def node(self, name: str) -> dict:
        for node in self.nodes:
            if node["name"] == name:
                return node
        raise KeyError(f"{self.path}: no node named {name!r}")


def read_model(model_json: str | Path) -> GraphModel:
    """Reads ``model_json`` and the shards it names (relative to its folder)."""
    path = Path(model_json)
    spec = _read_json(path)
    topology = spec.get("modelTopology") or {}
    nodes = tuple(topology.get("node", ())) if isinstance(topology, dict) else ()
    weights = _read_manifest(path, spec.get("weightsManifest"))
    _check_const_shapes(path, nodes, weights)
    return GraphModel(path, nodes, weights, spec.get("signature") or {})


def read_weights(model_json: str | Path) -> dict[str, np.ndarray]:
    """``{name: array}`` for every weight in ``model_json``'s manifest."""
    return read_model(model_json).weights


def to_torch(arrays: Mapping[str, np.ndarray]) -> dict:
    """Numeric arrays → torch tensors (string weights are left out)."""
    import torch

    return {
        name: torch.from_numpy(np.ascontiguousarray(array))
        for name, array in arrays.items()
        if array.dtype != object
    }


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise TfjsFormatError(f"{path}: no such model file")
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TfjsFormatError(f"{path}: not a JSON model file ({exc})") from exc
    if not isinstance(spec, dict) or not isinstance(spec.get("weightsManifest"), list):
        raise TfjsFormatError(f"{path}: no weightsManifest list; not a TF.js model.json")
    return spec


def _read_manifest(path: Path, manifest: list) -> dict[str, np.ndarray]:
    weights: dict[str, np.ndarray] = {}
    for index, group in enumerate(manifest):
        if not isinstance(group, dict) or not isinstance(group.get("paths"), list):
            raise TfjsFormatError(f"{path}: weightsManifest[{index}] has no paths list")
        shards = [path.parent / name for name in group["paths"]]
        buffer = _read_shards(path, shards)
        offset = 0
        for entry in group.get("weights", ()):
            name = entry.get("name", "?")
            array, offset = _decode(path, shards, buffer, offset, entry)
            if name in weights:
                raise TfjsFormatError(f"{path}: weight {name!r} appears twice in the manifest")
            weights[name] = array
        if offset != len(buffer):
            raise TfjsFormatError(
                f"{path}: shards {', '.join(s.name for s in shards)} hold {len(buffer)} bytes "
                f"but the manifest's weights describe {offset}: the shapes or dtypes do not "
                "match the data"
            )
    return weights


def _read_shards(path: Path, shards: Iterable[Path]) -> bytes:
    parts = []
    for shard in shards:
        if not shard.is_file():
            raise TfjsFormatError(f"{path}: weight shard {shard} is missing")
        parts.append(shard.read_bytes())
    return b"".join(parts)


def _element_count(path: Path, name: str, shape: object) -> int:
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise TfjsFormatError(f"{path}: weight {name!r} has an invalid shape {shape!r}")
    return int(np.prod(shape, dtype=np.int64))


def _shard_at(shards: list[Path], buffer_offset: int) -> str:
    """The shard file holding byte ``buffer_offset`` of the group (the last one if past it)."""
    start = 0
    for shard in shards:
        size = shard.stat().st_size
        if buffer_offset < start + size:
            return shard.name
        start += size
    return shards[-1].name if shards else "?"


def _take(
    path: Path, shards: list[Path], buffer: bytes, offset: int, nbytes: int, name: str
) -> bytes:
    end = offset + nbytes
    if end > len(buffer):
        raise TfjsFormatError(
            f"{path}: weight {name!r} needs bytes {offset}..{end} of its group but the shards "
            f"end at {len(buffer)} (truncated shard {_shard_at(shards, offset)})"
        )
    return buffer[offset:end]


def _decode(
    path: Path, shards: list[Path], buffer: bytes, offset: int, entry: dict
) -> tuple[np.ndarray, int]:
    name = entry.get("name")
    if not isinstance(name, str):
        raise TfjsFormatError(f"{path}: a manifest weight has no name: {entry!r}")
    dtype = entry.get("dtype")
    shape = entry.get("shape")
    count = _element_count(path, name, shape)
    quantization = entry.get("quantization")
    if quantization is not None:
        return _decode_quantized(path, shards, buffer, offset, entry, count)
    if dtype == "string":
        return _decode_strings(path, shards, buffer, offset, name, shape, count)
    if dtype not in _PLAIN_DTYPES:
        raise TfjsFormatError(
            f"{path}: weight {name!r} has unknown dtype {dtype!r} "
            f"(known: {', '.join([*_PLAIN_DTYPES, 'string'])})"
        )
    stored = _PLAIN_DTYPES[dtype]
    raw = _take(path, shards, buffer, offset, count * stored.itemsize, name)
    array = np.frombuffer(raw, dtype=stored).reshape(shape)
    if dtype == "bool":
        array = array.astype(bool)
    elif dtype == "float16":
        array = array.astype(np.float32)
    else:
        array = array.astype(stored.newbyteorder("="))
    return array, offset + len(raw)


def _decode_quantized(
    path: Path, shards: list[Path], buffer: bytes, offset: int, entry: dict, count: int
) -> tuple[np.ndarray, int]:
    name, dtype, shape = entry["name"], entry.get("dtype"), entry["shape"]
    quantization = entry["quantization"]
    qdtype = quantization.get("dtype") if isinstance(quantization, dict) else None
    if qdtype not in _QUANTIZED_DTYPES:
        raise TfjsFormatError(
            f"{path}: weight {name!r} has unknown quantization dtype {qdtype!r} "
            "(known: uint8, uint16, float16)"
        )
    if dtype not in ("float32", "int32") or (qdtype == "float16" and dtype != "float32"):
        raise TfjsFormatError(
            f"{path}: weight {name!r}: quantization {qdtype} cannot hold dtype {dtype!r}"
        )
    stored = _QUANTIZED_DTYPES[qdtype]
    raw = _take(path, shards, buffer, offset, count * stored.itemsize, name)
    q = np.frombuffer(raw, dtype=stored).reshape(shape)
    if qdtype == "float16":
        return q.astype(np.float32), offset + len(raw)
    if "min" not in quantization or "scale" not in quantization:
        raise TfjsFormatError(
            f"{path}: weight {name!r} is {qdtype}-quantized but has no min and scale"
        )
    # TF.js dequantizes in double precision and stores the result as float32 / rounded int32.
    values = q.astype(np.float64) * float(quantization["scale"]) + float(quantization["min"])
    if dtype == "int32":
        return np.floor(values + 0.5).astype(np.int32), offset + len(raw)
    return values.astype(np.float32), offset + len(raw)


def _decode_strings(
    path: Path,
    shards: list[Path],
    buffer: bytes,
    offset: int,
    name: str,
    shape: list[int],
    count: int,
) -> tuple[np.ndarray, int]:
    values = np.empty(count, dtype=object)
    for i in range(count):
        header = _take(path, shards, buffer, offset, _STRING_LENGTH_BYTES, name)
        length = int.from_bytes(header, "little")
        offset += _STRING_LENGTH_BYTES
        values[i] = _take(path, shards, buffer, offset, length, name)
        offset += length
    return values.reshape(shape), offset


def _check_const_shapes(path: Path, nodes: tuple[dict, ...], weights: dict) -> None:
    """A graph model's Const node declares its shape too; it must agree with the manifest."""
    for node in nodes:
        if node.get("op") != "Const" or node.get("name") not in weights:
            continue
        tensor = node.get("attr", {}).get("value", {}).get("tensor", {})
        declared = tensor.get("tensorShape")
        if declared is None or declared.get("unknownRank"):
            continue
        dims = [int(d.get("size", 0)) for d in declared.get("dim", ())]
        if any(d < 0 for d in dims):
            continue
        array = weights[node["name"]]
        if int(np.prod(dims, dtype=np.int64)) != array.size:
            raise TfjsFormatError(
                f"{path}: weight {node['name']!r}: the graph declares shape {dims} "
                f"({int(np.prod(dims, dtype=np.int64))} elements) but the manifest holds "
                f"{array.size} elements, shape {list(array.shape)}"
            )
