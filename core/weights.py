"""Safetensors checkpoints of the matting network, with metadata.

A checkpoint stores the network's state dict plus string metadata: ``format``
("memmatte"), ``format_version``, ``config`` (``NetworkConfig`` as JSON), ``stage`` (the
training stage that produced it), ``tensors_sha256`` (``tensors_digest``: a damaged or
altered tensor is refused, not loaded; files written before it was added load unchecked)
and anything the caller adds. Nothing pickled is ever
loaded implicitly: ``.pth`` files are only read by the explicit torchvision converter, with
``torch.load(weights_only=True)``.

    python -m core.weights import-torchvision mobilenet_v3_large.pth -o init.safetensors
    python -m core.weights import-rvm rvm.json -o rvm-init.safetensors
    python -m core.weights upgrade old.safetensors -o new.safetensors   # version 1 → 2

Format versions: 1 predicted the foreground directly; 2 predicts it as a residual over the
frame (``core.model.decoder.OutputBlock``). ``upgrade`` turns a version-1 checkpoint into a
version-2 one with the same alpha, bit for bit, and the frame itself as the foreground
(a zero residual): a starting point for training the foreground again.

``import-rvm`` reads Robust Video Matting's TF.js export with
``training.teachers.transfer.import_rvm``, imported inside the command so that ``core``'s
library code does not depend on ``training``; the checkpoint it writes is derived from GPL-3.0
weights and carries that licence (docs/teacher.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from core.model import MattingNetwork, NetworkConfig

FORMAT = "memmatte"
FORMAT_VERSION = "2"
_FOREGROUND_ROWS = "decoder.output.stage2"
"""The output block's last conv + BN: rows 0-2 make the foreground, row 3 alpha."""


class WeightsError(ValueError):
    """A checkpoint that cannot be used: wrong format, or keys/shapes that do not match."""


def save_weights(
    network: MattingNetwork,
    path: str | Path,
    *,
    stage: str = "",
    dtype: torch.dtype | None = None,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Writes ``network``'s state dict to ``path`` (safetensors) with metadata.

    ``dtype`` (e.g. torch.float16) casts floating tensors for a smaller file; integer
    buffers are kept as they are.
    """
    tensors = {}
    for name, tensor in network.state_dict().items():
        tensor = tensor.detach().cpu()
        if dtype is not None and tensor.is_floating_point():
            tensor = tensor.to(dtype)
        tensors[name] = tensor.contiguous()
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": network.config.to_json(),
        "stage": stage,
        "auto_long_side": str(network.auto_long_side),
        **(metadata or {}),
        DIGEST_KEY: tensors_digest(tensors),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata=meta)
    return path


def read_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Reads a memmatte safetensors file → (state dict, metadata)."""
    tensors, metadata = _read_any_version(Path(path))
    version = metadata.get("format_version")
    if version == "1":
        raise WeightsError(
            f"{path}: checkpoint format version 1 (foreground predicted directly); this "
            f"memmatte reads version {FORMAT_VERSION} (foreground as a residual over the frame). "
            f"Convert it with: python -m core.weights upgrade {path} -o NEW.safetensors "
            "(same alpha; the foreground needs training again)"
        )
    if version != FORMAT_VERSION:
        raise WeightsError(
            f"{path}: checkpoint format version {version!r}; "
            f"this memmatte reads version {FORMAT_VERSION}"
        )
    return tensors, metadata


def upgrade_weights(
    tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str]
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """A version-1 checkpoint → version 2: alpha unchanged, the foreground residual zero.

    Version 1's output block ended in a ReLU whose foreground rows predicted the colour
    itself; version 2 reads those rows as a correction to the frame. Zeroing their
    batch-norm scale and shift makes the correction exactly zero, in eval and in training
    mode, so the upgraded network returns the frame as its foreground until trained. Their
    conv weights and running statistics are kept: with the conv zeroed too, neither the
    scale (whose gradient is the normalised conv output, 0) nor the conv (whose gradient is
    scaled by the scale, 0) could ever move, and training would only learn a constant shift.
    """
    if metadata.get("format_version") != "1":
        raise WeightsError(
            f"only version-1 checkpoints need upgrading; this one is version "
            f"{metadata.get('format_version')!r}"
        )
    out = {k: v.clone() for k, v in tensors.items()}
    for name in ("0.weight", "1.weight", "1.bias", "1.running_mean"):
        if f"{_FOREGROUND_ROWS}.{name}" not in out:
            raise WeightsError(f"not a matting network checkpoint: no {_FOREGROUND_ROWS}.{name}")
    for name in ("1.weight", "1.bias"):
        out[f"{_FOREGROUND_ROWS}.{name}"][:3] = 0
    meta = {**metadata, "format_version": FORMAT_VERSION, "upgraded_from": "1"}
    return out, {**meta, DIGEST_KEY: tensors_digest(out)}


def _read_any_version(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    if not path.is_file():
        raise WeightsError(f"{path}: no such weights file")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = dict(f.metadata() or {})
            tensors = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118
    except Exception as exc:
        raise WeightsError(f"{path}: not a readable safetensors file ({exc})") from exc
    if metadata.get("format") != FORMAT:
        raise WeightsError(
            f"{path}: not a memmatte checkpoint (metadata format={metadata.get('format')!r})"
        )
    expected = metadata.get(DIGEST_KEY)
    if expected is not None and tensors_digest(tensors) != expected:
        raise WeightsError(
            f"{path}: damaged weights file (its tensors do not match the checksum it was "
            "saved with); copy it again"
        )
    return tensors, metadata


DIGEST_KEY = "tensors_sha256"


def tensors_digest(tensors: Mapping[str, torch.Tensor]) -> str:
    """sha256 of every tensor's name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name} {tensor.dtype} {tuple(tensor.shape)}\n".encode())
        flat = tensor.reshape(-1)
        digest.update(flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b"")
    return digest.hexdigest()


def check_state_dict(
    module: torch.nn.Module, state: Mapping[str, torch.Tensor], source: str
) -> None:
    """Raises one ``WeightsError`` naming every missing, unexpected and mis-shaped key."""
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    if not (missing or unexpected or shapes):
        return
    lines = [f"{source}: weights do not match the network"]
    for title, items in (("missing", missing), ("unexpected", unexpected), ("shape", shapes)):
        if items:
            lines.append(f"  {len(items)} {title}: " + "; ".join(items))
    raise WeightsError("\n".join(lines))


def load_network(path: str | Path, *, device: str | torch.device = "cpu") -> MattingNetwork:
    """Builds the network the checkpoint describes and loads it (eval mode, float32)."""
    tensors, metadata = read_weights(path)
    try:
        config = NetworkConfig.from_json(metadata["config"]) if "config" in metadata else None
        auto_long_side = int(metadata.get("auto_long_side", 0))
        network = MattingNetwork(config)
    except (ValueError, TypeError, KeyError, AttributeError, RuntimeError) as exc:
        raise WeightsError(
            f"{path}: damaged network description in its metadata ({exc!r})"
        ) from None
    load_into(network, tensors, source=str(path))
    if auto_long_side:
        network.auto_long_side = auto_long_side
    return network.to(device).eval()


def load_into(
    network: torch.nn.Module, tensors: Mapping[str, torch.Tensor], *, source: str
) -> None:
    """Strictly loads ``tensors`` into ``network``, casting to the network's dtypes."""
    check_state_dict(network, tensors, source)
    current = network.state_dict()
    network.load_state_dict({k: v.to(current[k].dtype) for k, v in tensors.items()})


def file_hash(path: str | Path) -> str:
    """sha256 of a weights file (first 16 hex digits), recorded in outputs' metadata."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def torchvision_backbone_state(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A torchvision ``mobilenet_v3_large`` state dict → our backbone's state dict.

    Keeps the ``features.*`` keys (the classifier is dropped); names are identical.
    """
    return {k: v for k, v in state.items() if k.startswith("features.")}


def import_torchvision(
    pth: str | Path, *, config: NetworkConfig | None = None, seed: int = 0
) -> MattingNetwork:
    """A new network whose backbone holds a torchvision ImageNet MobileNetV3-Large checkpoint.

    The rest of the network is randomly initialised from ``seed`` (paper §3.1: the backbone
    is ImageNet pre-trained).
    """
    state = torch.load(str(pth), map_location="cpu", weights_only=True)
    if isinstance(state, Mapping) and "state_dict" in state:
        state = state["state_dict"]
    torch.manual_seed(seed)
    network = MattingNetwork(config)
    load_into(network.backbone, torchvision_backbone_state(state), source=str(pth))
    return network


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.weights")
    sub = parser.add_subparsers(dest="command", required=True)
    conv = sub.add_parser(
        "import-torchvision",
        help="initialise a checkpoint from torchvision's ImageNet MobileNetV3-Large .pth",
    )
    conv.add_argument("pth", type=Path)
    conv.add_argument("-o", "--output", type=Path, required=True)
    conv.add_argument("--config", choices=["paper", "lite"], default="paper")
    conv.add_argument("--seed", type=int, default=0)
    rvm = sub.add_parser(
        "import-rvm",
        help="initialise a checkpoint's backbone from Robust Video Matting's TF.js export "
        "(GPL-3.0 weights)",
    )
    rvm.add_argument("model_json", type=Path, help="the export's rvm.json (rvm.bin beside it)")
    rvm.add_argument("-o", "--output", type=Path, required=True)
    rvm.add_argument("--config", choices=["paper", "lite"], default="paper")
    rvm.add_argument("--seed", type=int, default=0)
    upgrade = sub.add_parser(
        "upgrade",
        help="convert a version-1 checkpoint (direct foreground) to version 2 (residual "
        "foreground): same alpha, the frame as the foreground until trained",
    )
    upgrade.add_argument("weights", type=Path)
    upgrade.add_argument("-o", "--output", type=Path, required=True)
    info = sub.add_parser("info", help="print a checkpoint's metadata")
    info.add_argument("weights", type=Path)
    args = parser.parse_args(argv)
    if args.command == "import-torchvision":
        config = getattr(NetworkConfig, args.config)()
        network = import_torchvision(args.pth, config=config, seed=args.seed)
        save_weights(
            network, args.output, stage="imagenet-init", metadata={"source": args.pth.name}
        )
        print(f"wrote {args.output}")
    elif args.command == "import-rvm":
        from training.teachers.transfer import import_rvm

        config = getattr(NetworkConfig, args.config)()
        try:
            network = import_rvm(args.model_json, config=config, seed=args.seed)
        except ValueError as exc:  # the TF.js reader's and the loader's errors name the file
            parser.exit(2, f"memmatte: {exc}\n")
        save_weights(
            network,
            args.output,
            stage="rvm-init",
            metadata={
                "source": args.model_json.name,
                "source_sha256": file_hash(args.model_json),
                "license": "GPL-3.0 (backbone derived from Robust Video Matting)",
            },
        )
        print(f"wrote {args.output} (GPL-3.0: backbone from Robust Video Matting)")
    elif args.command == "upgrade":
        try:
            tensors, metadata = _read_any_version(args.weights)
            tensors, metadata = upgrade_weights(tensors, metadata)
        except WeightsError as exc:
            parser.exit(2, f"memmatte: {args.weights}: {exc}\n")
        args.output.parent.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(args.output), metadata)
        print(f"wrote {args.output} (version {FORMAT_VERSION}; the foreground is the frame)")
    else:
        try:
            _, metadata = _read_any_version(args.weights)
        except WeightsError as exc:
            parser.exit(2, f"memmatte: {exc}\n")
        print(json.dumps(metadata, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
