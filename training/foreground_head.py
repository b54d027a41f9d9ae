"""Fit and train the output block's foreground rows alone, on distillation runs' cached clips.

    python -m training.foreground_head runs/distill-stage3 --variant memory --fit-clips 80 \\
        --steps 0 --refiner-steps 100
    python -m training.foreground_head runs/distill-stage3e --cache runs/distill-stage3/cache.pt \\
        --variant ablated --fit-clips 80 --steps 0 --refiner-steps 100

The last stage of the recipe for the foreground (docs/weights.md). Everything but the three
foreground rows of the output block's last conv and batch norm is frozen and runs in eval
mode, so alpha is bit-identical to the input weights'; batch norm runs on its fixed
statistics, so training and use see the same function.

``--fit-clips N`` sets the rows in closed form (``fit_foreground_rows``): least squares of the
true residual (foreground minus frame) over every pixel the person touches, from the hidden
features' 3x3 neighbourhoods, on N windows of the clips with a true target. ``--steps`` then
trains them by gradient on ``foreground_loss`` (the L1 over the touched pixels against the
clips' targets, true where the clip has them, else the teacher's, plus half that against the
teacher's); without a fit they start from a zero batch-norm scale and shift, the frame
itself, from which only the scale and shift can learn. ``--refiner-steps`` then trains the
Deep Guided Filter alone on the new residual. The clips are ``<run>/cache.pt`` as
``python -m training.distill`` left it, plus any ``--cache``.

Writes ``<run>/<variant>/foreground.safetensors`` unless ``-o`` says otherwise.
"""

from __future__ import annotations

import argparse
import json
import time
from contextlib import contextmanager
from pathlib import Path

import torch
from torch.nn import functional as F

from core.runtime import autocast, resolve_precision
from core.weights import WeightsError, load_network, read_weights, save_weights
from training.distill import ClipSet, VariantConfig, _batch, _truth, include_caches
from training.losses import touched_l1

FOREGROUND = slice(0, 3)


def foreground_loss(out, fgr, pha, tfgr, tpha) -> torch.Tensor:
    """``touched_l1`` against the clips' targets plus half of it against the teacher's; every
    argument (N, C, H, W)."""
    return touched_l1(out, fgr, pha) + 0.5 * touched_l1(out, tfgr, tpha)


@contextmanager
def _hidden_features(network):
    """Collects the output block's hidden features (its first stage's output), detached and
    in fp32, into the yielded list on every forward pass."""
    hidden: list[torch.Tensor] = []
    hook = network.decoder.output.stage1.register_forward_hook(
        lambda module, args, out: hidden.append(out.detach().float())
    )
    try:
        yield hidden
    finally:
        hook.remove()


@contextmanager
def _training_only(network, params: list[torch.nn.Parameter]):
    """``network`` in eval mode with only ``params`` trainable, frozen again afterwards."""
    network.eval()
    for p in network.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(False)


def _log(losses: list[float], steps: int, label: str) -> None:
    if len(losses) % 25 == 0:
        print(f"{label}step {len(losses)}/{steps}: loss {sum(losses[-25:]) / 25:.4f}", flush=True)


def _ends(losses: list[float]) -> tuple[float, float]:
    """Mean loss of the first and of the last ten steps."""
    first, last = losses[:10], losses[-10:]
    return sum(first) / max(len(first), 1), sum(last) / max(len(last), 1)


@torch.no_grad()
def fit_foreground_rows(
    network, clips: ClipSet, clip_length: int, count: int, seed: int = 0, ridge: float = 1e-4
) -> int:
    """Sets the output block's foreground rows, in place, to the least-squares fit of the
    clips' true residual (foreground minus frame) over every pixel the person touches, from
    the 3x3 neighbourhoods of the block's hidden features; returns the pixels fitted.

    The rows are a linear map of those features (batch norm in eval mode is affine), so
    this is a closed-form solve: it gives the rows a start from which gradient steps can
    move the conv. (From a zero batch-norm scale they cannot: the conv's gradient is
    scaled by it, and the scale's by the conv's correlation with the target.) Batch norm's
    foreground rows become the identity plus the fitted shift; the alpha row is untouched.
    ``count`` windows of ``clip_length`` frames, from clips with a true target only.
    """
    network.eval()
    dims = network.decoder.output.stage1[0].out_channels * 9 + 1
    gram = torch.zeros(dims, dims, dtype=torch.float64)
    moment = torch.zeros(dims, 3, dtype=torch.float64)
    candidates = torch.nonzero(_truth(clips)).flatten()
    if not len(candidates):
        raise ValueError("no clips with a true foreground to fit the foreground rows to")
    generator = torch.Generator().manual_seed(seed)
    frames, height, width = clips.com.shape[1], *clips.com.shape[-2:]
    pixels = 0
    with _hidden_features(network) as hidden:
        for i in candidates[torch.randint(len(candidates), (count,), generator=generator)]:
            start = int(torch.randint(frames - clip_length + 1, (1,), generator=generator))
            window = slice(start, start + clip_length)
            com = clips.com[i, window].float() / 255.0
            residual = clips.fgr[i, window].float() / 255.0 - com
            touched = clips.pha[i, window, 0].flatten(1) > 0
            hidden.clear()
            network(com[None])
            columns = F.unfold(hidden[0][..., :height, :width], 3, padding=1)
            for t in range(clip_length):
                m = touched[t]
                x = torch.cat([columns[t][:, m], torch.ones(1, int(m.sum()))]).double()
                gram += x @ x.T
                moment += x @ residual[t].flatten(1)[:, m].double().T
                pixels += int(m.sum())
    if not pixels:
        raise ValueError("the clips chosen to fit the foreground rows touch no pixel")
    eye = torch.eye(dims, dtype=torch.float64)
    solution = torch.linalg.solve(gram + ridge * torch.trace(gram) / dims * eye, moment)
    conv, norm = network.decoder.output.stage2
    conv.weight[FOREGROUND] = solution[:-1].T.reshape(3, -1, 3, 3).to(conv.weight.dtype)
    norm.running_mean[FOREGROUND] = 0.0
    norm.running_var[FOREGROUND] = 1.0 - norm.eps
    norm.weight[FOREGROUND] = 1.0
    norm.bias[FOREGROUND] = solution[-1].to(norm.bias.dtype)
    return pixels


def train_foreground_head(
    network,
    clips: ClipSet,
    variant: VariantConfig,
    steps: int,
    lr: float = 2e-3,
    seed: int = 0,
    from_zero: bool = True,
) -> list[float]:
    """Trains ``network.decoder.output.stage2``'s foreground rows in place; returns the
    per-step losses. ``network`` stays in eval mode throughout. ``from_zero``: start from
    a zero batch-norm scale and shift (the frame itself); else from the rows as they are
    (``fit_foreground_rows``)."""
    conv, norm = network.decoder.output.stage2
    if from_zero:
        with torch.no_grad():
            norm.weight[FOREGROUND] = 0.0
            norm.bias[FOREGROUND] = 0.0
    params = [conv.weight, norm.weight, norm.bias]
    optimizer = torch.optim.Adam(params, lr=lr)
    precision = resolve_precision("auto", torch.device("cpu"), training="bf16")
    generator = torch.Generator().manual_seed(seed)
    losses = []
    with _hidden_features(network) as hidden, _training_only(network, params):
        for step in range(steps):
            com, *targets = _batch(clips, variant, generator, "cpu")
            hidden.clear()
            with torch.no_grad(), autocast(precision, torch.device("cpu")):
                network(com)
            h, w = com.shape[-2:]
            residual = network.decoder.output.stage2(hidden[0])[:, FOREGROUND, :h, :w]
            out = network.foreground(com.flatten(0, 1), residual)
            loss = foreground_loss(out, *(x.flatten(0, 1) for x in targets))
            loss.backward()
            for p in params:  # the alpha row stays as it was
                p.grad[3:] = 0
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(float(loss.detach()))
            _log(losses, steps, "")
            lr_now = lr * 0.5 * (1 + torch.cos(torch.tensor(torch.pi * (step + 1) / steps)))
            for group in optimizer.param_groups:
                group["lr"] = float(lr_now)
    return losses


def train_refiner(
    network,
    clips: ClipSet,
    variant: VariantConfig,
    steps: int,
    lr: float = 1e-4,
    ratio: float = 0.5,
    seed: int = 1,
) -> list[float]:
    """Trains ``network.refiner`` (the Deep Guided Filter) alone, in place, with the network
    at ``ratio`` of the clips' size and the filter bringing alpha and foreground back to it;
    returns the per-step losses. Everything else is frozen and in eval mode, so the
    network's own output (``downsample_ratio`` 1) is bit-identical. The loss is the
    foreground head's (``foreground_loss``) plus alpha L1 against the clips' targets and half
    that against the teacher's: the filter learns the residual the head now predicts."""
    params = list(network.refiner.parameters())
    optimizer = torch.optim.Adam(params, lr=lr)
    precision = resolve_precision("auto", torch.device("cpu"), training="bf16")
    generator = torch.Generator().manual_seed(seed)
    losses = []
    with _training_only(network, params):
        for _ in range(steps):
            com, *targets = _batch(clips, variant, generator, "cpu")
            fgr, pha, tfgr, tpha = (x.flatten(0, 1) for x in targets)
            with autocast(precision, torch.device("cpu")):
                out = network(com, downsample_ratio=ratio)
            out_fgr, out_pha = out.foreground.float().flatten(0, 1), out.alpha.float().flatten(0, 1)
            loss = (
                F.l1_loss(out_pha, pha)
                + 0.5 * F.l1_loss(out_pha, tpha)
                + foreground_loss(out_fgr, fgr, pha, tfgr, tpha)
            )
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(float(loss.detach()))
            _log(losses, steps, "refiner ")
    return losses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.foreground_head", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("run", type=Path, help="a training.distill run folder (cache.pt)")
    parser.add_argument("--variant", default="memory")
    parser.add_argument("--weights", type=Path, help="default: <run>/<variant>/final.safetensors")
    parser.add_argument("--clip-length", type=int, help="default: 4, or 1 for 'ablated'")
    parser.add_argument("--batch-size", type=int, help="default: 2, or 8 for 'ablated'")
    parser.add_argument("--cache", type=Path, action="append", default=[],
                        help="another run's cache.pt whose clips join <run>'s")  # fmt: skip
    parser.add_argument("--fit-clips", type=int, default=0,
                        help="first fit the rows by least squares on this many windows")  # fmt: skip
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--refiner-steps", type=int, default=0,
                        help="then train the Deep Guided Filter alone this many steps")  # fmt: skip
    parser.add_argument("--refiner-lr", type=float, default=1e-4)
    parser.add_argument("-o", "--output", type=Path)
    args = parser.parse_args(argv)
    weights = args.weights or args.run / args.variant / "final.safetensors"
    cache = args.run / "cache.pt"
    if not cache.is_file():
        parser.exit(2, f"memmatte: {cache}: no cached clips (run python -m training.distill)\n")
    try:
        network = load_network(weights)
        _, meta = read_weights(weights)
    except WeightsError as exc:
        parser.exit(2, f"memmatte: {exc}\n")
    ablated = args.variant.startswith("ablated")
    variant = VariantConfig(
        args.variant,
        clip_length=args.clip_length or (1 if ablated else 4),
        batch_size=args.batch_size or (8 if ablated else 2),
    )
    stored = torch.load(cache, weights_only=True)
    clips = ClipSet(**{k: v for k, v in stored.items() if k != "key"})
    try:
        clips = include_caches(clips, args.cache)
    except ValueError as exc:
        parser.exit(2, f"memmatte: {exc}\n")
    start = time.perf_counter()
    if args.fit_clips:
        pixels = fit_foreground_rows(network, clips, variant.clip_length, args.fit_clips)
        print(f"foreground rows fitted on {pixels} pixels in {time.perf_counter() - start:.0f} s")
    losses = train_foreground_head(
        network, clips, variant, args.steps, args.lr, from_zero=not args.fit_clips
    )
    if args.refiner_steps:
        refiner_losses = train_refiner(network, clips, variant, args.refiner_steps, args.refiner_lr)
    output = args.output or args.run / args.variant / "foreground.safetensors"
    reserved = {"format", "format_version", "config", "stage", "auto_long_side"}
    extra = {k: v for k, v in meta.items() if k not in reserved}
    record = {"steps": args.steps, "lr": args.lr, "from": str(weights)}
    record |= {"fit_clips": args.fit_clips, "caches": [str(c) for c in args.cache]}
    record |= {"clip_length": variant.clip_length, "batch_size": variant.batch_size}
    record |= {"refiner_steps": args.refiner_steps, "refiner_lr": args.refiner_lr}
    extra["foreground_head"] = json.dumps(record)
    save_weights(network, output, stage="foreground-head", metadata=extra)
    first, last = _ends(losses)
    trained = f", loss {first:.4f} -> {last:.4f}" if losses else ""
    print(f"{output}: {args.steps} steps in {time.perf_counter() - start:.0f} s{trained}")
    if args.refiner_steps:
        first, last = _ends(refiner_losses)
        print(f"refiner: {args.refiner_steps} steps, loss {first:.4f} -> {last:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
