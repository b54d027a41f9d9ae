"""Refits the foreground rows of the network's output layer in closed form; alpha is untouched.

    python -m training.refit_foreground --weights core/assets/memmatte_default.safetensors \\
        --config training/configs/distill.toml -o runs/refit.safetensors

The output block ends in conv → batch norm → ReLU (decoder ``output.stage2``), one channel per
output: three foreground, one alpha. A foreground channel whose pre-activation went negative
during training stays dark for good (a dead ReLU), and the distilled memory network came out
with a dark, reddish foreground while its alpha was right (docs/weights.md). Each foreground
channel is a linear function of the 3x3 neighbourhood of the block's hidden features, so its
weights are refitted here by ridge regression against the true foreground of synthetic clips,
on pixels where the true alpha is above 0.5; the alpha channel's weights and every other
parameter keep their values, so alpha is bit-identical.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch.nn import functional as F

from core.model import MattingNetwork
from core.model.network import downsample, network_size, pad_to_stride
from core.weights import load_network, read_weights, save_weights


@torch.no_grad()
def refit_foreground(
    network: MattingNetwork, frames: torch.Tensor, fgr: torch.Tensor, pha: torch.Tensor,
    ridge: float = 1e-3, samples: int = 400_000, seed: int = 0,
) -> dict[str, float]:  # fmt: skip
    """frames, fgr: (N, 3, H, W), pha: (N, 1, H, W) in [0, 1], the network at full size.

    Returns the fit's mean absolute error per foreground channel before and after."""
    block = network.decoder.output  # stage1 (hidden), stage2 (4 outputs)
    conv, bn = block.stage2[0], block.stage2[1]
    captured: list[torch.Tensor] = []
    hook = block.stage2.register_forward_hook(lambda m, i, o: captured.append(i[0]))
    network.eval()
    outputs = []
    for i in range(frames.shape[0]):
        image = frames[i : i + 1]
        h, w = image.shape[-2:]
        size = network_size(h, w, 1.0)
        encoding = network.encode(pad_to_stride(downsample(image, size)))
        memory_keys = torch.stack([encoding.key] * 2, 1)
        memory_values = torch.stack([encoding.value] * 2, 1)
        out = network.matte_low(encoding, memory_keys, memory_values, image, refine=False)
        outputs.append(out[:, :3])  # (1, 3, H, W) as trained
    hook.remove()
    generator = torch.Generator().manual_seed(seed)
    per_frame = samples // len(captured)
    feats, targets, predicted = [], [], []
    h, w = frames.shape[-2:]
    for i, hidden in enumerate(captured):
        patches = F.unfold(F.pad(hidden, (1, 1, 1, 1)), 3)  # (1, C*9, Hp*Wp)
        patches = patches.view(1, -1, *hidden.shape[-2:])[..., :h, :w]
        rows = torch.nonzero((pha[i, 0] > 0.5).flatten())[:, 0]
        rows = rows[torch.randperm(len(rows), generator=generator)[:per_frame]]
        feats.append(patches[0].flatten(1).T[rows])
        targets.append(fgr[i].flatten(1).T[rows])
        predicted.append(outputs[i][0].flatten(1).T[rows])
    feats, y = torch.cat(feats).double(), torch.cat(targets).double()
    x = torch.cat([feats, torch.ones(len(feats), 1, dtype=torch.float64)], 1)
    gram = x.T @ x + ridge * len(x) * torch.eye(x.shape[1], dtype=torch.float64)
    solution = torch.linalg.solve(gram, x.T @ y)  # (C*9 + 1, 3)
    weights, bias = solution[:-1].T.float(), solution[-1].float()
    conv.weight[:3] = weights.view(3, *conv.weight.shape[1:])
    bn.weight[:3] = 1.0
    bn.bias[:3] = bias
    bn.running_mean[:3] = 0.0
    bn.running_var[:3] = 1.0 - bn.eps
    after = (x.float() @ solution.float()).clamp(0, 1)
    return {
        "mae_before": float((torch.cat(predicted) - y.float()).abs().mean()),
        "mae_after": float((after - y.float()).abs().mean()),
        "pixels": float(len(x)),
    }


def main(argv: list[str] | None = None) -> int:
    from training.distill import DistillConfig, build_clips

    parser = argparse.ArgumentParser(prog="python -m training.refit_foreground", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--config", type=Path, default=Path("training/configs/distill.toml"))
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--frames", type=int, default=48, help="frames to fit on")
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        network = load_network(args.weights)  # before minutes of clip generation
        config = DistillConfig.from_toml(args.config, args.set)
        clips = build_clips(config.data)
    except (ValueError, OSError) as exc:
        parser.exit(2, f"memmatte: {exc}\n")
    keep = clips.pha.flatten(1).amax(1) > 0  # person clips (not background only)
    if clips.truth is not None:
        keep &= clips.truth
    index = torch.nonzero(keep)[:, 0]
    step = max(1, len(index) * clips.com.shape[1] // args.frames)
    flat = [(int(i), t) for i in index for t in range(clips.com.shape[1])][::step][: args.frames]

    def take(x: torch.Tensor) -> torch.Tensor:
        return torch.stack([x[i, t] for i, t in flat]).float() / 255.0

    fit = refit_foreground(network, take(clips.com), take(clips.fgr), take(clips.pha))
    _, meta = read_weights(args.weights)
    reserved = {"format", "format_version", "config", "stage", "auto_long_side"}
    extra = {k: v for k, v in meta.items() if k not in reserved}
    extra["foreground_refit"] = f"python -m training.refit_foreground ({len(flat)} frames)"
    save_weights(network, args.output, stage=meta.get("stage", ""), dtype=torch.float16,
                 metadata=extra)  # fmt: skip
    print(f"foreground MAE on the fitted pixels: {fit['mae_before']:.4f} -> {fit['mae_after']:.4f}")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
