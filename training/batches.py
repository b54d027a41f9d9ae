"""Which items each process trains on at each step: a pure function of (seed, stream, epoch,
step, rank), so a resumed run reads exactly the batches an uninterrupted run would.

An epoch is a seeded permutation of the dataset cut into global steps of ``batch_size x
world_size`` items; rank r takes the r-th ``batch_size`` slice of every global step, and the
remainder that does not fill a global step is left out of that epoch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

MATTING_STREAM = 0
SEGMENTATION_STREAM = 1
INIT_STREAM = 2
"""Network initialisation."""
STEP_STREAM = 3
"""Per-step, per-rank reseeding of torch's global generator."""


def stream_seed(seed: int, stream: int, *keys: int) -> int:
    """A 63-bit seed for one stream at ``keys`` (epoch, step, rank...), well mixed."""
    state = np.random.SeedSequence([seed, stream, *keys]).generate_state(1, np.uint64)[0]
    return int(state >> np.uint64(1))


def steps_per_epoch(num_items: int, batch_size: int, world_size: int) -> int:
    return num_items // (batch_size * world_size)


def epoch_batches(
    num_items: int,
    batch_size: int,
    world_size: int,
    rank: int,
    seed: int,
    epoch: int,
    stream: int = MATTING_STREAM,
) -> list[list[int]]:
    """Rank ``rank``'s batches of item indices for ``epoch``, one per global step."""
    generator = torch.Generator().manual_seed(stream_seed(seed, stream, epoch))
    order = torch.randperm(num_items, generator=generator).tolist()
    per_step = batch_size * world_size
    return [
        order[s * per_step + rank * batch_size : s * per_step + (rank + 1) * batch_size]
        for s in range(steps_per_epoch(num_items, batch_size, world_size))
    ]


def loader(
    dataset: Dataset, batches: Sequence[list[int]], workers: int, pin_memory: bool
) -> DataLoader:
    """A DataLoader that yields exactly ``batches``, in order, collated to ``(B, T, C, H, W)``."""
    return DataLoader(
        dataset,
        batch_sampler=list(batches),
        num_workers=workers,
        pin_memory=pin_memory,
    )


class BatchStream:
    """Endless batches of one stream for one rank, starting at global step ``start``.

    Used for the segmentation steps, whose epochs are independent of the matting epochs.
    ``set_epoch(dataset, epoch)`` is called before each epoch is loaded.
    """

    def __init__(
        self,
        dataset: Dataset,
        *,
        batch_size: int,
        world_size: int,
        rank: int,
        seed: int,
        stream: int,
        workers: int,
        pin_memory: bool,
        start: int,
        set_epoch,
    ) -> None:
        self.dataset = dataset
        self.batch_size, self.world_size, self.rank = batch_size, world_size, rank
        self.seed, self.stream = seed, stream
        self.workers, self.pin_memory = workers, pin_memory
        self.set_epoch = set_epoch
        self.per_epoch = steps_per_epoch(len(dataset), batch_size, world_size)
        if self.per_epoch == 0:
            raise ValueError(
                f"{len(dataset)} items cannot fill one step of {batch_size} x {world_size} processes"
            )
        self.position = start
        self._iterator: Iterator | None = None

    def __iter__(self) -> BatchStream:
        return self

    def __next__(self):
        if self._iterator is None:
            epoch, offset = divmod(self.position, self.per_epoch)
            self.set_epoch(self.dataset, epoch)
            batches = epoch_batches(
                len(self.dataset),
                self.batch_size,
                self.world_size,
                self.rank,
                self.seed,
                epoch,
                self.stream,
            )[offset:]
            self._iterator = iter(loader(self.dataset, batches, self.workers, self.pin_memory))
        batch = next(self._iterator)
        self.position += 1
        if self.position % self.per_epoch == 0:
            self._iterator = None
        return batch
