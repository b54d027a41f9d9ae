"""Regenerates the synthetic data and retrains the paper's network from scratch on it.

The synthetic-only, from-random baseline. The bundled default weights are distilled from Robust
Video Matting's published model on top of its encoder instead (``python -m training.distill``,
docs/weights.md); ``--bundle`` writes this recipe's results over the bundled files, which
nothing does by default.

    python -m training.default_weights              # the shipped recipe, resumable
    python -m training.default_weights --scale 0.1  # a smoke run of the same schedule
    python -m training.default_weights --no-rooms   # stop after stage 4 (no room plates)

The paper's three stages in miniature, sized for a 2-core CPU (docs/weights.md has the
figures of the run that produced the shipped checkpoint):

1. data: 2D procedural clips and Blender-rendered clips (``training.synthetic``), merged into
   one VideoMatte240K-layout tree (clip folders are symlinks);
2. stage 1, image matting (T = 1), shared by both variants;
3. stages 2 and 3 for two variants trained side by side with equal budgets, one thread each:
   ``memory`` (the shipped network, T > 1) and ``ablated`` (T = 1: the memory only ever sees
   the frame itself; the quality report's ablation), then a fine-tune of both without
   augmentation;
4. stage 5 ("rooms") for both variants on a half-rendered mix over the 120 rendered room
   plates (``--no-rooms`` skips it and the plates); ``--restart-steps N`` adds stage 6, a
   second cosine cycle of stage 5 from its weights (tried, not shipped: docs/weights.md);
5. with ``--bundle``, the ``memory`` variant's final weights, cast to fp16, are written to
   ``core/assets/memmatte_default.safetensors``, and the ``ablated`` one's to
   ``training/assets/memmatte_ablated.safetensors``.

Every step skips work that is already done, so the command can be rerun after a stop.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from core.runtime import DEFAULT_WEIGHTS

ROOT = Path(__file__).resolve().parents[1]
ASSET = DEFAULT_WEIGHTS
ABLATED_ASSET = ROOT / "training" / "assets" / "memmatte_ablated.safetensors"
"""The memory-ablated variant, fp16: the quality report's (b), kept so a fresh clone can rerun it."""


@dataclass(frozen=True)
class Plan:
    """Step counts and sizes of the miniature schedule."""

    procedural_clips: int = 320
    rendered_clips: int = 48
    room_plates: int = 120
    clip_frames: int = 12
    size: tuple[int, int] = (144, 256)
    stage1_steps: int = 300
    stage2_steps: int = 450
    stage3_steps: int = 100
    finetune_steps: int = 800
    rooms_steps: int = 2000  # stage 5; 0 skips it
    restart_steps: int = 0  # optional stage 6: stage 5 again from its weights; 0 skips it
    lr_backbone: float = 5e-4
    lr_rest: float = 1e-3

    def scaled(self, factor: float) -> Plan:
        def steps(count: int, least: int) -> int:
            return max(least, int(count * factor)) if count else 0

        return dataclasses.replace(
            self,
            stage1_steps=steps(self.stage1_steps, 20),
            stage2_steps=steps(self.stage2_steps, 20),
            stage3_steps=steps(self.stage3_steps, 10),
            finetune_steps=steps(self.finetune_steps, 10),
            rooms_steps=steps(self.rooms_steps, 10),
            restart_steps=steps(self.restart_steps, 10),
        )


def _run(cmd: list[str], *, threads: int | None = None, log: Path | None = None):
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    print("+", " ".join(cmd), flush=True)
    if log:
        log.parent.mkdir(parents=True, exist_ok=True)
    out = open(log, "a") if log else None  # noqa: SIM115
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def _wait(*procs: subprocess.Popen) -> None:
    for proc in procs:
        if proc.wait() != 0:
            raise SystemExit(f"failed: {' '.join(map(str, proc.args))}")


def make_data(work: Path, plan: Plan) -> Path:
    """Writes both generators' clips and merges them into ``work/combined``."""
    h, w = plan.size
    procedural = work / "procedural" / "VideoMatte240K"
    if not (procedural / "train").is_dir():
        _wait(
            _run(
                [
                    sys.executable,
                    "-m",
                    "training.synthetic.procedural",
                    "--out",
                    str(procedural),
                    "--clips",
                    str(plan.procedural_clips),
                    "--frames",
                    str(plan.clip_frames),
                    "--size",
                    f"{w}x{h}",
                    "--seed",
                    "100000",
                    "--valid-fraction",
                    "0.05",
                ]
            )
        )
    rendered = work / "rendered" / "VideoMatte240K"
    if plan.rendered_clips:
        _wait(
            _run(
                [
                    sys.executable,
                    "-m",
                    "training.synthetic.rendered",
                    "--out",
                    str(rendered),
                    "--clips",
                    str(plan.rendered_clips),
                    "--frames",
                    str(plan.clip_frames),
                    "--size",
                    f"{w}x{h}",
                    "--seed",
                    "200000",
                    "--valid-fraction",
                    "0",
                    "--backgrounds",
                    str(plan.room_plates),
                ]
            )
        )
    combined = work / "combined" / "VideoMatte240K"
    for prefix, source in (("proc", procedural), ("blend", rendered)):
        fgr_root = source / "train" / "fgr"
        for clip in sorted(fgr_root.glob("*")) if fgr_root.is_dir() else []:
            pha = source / "train" / "pha" / clip.name
            complete = len(list(clip.glob("*.jpg"))) == plan.clip_frames and pha.is_dir()
            if not complete or len(list(pha.glob("*"))) != plan.clip_frames:
                continue  # a clip still being rendered
            for kind, folder in (("fgr", clip), ("pha", pha)):
                link = combined / "train" / kind / f"{prefix}_{clip.name}"
                link.parent.mkdir(parents=True, exist_ok=True)
                if not link.exists():
                    link.symlink_to(folder.resolve())
        bg = source.parent / (source.name + "_bg") / "train"
        for clip in sorted(bg.glob("*")) if bg.is_dir() else []:
            link = combined.parent / "VideoMatte240K_bg" / "train" / f"{prefix}_{clip.name}"
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists():
                link.symlink_to(clip.resolve())
    _balanced(work, combined)
    return combined


def _balanced(work: Path, combined: Path) -> Path:
    """``work/balanced``: every rendered clip and as many procedural ones (evenly spaced),
    with the combined background videos and the rendered room plates as still backgrounds.
    The last stage trains on it, so half of what it sees is the rendered kind."""
    balanced = work / "balanced" / "VideoMatte240K"
    fgr = sorted((combined / "train" / "fgr").glob("*"))
    rendered = [c.name for c in fgr if c.name.startswith("blend_")]
    procedural = [c.name for c in fgr if c.name.startswith("proc_")]
    step = max(1, len(procedural) // max(1, len(rendered)))
    for name in rendered + procedural[::step][: len(rendered)]:
        for kind in ("fgr", "pha"):
            link = balanced / "train" / kind / name
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists():
                link.symlink_to((combined / "train" / kind / name).resolve())
    for name, target in (
        ("VideoMatte240K_bg", combined.parent / "VideoMatte240K_bg"),
        ("rooms", work / "rendered" / "VideoMatte240K_bg" / "images"),
    ):
        link = balanced.parent / name
        if target.is_dir() and not link.exists():
            link.symlink_to(target.resolve())
    return balanced


def _train_cmd(
    config: str, run: Path, data: Path, plan: Plan, steps: int, *sets: str, init: Path | None = None
) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "training.train",
        "--config",
        config,
        "--out",
        str(run),
        "--set",
        f"data.roots.videomatte={data}",
        "--set",
        f"data.roots.background_videos={data.parent / 'VideoMatte240K_bg' / 'train'}",
        "--set",
        f"schedule.max_steps={steps}",
        "--set",
        "schedule.epochs=1000",
        "--set",
        "segmentation.every=0",
        "--set",
        "optim.precision='auto'",
        "--set",
        "data.workers=1",
        "--set",
        "run.checkpoint_every=100",
    ]
    for item in sets:
        cmd += ["--set", item]
    if init is not None:
        cmd += ["--init", str(init)]
    if (run / "checkpoints").is_dir() or any(run.glob("step-*")):
        cmd.append("--resume")
    return cmd


# Per variant: (clip length, batch) at 144x256 and (clip length, batch) in stage 3, so both
# variants see the same frames per step.
VARIANTS = {"memory": ((4, 2), (3, 1)), "ablated": ((1, 8), (1, 3))}


def _stage(
    runs: Path,
    data: Path,
    plan: Plan,
    stage: str,
    config: str,
    steps: int,
    settings: dict[str, tuple[str, ...]],
    init: dict[str, Path],
) -> None:
    """Trains every variant missing ``<runs>/<variant>-<stage>/final.safetensors``, side by
    side, one thread each."""
    procs = []
    for name in VARIANTS:
        run = runs / f"{name}-{stage}"
        if not (run / "final.safetensors").is_file():
            cmd = _train_cmd(config, run, data, plan, steps, *settings[name], init=init[name])
            procs.append(_run(cmd, threads=1, log=runs / f"{name}-{stage}.log"))
    _wait(*procs)


def train(work: Path, data: Path, plan: Plan) -> dict[str, Path]:
    h, w = plan.size
    lrs = (
        f"optim.lr_backbone={plan.lr_backbone}",
        f"optim.lr_rest={plan.lr_rest}",
        "optim.lr_decay='cosine'",
        "optim.warmup_steps=30",
    )
    runs = work / "runs"
    stage1 = runs / "stage1"
    if not (stage1 / "final.safetensors").is_file():
        cmd = _train_cmd(
            "training/configs/synthetic_stage1.toml", stage1, data, plan, plan.stage1_steps,
            f"data.size=[{h}, {w}]", "data.batch_size=8", *lrs,
        )  # fmt: skip
        _wait(_run(cmd, log=runs.with_suffix(".stage1.log")))

    def low(name: str) -> tuple[str, ...]:
        t, b = VARIANTS[name][0]
        return (f"data.size=[{h}, {w}]", f"data.clip_length={t}", f"data.batch_size={b}")

    def high(name: str) -> tuple[str, ...]:
        t, b = VARIANTS[name][1]
        return (f"data.size=[{2 * h}, {2 * w}]", f"data.clip_length={t}",
                f"data.batch_size={b}", "schedule.downsample_ratio=0.5")  # fmt: skip

    def final(stage: str) -> dict[str, Path]:
        return {name: runs / f"{name}-{stage}" / "final.safetensors" for name in VARIANTS}

    _stage(runs, data, plan, "stage2", "training/configs/synthetic_stage2.toml",
           plan.stage2_steps, {n: (*low(n), *lrs) for n in VARIANTS},
           dict.fromkeys(VARIANTS, stage1 / "final.safetensors"))  # fmt: skip
    _stage(runs, data, plan, "stage3", "training/configs/synthetic_stage3.toml",
           plan.stage3_steps, {n: high(n) for n in VARIANTS}, final("stage2"))  # fmt: skip
    # Fine-tune without augmentation: the miniature budget is too short for the RVM-style
    # zoom-out augmentation (training crops showed ~5% person coverage against 15-30% in the
    # clips themselves), so both variants finish on the clips as they are.
    tune = ("optim.lr_backbone=0.0002", "optim.lr_rest=0.0004", "optim.lr_decay='cosine'",
            "data.augment=false", "schedule.stage='synthetic-finetune'")  # fmt: skip
    _stage(runs, data, plan, "stage4", "training/configs/synthetic_stage2.toml",
           plan.finetune_steps, {n: (*low(n), *tune) for n in VARIANTS}, final("stage3"))  # fmt: skip
    if not plan.rooms_steps:
        return final("stage4")
    # Rooms: half rendered people, half procedural, over rendered room plates (still) or
    # the procedural background videos, still without augmentation. Stage 4 never showed
    # the network a room, and the rendered test set is people in rooms.
    balanced = work / "balanced" / "VideoMatte240K"
    rooms = (*tune, "data.backgrounds=['images', 'videos']",
             f"data.roots.background_images={balanced.parent / 'rooms'}",
             "schedule.stage='synthetic-rooms'")  # fmt: skip
    _stage(runs, balanced, plan, "stage5", "training/configs/synthetic_stage2.toml",
           plan.rooms_steps, {n: (*low(n), *rooms) for n in VARIANTS}, final("stage4"))  # fmt: skip
    if not plan.restart_steps:
        return final("stage5")
    # Optional: a second cosine cycle of the same stage from its final weights (stage 5's
    # loss was still falling when its learning rate reached 0). Not in the shipped recipe.
    _stage(runs, balanced, plan, "stage6", "training/configs/synthetic_stage2.toml",
           plan.restart_steps, {n: (*low(n), *rooms) for n in VARIANTS}, final("stage5"))  # fmt: skip
    return final("stage6")


def bundle(final: Path, asset: Path = ASSET) -> Path:
    """Casts a variant's final weights to fp16 and writes them to ``asset`` (by default the
    bundled default weights)."""
    import torch

    from core.weights import load_network, read_weights, save_weights

    network = load_network(final)  # keeps the auto_long_side training recorded (256)
    _, meta = read_weights(final)
    reserved = {"format", "format_version", "config", "stage", "auto_long_side"}
    extra = {k: v for k, v in meta.items() if k not in reserved}
    extra["trained_by"] = "python -m training.default_weights"
    return save_weights(
        network, asset, stage=meta.get("stage", ""), dtype=torch.float16, metadata=extra
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.default_weights",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--work", type=Path, default=ROOT / "data" / "default")
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply the step counts (e.g. 0.1 for a smoke run)",
    )
    parser.add_argument(
        "--no-rooms",
        action="store_true",
        help="the recipe before stage 5: 24 rendered clips, no room plates, stages 1-4",
    )
    parser.add_argument("--rendered-clips", type=int, help="default: 48, 24 with --no-rooms")
    parser.add_argument("--room-plates", type=int, help="default: 120, 0 with --no-rooms")
    parser.add_argument(
        "--restart-steps",
        type=int,
        help="steps of an optional stage 6 (stage 5 again from its weights); default 0",
    )
    parser.add_argument(
        "--bundle",
        action="store_true",
        help="overwrite the bundled default and ablated weights with this run's",
    )
    args = parser.parse_args(argv)
    plan = (
        Plan(rooms_steps=0, restart_steps=0, rendered_clips=24, room_plates=0)
        if args.no_rooms
        else Plan()
    )
    given = {
        "rendered_clips": args.rendered_clips,
        "room_plates": args.room_plates,
        "restart_steps": args.restart_steps,
    }
    plan = dataclasses.replace(plan, **{k: v for k, v in given.items() if v is not None})
    plan = plan.scaled(args.scale)
    start = time.time()
    data = make_data(args.work, plan)
    finals = train(args.work, data, plan)
    if args.bundle:
        print(f"wrote {bundle(finals['memory'])}")
        print(f"wrote {bundle(finals['ablated'], ABLATED_ASSET)}")
    print(f"done in {(time.time() - start) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
