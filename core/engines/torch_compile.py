"""The in-process compiled engine: ``FusedGraphs`` under ``torch.compile``, about half a
minute or more of compiling per session (docs/performance.md)."""

from __future__ import annotations

import types
from typing import Any

import torch

from core.engines.fused import FusedEngine
from core.model import MattingNetwork


class CompiledEngine(FusedEngine):
    """``FusedEngine`` whose graphs inductor compiles on the first frame, with the weights
    frozen into them. Results are close to, not bit-identical with, the eager engine's."""

    def __init__(self, network: MattingNetwork, device: torch.device, precision: str) -> None:
        super().__init__(network, device, precision)
        # Each engine compiles its own copies: dynamo keeps graphs per code object, so
        # sessions sharing one hit its recompile limit after a few sizes or precisions
        # (and kept every earlier session's frozen weights alive).
        self._step = torch.compile(_own_code(self.graphs.step), fullgraph=True, dynamic=False)
        self._apply = torch.compile(_own_code(self.graphs.apply), fullgraph=True, dynamic=False)

    def _call_step(
        self, image: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, size: tuple[int, int]
    ) -> tuple[torch.Tensor, ...]:
        return _frozen(self._step, image, keys, values, size)

    def _call_apply(
        self, image: torch.Tensor, coefficients: torch.Tensor, taps: tuple[torch.Tensor, ...]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return _frozen(self._apply, image, coefficients, taps)


def _frozen(fn: Any, *args: Any) -> Any:
    # Freezing folds the weights (and their bf16 casts) into constants so oneDNN can use
    # pre-packed convolutions: about 25 % faster on the CPU. It must be on whenever a graph
    # (re)compiles, which happens inside a call; compile(options=...) does not reach it.
    from torch._inductor import config as inductor

    with inductor.patch(freezing=True):
        return fn(*args)


def _own_code(method: Any) -> Any:
    """``method`` bound to a function with its own code object, so dynamo's graphs for it
    (kept per code object) belong to this engine alone and die with it."""
    fn = method.__func__
    own = types.FunctionType(
        fn.__code__.replace(), fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__
    )
    return types.MethodType(own, method.__self__)
