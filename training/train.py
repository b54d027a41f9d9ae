"""Trains the matting network, one stage of the paper's schedule (§5.1) per run.

    python -m training.train --config training/configs/stage1.toml --init imagenet.safetensors
    torchrun --nproc_per_node 4 -m training.train --config training/configs/stage2.toml \
        --init runs/stage1/final.safetensors
    python -m training.train --config training/configs/stage2.toml --resume   # after a kill

Each matting step composites a batch of clips (eq. 1), runs the network and minimises
``L_vid`` (eq. 11); after every ``segmentation.every``-th step one segmentation batch trains the
segmentation head with binary cross-entropy, as in Robust Video Matting. Under ``torchrun`` the
network is wrapped in DistributedDataParallel (NCCL on GPU, gloo on CPU); on GPU it runs under
autocast. See docs/training.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn import functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from core.model import MattingNetwork, MattingOutput, NetworkConfig
from core.runtime import autocast, autocast_dtype, resolve_device, resolve_precision
from core.weights import WeightsError, load_into, read_weights, save_weights
from training import checkpoint
from training.batches import (
    INIT_STREAM,
    SEGMENTATION_STREAM,
    STEP_STREAM,
    BatchStream,
    epoch_batches,
    loader,
    steps_per_epoch,
    stream_seed,
)
from training.config import ConfigError, TrainConfig, load_config
from training.data import DatasetLayoutError, composite
from training.losses import LossTerms, segmentation_loss, total_loss
from training.optimisation import lr_factor, param_group
from training.sources import MissingRootError, matting_dataset, segmentation_dataset, set_epoch

LOSS_TERMS = ("alpha_l1", "laplacian", "composition", "tem_agg", "tem")
PARAM_GROUPS = ("backbone", "rest", "refiner")


@dataclass(frozen=True)
class Distributed:
    """This process's place in the job (``torchrun`` sets the environment; alone: 0 of 1)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_environment(cls, backend: str) -> Distributed:
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        if world_size == 1:
            return cls()
        if not dist.is_initialized():
            dist.init_process_group(backend)
        return cls(dist.get_rank(), world_size, int(os.environ.get("LOCAL_RANK", "0")))


def build_network(config: TrainConfig) -> MattingNetwork:
    """A network of ``model.preset``, seeded from ``schedule.seed``, loaded from ``run.init``."""
    torch.manual_seed(stream_seed(config.schedule.seed, INIT_STREAM))
    wanted = config.model.network()
    network = MattingNetwork(wanted)
    if config.run.init:
        tensors, metadata = read_weights(config.run.init)
        if "config" in metadata and NetworkConfig.from_json(metadata["config"]) != wanted:
            raise WeightsError(
                f"{config.run.init}: its network config {metadata['config']} is not "
                f"model.preset = {config.model.preset!r}"
            )
        load_into(network, tensors, source=config.run.init)
    return network


def changed_keys(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two config dicts."""
    keys = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            keys += changed_keys(a, b, f"{prefix}{key}.")
        elif a != b:
            keys.append(f"{prefix}{key}")
    return keys


def sample_grid(
    frames: torch.Tensor, true_pha: torch.Tensor, out: MattingOutput, height: int = 256
) -> torch.Tensor:
    """(3, 4h, T'w) image for TensorBoard: rows composite, true alpha, predicted alpha and the
    predicted foreground over green, for up to 4 frames of the batch's first clip, each tile
    scaled to at most ``height`` pixels high."""
    t = min(4, frames.shape[1])
    green = torch.tensor([0.0, 0.8, 0.0], device=frames.device).view(1, 3, 1, 1)
    pha = out.alpha[0, :t].float()
    rows = [
        frames[0, :t],
        true_pha[0, :t].expand(-1, 3, -1, -1),
        pha.expand(-1, 3, -1, -1),
        torch.lerp(green, out.foreground[0, :t].float(), pha),
    ]
    h, w = frames.shape[-2:]
    if h > height:
        size = (height, max(1, round(w * height / h)))
        rows = [F.interpolate(row, size=size, mode="area") for row in rows]
    return torch.cat([torch.cat(list(row), dim=-1) for row in rows], dim=-2).clamp(0, 1).cpu()


class TrainingForward(nn.Module):
    """What DistributedDataParallel wraps: the network's forward, returning only the tensors
    the step's loss uses, so DDP sees which parameters a pass leaves without gradient (the
    aggregation head in a segmentation pass, the segmentation head in a matting pass)."""

    def __init__(self, network: MattingNetwork) -> None:
        super().__init__()
        self.network = network

    def forward(
        self, frames: torch.Tensor, downsample_ratio: float = 1.0, segmentation_pass: bool = False
    ) -> tuple[torch.Tensor, ...]:
        out = self.network(frames, downsample_ratio, segmentation_pass)
        if segmentation_pass:
            return (out.segmentation,)
        return out.foreground, out.alpha, out.agg_foreground, out.agg_alpha


class Trainer:
    """One training run: builds everything from a ``TrainConfig`` and runs (or resumes) it.

    ``stop_after`` ends the run after that global step (with a checkpoint there), as a
    time-boxed job or a test would.
    """

    def __init__(
        self,
        config: TrainConfig,
        *,
        resume: bool = False,
        stop_after: int | None = None,
        distributed: Distributed | None = None,
    ) -> None:
        self.config = config
        self.stop_after = stop_after
        try:
            self.device = resolve_device(config.run.device)
        except ValueError:
            raise ConfigError("run.device = 'cuda' but torch sees no CUDA device") from None
        backend = "nccl" if self.device.type == "cuda" else "gloo"
        self.dist = distributed or Distributed.from_environment(backend)
        if self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
            torch.cuda.set_device(self.device)
            torch.backends.cudnn.benchmark = True
        self.run_dir = Path(config.run.dir)

        self.network = build_network(config).to(self.device).train()
        # Checkpoints record the network resolution they were trained at, so that
        # MattingSession's downsample_ratio="auto" runs them at that scale.
        self.network.auto_long_side = round(
            max(config.data.size) * config.schedule.downsample_ratio
        )
        self.optimizer = self._build_optimizer()
        self.model: nn.Module = TrainingForward(self.network)
        if self.dist.world_size > 1:
            self.model = DistributedDataParallel(
                self.model,
                device_ids=[self.device.index] if self.device.type == "cuda" else None,
                # Each pass leaves some heads without gradient (see TrainingForward).
                find_unused_parameters=True,
            )
        precision = resolve_precision(config.optim.precision, self.device, training="fp16")
        self.precision = precision
        self.amp_dtype = autocast_dtype(precision, self.device)
        self.use_amp = self.amp_dtype is not None
        if self.dist.main:
            # The precision it really trains in: fp16 on the CPU runs in fp32.
            actual = precision if self.use_amp else "fp32"
            note = f" (optim.precision={precision} is CUDA only)" if actual != precision else ""
            print(f"training on {self.device} in {actual}{note}", file=sys.stderr)
        self.scaler = torch.amp.GradScaler(
            "cuda", enabled=self.use_amp and self.amp_dtype is torch.float16
        )

        self.matting = matting_dataset(config.data, config.schedule.seed)
        self.steps_per_epoch = steps_per_epoch(
            len(self.matting), config.data.batch_size, self.dist.world_size
        )
        if self.steps_per_epoch == 0:
            raise ConfigError(
                f"{len(self.matting)} matting clips cannot fill one step of "
                f"{config.data.batch_size} clips x {self.dist.world_size} processes"
            )
        self.total_steps = self.steps_per_epoch * config.schedule.epochs
        if config.schedule.max_steps:
            self.total_steps = min(self.total_steps, config.schedule.max_steps)
        optim = config.optim
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer,
            lambda s: lr_factor(s, self.total_steps, optim.warmup_steps, optim.lr_decay),
        )

        self.step = 0
        self.seg_step = 0
        if resume:
            self._restore()
        elif checkpoint.list_steps(self.run_dir):
            raise ConfigError(
                f"{checkpoint.checkpoint_dir(self.run_dir)} already has checkpoints: pass "
                "--resume to continue that run, or choose another run.dir"
            )
        self.segmentation = self._segmentation_stream()
        self._open_logs(resumed=resume)

    # -- construction --------------------------------------------------------------------

    def _build_optimizer(self) -> torch.optim.Optimizer:
        optim = self.config.optim
        rates = {"backbone": optim.lr_backbone, "rest": optim.lr_rest, "refiner": optim.lr_refiner}
        groups: dict[str, list[nn.Parameter]] = {name: [] for name in PARAM_GROUPS}
        for name, parameter in self.network.named_parameters():
            group = param_group(name)
            parameter.requires_grad_(rates[group] > 0)
            groups[group].append(parameter)
        return torch.optim.Adam(
            [
                {"params": groups[name], "lr": rates[name], "name": name}
                for name in PARAM_GROUPS
                if rates[name] > 0
            ]
        )

    def _segmentation_stream(self) -> BatchStream | None:
        seg = self.config.segmentation
        if not seg.every:
            return None
        return BatchStream(
            segmentation_dataset(seg, self.config.data, self.config.schedule.seed),
            batch_size=seg.batch_size,
            world_size=self.dist.world_size,
            rank=self.dist.rank,
            seed=self.config.schedule.seed,
            stream=SEGMENTATION_STREAM,
            workers=self.config.data.workers,
            pin_memory=self.device.type == "cuda",
            start=self.seg_step,
            set_epoch=set_epoch,
        )

    def _restore(self) -> None:
        steps = checkpoint.list_steps(self.run_dir)
        if not steps:
            raise ConfigError(
                f"--resume: no checkpoint in {checkpoint.checkpoint_dir(self.run_dir)}"
            )
        weights, state_path = checkpoint.paths(self.run_dir, steps[-1])
        state = checkpoint.load_state(state_path)
        if state["world_size"] != self.dist.world_size:
            raise ConfigError(
                f"{state_path} was written by {state['world_size']} processes; resume with the "
                f"same number (now {self.dist.world_size}) so every rank reads the same batches"
            )
        tensors, _ = read_weights(weights)
        load_into(self.network, tensors, source=str(weights))
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.step, self.seg_step = state["step"], state["seg_step"]
        changed = changed_keys(tomllib.loads(state["config"]), self.config.to_dict())
        if changed and self.dist.main:
            print(
                f"warning: resuming {state_path} with changed settings: {', '.join(changed)}",
                file=sys.stderr,
            )

    def _open_logs(self, resumed: bool) -> None:
        self.writer = None
        self.loss_log = None
        if not self.dist.main:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "config.toml").write_text(self.config.to_toml())
        log_path = self.run_dir / "losses.jsonl"
        kept = []
        if resumed and log_path.is_file():
            # A killed run may have logged steps after its last checkpoint; they are redone.
            kept = [
                line
                for line in log_path.read_text().splitlines()
                if line and json.loads(line)["step"] <= self.step
            ]
        log_path.write_text("".join(line + "\n" for line in kept))
        self.loss_log = log_path.open("a")
        self.writer = SummaryWriter(
            str(self.run_dir / "tensorboard"), purge_step=self.step + 1 if resumed else None
        )

    # -- steps ---------------------------------------------------------------------------

    def _autocast(self):
        return autocast(self.precision, self.device)

    def _optimise(self, loss: torch.Tensor) -> None:
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)

    def matting_step(self, batch) -> tuple[LossTerms, torch.Tensor, torch.Tensor, MattingOutput]:
        """One optimisation step of eq. (11) on a batch of (fgr, pha, bgr) clips."""
        fgr, pha, bgr = (x.to(self.device, non_blocking=True) for x in batch)
        frames = composite(fgr, pha, bgr)
        with self._autocast():
            outputs = self.model(frames, downsample_ratio=self.config.schedule.downsample_ratio)
        out = MattingOutput(*(x.float() for x in outputs))
        terms = total_loss(out.alpha, out.foreground, out.agg_alpha, out.agg_foreground, pha, fgr)
        self._optimise(terms.total)
        return terms, frames, pha, out

    def segmentation_step(self, batch) -> torch.Tensor:
        """One optimisation step of the segmentation BCE on a batch of (image, mask) clips."""
        image, mask = (x.to(self.device, non_blocking=True) for x in batch)
        with self._autocast():
            (logits,) = self.model(image, segmentation_pass=True)
        loss = segmentation_loss(logits.float(), mask)
        self._optimise(loss)
        return loss

    # -- the loop ------------------------------------------------------------------------

    def run(self) -> list[dict[str, Any]]:
        """Trains to the end of the schedule (or ``stop_after``); returns this call's step
        records (also appended to ``<run>/losses.jsonl`` on rank 0)."""
        records = []
        last_seg = None
        progress = tqdm(
            total=self.total_steps,
            initial=self.step,
            desc=self.config.schedule.stage,
            unit="step",
            disable=not self.dist.main,
            dynamic_ncols=True,
        )
        pin = self.device.type == "cuda"
        data = self.config.data
        while self.step < self.total_steps and not self._stopped():
            epoch, offset = divmod(self.step, self.steps_per_epoch)
            set_epoch(self.matting, epoch)
            batches = epoch_batches(
                len(self.matting),
                data.batch_size,
                self.dist.world_size,
                self.dist.rank,
                self.config.schedule.seed,
                epoch,
            )[offset:]
            for batch in loader(self.matting, batches, data.workers, pin):
                record = self._train_step(batch, epoch)
                records.append(record)
                progress.update(1)
                last_seg = record.get("seg", last_seg)
                postfix = {"epoch": epoch, "loss": f"{record['loss']:.4f}"}
                if last_seg is not None:
                    postfix["seg"] = f"{last_seg:.4f}"
                progress.set_postfix(postfix, refresh=False)
                end_of_epoch = self.step % self.steps_per_epoch == 0
                if (
                    self.step % self.config.run.checkpoint_every == 0
                    or end_of_epoch
                    or self.step == self.total_steps
                    or self._stopped()
                ):
                    self.save_checkpoint()
                if self.step == self.total_steps or self._stopped():
                    break
        progress.close()
        if self.step == self.total_steps and self.dist.main:
            self._save_final()
        self._close()
        return records

    def _stopped(self) -> bool:
        return self.stop_after is not None and self.step >= self.stop_after

    def _train_step(self, batch, epoch: int) -> dict[str, Any]:
        schedule = self.config.schedule
        # Nothing in the network draws random numbers today; seeding per step keeps any future
        # draw a function of (seed, step, rank) like the data, so resume stays exact.
        torch.manual_seed(stream_seed(schedule.seed, STEP_STREAM, self.step, self.dist.rank))
        terms, frames, pha, out = self.matting_step(batch)
        self.step += 1
        values = {name: getattr(terms, name).detach() for name in LOSS_TERMS}
        values["loss"] = terms.total.detach()
        seg = self.config.segmentation
        if seg.every and self.step % seg.every == 0:
            values["seg"] = self.segmentation_step(next(self.segmentation)).detach()
            self.seg_step += 1
        record = {"step": self.step, "epoch": epoch, **self._global_mean(values)}
        record["rank_loss"] = self._gather(values["loss"])
        for group in self.optimizer.param_groups:
            record[f"lr_{group['name']}"] = group["lr"]
        self.scheduler.step()
        if self.dist.main:
            self._log(record, frames, pha, out)
        return record

    def _global_mean(self, values: dict[str, torch.Tensor]) -> dict[str, float]:
        stacked = torch.stack([values[k].float() for k in values])
        if self.dist.world_size > 1:
            dist.all_reduce(stacked)
            stacked /= self.dist.world_size
        return dict(zip(values, stacked.tolist(), strict=True))

    def _gather(self, value: torch.Tensor) -> list[float]:
        if self.dist.world_size == 1:
            return [value.item()]
        parts = [torch.zeros_like(value) for _ in range(self.dist.world_size)]
        dist.all_gather(parts, value.contiguous())
        return [p.item() for p in parts]

    def _log(self, record: dict[str, Any], frames, pha, out: MattingOutput) -> None:
        assert self.loss_log is not None and self.writer is not None
        self.loss_log.write(json.dumps(record) + "\n")
        self.loss_log.flush()
        run, step = self.config.run, self.step
        if step % run.log_every == 0 or step == 1:
            for name in (*LOSS_TERMS, "loss"):
                self.writer.add_scalar(f"matting/{name}", record[name], step)
            if "seg" in record:
                self.writer.add_scalar("segmentation/bce", record["seg"], step)
            for name in PARAM_GROUPS:
                if f"lr_{name}" in record:
                    self.writer.add_scalar(f"lr/{name}", record[f"lr_{name}"], step)
        if run.image_every and (step % run.image_every == 0 or step == 1):
            with torch.no_grad():
                self.writer.add_image("matting/sample", sample_grid(frames, pha, out), step)

    # -- checkpoints ---------------------------------------------------------------------

    def save_checkpoint(self) -> None:
        if not self.dist.main:
            return
        state = {
            "step": self.step,
            "seg_step": self.seg_step,
            "world_size": self.dist.world_size,
            "seed": self.config.schedule.seed,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "config": self.config.to_toml(),
        }
        checkpoint.save(
            self.run_dir,
            self.step,
            self.network,
            state,
            stage=self.config.schedule.stage,
            metadata=self._metadata(),
            keep=self.config.run.keep_checkpoints,
        )

    def _metadata(self) -> dict[str, str]:
        return {
            "step": str(self.step),
            "epoch": f"{self.step / self.steps_per_epoch:.3f}",
            "seed": str(self.config.schedule.seed),
        }

    def _save_final(self) -> None:
        path = save_weights(
            self.network,
            self.run_dir / "final.safetensors",
            stage=self.config.schedule.stage,
            metadata=self._metadata(),
        )
        print(f"wrote {path}", file=sys.stderr)

    def _close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.loss_log is not None:
            self.loss_log.close()
        if self.dist.world_size > 1:
            dist.barrier()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m training.train",
        description="Train one stage of the matting schedule (see docs/training.md).",
    )
    parser.add_argument("--config", type=Path, required=True, help="a training/configs/*.toml")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set data.roots.videomatte=/data/VM240K (repeatable)",
    )
    parser.add_argument("--init", help="weights to start from (overrides run.init)")
    parser.add_argument("--out", help="run folder (overrides run.dir)")
    parser.add_argument(
        "--resume", action="store_true", help="continue from the run folder's last checkpoint"
    )
    parser.add_argument(
        "--stop-after", type=int, metavar="STEP", help="stop after this global step (checkpointed)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    overrides = list(args.overrides)
    if args.init is not None:
        overrides.append(f"run.init={json.dumps(args.init)}")
    if args.out is not None:
        overrides.append(f"run.dir={json.dumps(args.out)}")
    try:
        config = load_config(args.config, overrides)
        trainer = Trainer(config, resume=args.resume, stop_after=args.stop_after)
    except (ConfigError, WeightsError, DatasetLayoutError, MissingRootError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    records = trainer.run()
    rank = trainer.dist
    last = f"loss {records[-1]['loss']:.4f}" if records else "nothing to do"
    print(
        f"[rank {rank.rank}/{rank.world_size}] {len(records)} steps, now at step "
        f"{trainer.step}/{trainer.total_steps}, {last}",
        file=sys.stderr,
    )
    if dist.is_initialized():
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
