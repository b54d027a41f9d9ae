"""The ahead-of-time engine: ``FusedGraphs`` exported with ``torch.export`` and compiled into
AOTInductor packages, kept in the ``core.compiled`` cache and loaded in well under a second.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from core.compiled import GraphKey, code_digest, load_package, package
from core.engines.fused import FusedEngine, FusedGraphs, empty_memory
from core.model import MattingNetwork
from core.model.guided_filter import frame_taps
from core.runtime import autocast, autocast_dtype


class AotEngine(FusedEngine):
    """``FusedEngine`` over loaded packages (``load``): ``step`` for the shot's one size,
    ``apply`` when the shot is refined (None otherwise)."""

    def __init__(
        self,
        network: MattingNetwork,
        device: torch.device,
        precision: str,
        packages: tuple[Any, Any],
    ) -> None:
        super().__init__(network, device, precision)
        self._step, self._apply = packages

    def _call_step(
        self, image: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, size: tuple[int, int]
    ) -> tuple[torch.Tensor, ...]:
        # Packages are compiled for one layout of their inputs and do not check it.
        return self._step(image, keys.contiguous(), values.contiguous())

    def _call_apply(
        self, image: torch.Tensor, coefficients: torch.Tensor, taps: tuple[torch.Tensor, ...]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self._apply(image, coefficients, taps)


def graph_code() -> str:
    """``GraphKey.code``: the digest of the code the packages are traced from."""
    return code_digest(FusedGraphs, _Step, _Apply, autocast, autocast_dtype)


def build(
    network: MattingNetwork, device: torch.device, precision: str, key: GraphKey, folder: Path
) -> None:
    """Writes the packages of ``key`` (its frame and network sizes) into ``folder``:
    ``step.pt2``, and ``apply.pt2`` when ``key.refine``."""
    (height, width), size = key.frame, key.network
    image = torch.rand(1, 3, height, width, device=device)
    image = image.contiguous(memory_format=torch.channels_last)
    keys, values = empty_memory(network.config, size, device)
    graphs = FusedGraphs(network, device, precision)
    package(_Step(graphs, size), (image, keys, values), folder / "step.pt2")
    if key.refine:
        # The full-resolution pass is exported for the coefficients' real layout: the one
        # the step package returns.
        step = load_package(folder / "step.pt2", device)
        with torch.inference_mode():
            coefficients = step(image, keys, values)[0]
        taps = frame_taps((height, width), size, device)
        package(_Apply(network), (image, coefficients.clone(), taps), folder / "apply.pt2")


def load(folder: Path, device: torch.device) -> tuple[Any, Any]:
    """The packages ``build`` wrote: (step, apply or None)."""
    step = load_package(folder / "step.pt2", device)
    apply = folder / "apply.pt2"
    return step, load_package(apply, device) if apply.is_file() else None


class _Step(torch.nn.Module):
    """``FusedGraphs.step`` at one network size, as a module for ``torch.export`` (the
    network is a submodule, so its weights are the exported program's parameters)."""

    def __init__(self, graphs: FusedGraphs, size: tuple[int, int]) -> None:
        super().__init__()
        self.network = graphs.network
        self.step = graphs.step
        self.size = size

    def forward(
        self, image: torch.Tensor, keys: torch.Tensor, values: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        return self.step(image, keys, values, self.size)


class _Apply(torch.nn.Module):
    """``DeepGuidedFilter.apply_frame`` as a module for ``torch.export``."""

    def __init__(self, network: MattingNetwork) -> None:
        super().__init__()
        self.refiner = network.refiner

    def forward(
        self, image: torch.Tensor, coefficients: torch.Tensor, taps: tuple[torch.Tensor, ...]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.refiner.apply_frame(image, coefficients, taps)
