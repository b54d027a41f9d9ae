"""Where and how the network runs: device, precision, the CPU's capabilities, default weights.

One policy for inference (``MattingSession``, ``core.batch``, the hosts), training
(``training.train``, ``training.distill``), ``core.export`` and the benchmarks:

- device ``"auto"``: CUDA when torch sees a device, else the CPU; a CUDA device that torch
  cannot see is refused with a ``ValueError``.
- precision ``"auto"``: for inference fp32 on the CPU and fp16 on CUDA. For training the
  mixed precision the hardware computes natively: bf16 on a CPU with AVX-512 BF16 or AMX,
  else fp32; on CUDA the trainer's own choice (fp16 with a gradient scaler, or bf16 where
  the GPU supports it).
- bf16 on a CPU without bf16 hardware is allowed but logged: PyTorch emulates it there,
  hundreds of times slower than fp32 (docs/performance.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import platform
from pathlib import Path

import torch

log = logging.getLogger("memmatte")

DEFAULT_WEIGHTS = Path(__file__).parent / "assets" / "memmatte_default.safetensors"
"""The bundled default checkpoint (docs/weights.md)."""

PRECISIONS = ("fp32", "bf16", "fp16")

EMULATED_BF16 = "this CPU has no AVX-512 BF16 or AMX, so bf16 is emulated and far slower than fp32"


# -- default weights -------------------------------------------------------------------------


def default_weights() -> Path | None:
    """The bundled default checkpoint, or None when this install has none."""
    return DEFAULT_WEIGHTS if DEFAULT_WEIGHTS.is_file() else None


def resolve_weights(
    weights: str | Path | None, hint: str = "pass weights='path/to/checkpoint.safetensors'"
) -> Path:
    """``weights`` as a path, or the bundled default for None. A missing default raises
    ``FileNotFoundError`` whose message ends in ``hint`` (how this caller's user passes
    weights); a missing explicit path is left to the loader, which names it."""
    if weights is not None:
        return Path(weights)
    if not DEFAULT_WEIGHTS.is_file():
        raise FileNotFoundError(
            "no bundled default weights in this install "
            f"({DEFAULT_WEIGHTS} is missing); {hint} "
            "(see docs/weights.md for how to train one)"
        )
    return DEFAULT_WEIGHTS


# -- device ----------------------------------------------------------------------------------


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` (logged), or the named device; a CUDA device needs torch to see CUDA."""
    if str(device) == "auto":
        chosen = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        log.info("memmatte: running on %s", chosen)
        return chosen
    chosen = torch.device(device)
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r}: this torch sees no CUDA device")
    return chosen


def cpu_capability() -> str:
    """The instruction set PyTorch's CPU kernels use here: "AVX512", "AVX2", "DEFAULT"..."""
    return torch.backends.cpu.get_cpu_capability()


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 in hardware (AVX-512 BF16 or AMX). Without it,
    PyTorch emulates bf16 convolutions and matrix products hundreds of times slower
    than fp32."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def cpu_identity() -> str:
    """PyTorch's CPU capability plus a hash of the CPU's feature flags: compiled packages
    hold code built with ``-march=native``, which can crash (illegal instruction) on a CPU
    that lacks one of the builder's features, even with the same capability name."""
    flags = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith(("flags", "Features"))), flags)
    except OSError:
        pass
    return f"{cpu_capability()} {hashlib.sha256(flags.encode()).hexdigest()[:12]}"


def device_identity(device: torch.device) -> str:
    """ "cpu", or the CUDA device's name, compute capability and CUDA version."""
    if device.type != "cuda":
        return device.type
    index = device.index if device.index is not None else torch.cuda.current_device()
    major, minor = torch.cuda.get_device_capability(index)
    return f"cuda {torch.cuda.get_device_name(index)} sm_{major}{minor} cuda {torch.version.cuda}"


# -- precision -------------------------------------------------------------------------------


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 in hardware."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return cpu_has_native_bf16()


def native_precision(device: torch.device) -> str:
    """ "bf16" where ``device`` computes it in hardware, else "fp32": the fastest precision
    that autocasts there (training's "auto" on the CPU; the benchmarks' bf16 modes)."""
    return "bf16" if native_bf16(device) else "fp32"


def resolve_precision(precision: str, device: torch.device, *, training: str | None = None) -> str:
    """ "fp32", "bf16" or "fp16" for the setting ``precision`` ("auto" or one of those).

    Inference (``training`` None): "auto" is fp16 on CUDA, fp32 on the CPU; fp16 on the
    CPU is refused. Training: ``training`` is the CUDA choice ("fp16" or "bf16"; bf16 falls
    back to fp32 on a GPU without it) and "auto" on the CPU is bf16 where the CPU computes
    it natively, else fp32; fp16 on the CPU is returned as asked (trainers run it in fp32,
    ``autocast_dtype`` says so).
    """
    if precision != "auto" and precision not in PRECISIONS:
        raise ValueError(
            f"precision must be one of auto, {', '.join(PRECISIONS)}; got {precision!r}"
        )
    cuda = device.type == "cuda"
    if precision == "auto":
        if training is None:
            return "fp16" if cuda else "fp32"
        if cuda:
            return "fp32" if training == "bf16" and not native_bf16(device) else training
        return native_precision(device)
    if precision == "fp16" and not cuda and training is None:
        raise ValueError("precision='fp16' needs a CUDA device; use 'bf16' on the CPU")
    if precision == "bf16" and not cuda and not cpu_has_native_bf16():
        log.warning("precision='bf16': %s; use fp32 here", EMULATED_BF16)
    return precision


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The dtype ``precision`` autocasts to on ``device``, None for fp32. On the CPU only
    bf16 autocasts: fp16 there is unusably slow and runs in fp32."""
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision)
    if dtype is torch.float16 and device.type != "cuda":
        return None
    return dtype


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """``torch.autocast`` to ``precision`` on ``device``, or nothing for fp32."""
    dtype = autocast_dtype(precision, device)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)
