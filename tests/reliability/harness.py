"""What every fault class shares: the tally of a run, a tiny network, small shots, the real
command line (in this process or as a child), stderr at the file-descriptor level, and a
size-limited tmpfs where this machine lets us mount one."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
TIME_LIMIT = 120.0
"""Seconds a run of the command line may take before it counts as a hang."""


@dataclass
class Tally:
    """One fault class's results. injected: faults made; survived: those the code handled as
    documented; lost: frames written before a fault that were missing or different at the
    end (must be 0); failures: what went wrong, one line each."""

    fault: str
    command: str
    injected: int = 0
    survived: int = 0
    lost: int = 0
    failures: list[str] = field(default_factory=list)

    def record(self, what: str, problems: Sequence[str], lost: int = 0) -> None:
        self.injected += 1
        self.lost += lost
        if problems:
            self.failures.extend(f"{what}: {p}" for p in problems)
        else:
            self.survived += 1

    def check(self) -> None:
        """Fails (for pytest) unless every fault was survived and nothing was lost."""
        assert self.injected > 0, f"{self.fault}: nothing injected"
        assert not self.failures, "\n".join(self.failures[:20])
        assert self.survived == self.injected and self.lost == 0


def make_weights(folder: Path) -> Path:
    """A random lite network with non-trivial batch-norm statistics, saved as weights."""
    import torch

    from core.model import MattingNetwork, NetworkConfig
    from core.weights import save_weights

    path = folder / "w.safetensors"
    if path.is_file():
        return path
    torch.manual_seed(0)
    network = MattingNetwork(NetworkConfig.lite())
    g = torch.Generator().manual_seed(0)
    for m in network.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=g))
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1 + 0.2)
    return save_weights(network, path)


FORMATS = {".exr": "half", ".png": "uint8", ".jpg": "uint8", ".tif": "uint16"}
"""The plate formats of the fault classes, each with its usual pixel type."""


def write_shot(folder: Path, count: int, ext: str = ".exr", height: int = 32, width: int = 48):
    from tests.hosts.exr.images import write_shot as write

    return write(folder, count, ext=ext, pixel_type=FORMATS[ext], height=height, width=width)


def batch_args(weights: Path, *args: object) -> list[str]:
    """``core.batch`` options every run shares: one CPU thread, so that runs in this
    process, in children and at the same time all give the same bits."""
    return [*map(str, args), "--weights", str(weights), "--device", "cpu", "--threads", "1"]


def child_env() -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path}


def batch_command(weights: Path, *args: object) -> list[str]:
    return [sys.executable, "-m", "core.batch", *batch_args(weights, *args)]


@dataclass(frozen=True)
class Run:
    code: int
    stderr: str
    seconds: float


def run_in_process(weights: Path, *args: object) -> Run:
    """``core.batch``'s ``main`` here, with everything written to file descriptor 2 (ours and
    any C library's) captured."""
    from core.batch import main

    started = time.perf_counter()
    with captured_stderr() as err:
        code = main(batch_args(weights, *args))
    return Run(code, err.text, time.perf_counter() - started)


def run_child(weights: Path, *args: object, timeout: float = TIME_LIMIT) -> Run:
    """``python -m core.batch`` as a child process; a hang is killed and reported."""
    started = time.perf_counter()
    try:
        done = subprocess.run(
            batch_command(weights, *args),
            cwd=ROOT,
            env=child_env(),
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
        return Run(-999, f"hang: no exit within {timeout:.0f} s\n{err}", timeout)
    return Run(done.returncode, done.stderr, time.perf_counter() - started)


def run_problems(run: Run, allowed: Sequence[int], names: str | None) -> list[str]:
    """What is wrong with how a run ended: a signal, a hang, another exit code, a
    traceback or internal error, or (when it failed) not exactly one line naming ``names``."""
    problems = []
    if run.code < 0:
        problems.append(f"ended by signal {-run.code}" if run.code != -999 else run.stderr)
    elif run.code not in allowed:
        problems.append(f"exit {run.code}")
    if "Traceback" in run.stderr or "internal error" in run.stderr:
        problems.append("traceback or internal error")
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    if run.code != 0:
        if len(lines) != 1:
            problems.append(f"{len(lines)} lines on stderr, not one")
        if names is not None and not any(names in line for line in lines):
            problems.append(f"no line names {names}")
    if problems:
        problems.append("stderr: " + " | ".join(lines[-3:]))
    return problems


class _Captured:
    text = ""


@contextlib.contextmanager
def captured_stderr() -> Iterator[_Captured]:
    """File descriptor 2 redirected to a temporary file (libraries print there directly),
    and ``sys.stderr`` writing to it (pytest's capture replaces ``sys.stderr``)."""
    captured = _Captured()
    sys.stderr.flush()
    saved, python_stderr = os.dup(2), sys.stderr
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        sys.stderr = open(2, "w", buffering=1, errors="replace", closefd=False)  # noqa: SIM115
        try:
            yield captured
        finally:
            sys.stderr.flush()
            sys.stderr = python_stderr
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            captured.text = sink.read().decode(errors="replace")


def pixels(path: Path) -> np.ndarray | None:
    """An output's pixels, None when it is missing or does not open."""
    import OpenImageIO as oiio

    if not path.is_file():
        return None
    image = oiio.ImageBuf(str(path))
    if image.has_error:
        return None
    return image.get_pixels(oiio.FLOAT)


def same_pixels(path: Path, reference: Path) -> bool:
    got, expected = pixels(path), pixels(reference)
    return got is not None and expected is not None and np.array_equal(got, expected)


def differing(outputs: Path, reference: Path, names: Sequence[str]) -> list[str]:
    """Names of the files of ``names`` in ``outputs`` that are missing or not byte-identical
    to those in ``reference``."""
    return [
        n
        for n in names
        if not (outputs / n).is_file() or (outputs / n).read_bytes() != (reference / n).read_bytes()
    ]


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if ".tmp-" in p.name or p.name.startswith(".trash-")]


# -- a small disk ------------------------------------------------------------------------


def can_mount() -> bool:
    """Whether this process may mount a tmpfs (root with the capability, as in CI's
    containers when privileged)."""
    if os.geteuid() != 0:
        return False
    with tempfile.TemporaryDirectory() as folder:
        try:
            mount_tmpfs(Path(folder), 64)
        except OSError:
            return False
        unmount(Path(folder))
    return True


def mount_tmpfs(folder: Path, kib: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    _mount(["-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", str(folder)])


def remount(folder: Path, options: str) -> None:
    _mount(["-o", f"remount,{options}", str(folder)])


def unmount(folder: Path) -> None:
    subprocess.run(["umount", "-l", str(folder)], check=False, capture_output=True)


def _mount(args: list[str]) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise OSError(f"mount {' '.join(args)}: {done.stderr.strip()}")
