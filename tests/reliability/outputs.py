"""Outputs that cannot be written: a disk that fills up in the middle of a shot, and an
output folder removed or made read-only while a shot runs.

Each run must exit 5 with one line naming the frame, leave no partial or temporary file,
and a ``--resume`` once the disk has room again (or the folder is back) must finish with
outputs byte-identical to a clean run's.

The disk is a size-limited tmpfs where this process may mount one (root with the
capability); elsewhere ``OSError(ENOSPC)`` / ``PermissionError`` are injected where the
processor publishes each file (``os.replace`` in ``hosts.exr.io``), the same error path.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from tests.reliability.harness import (
    Tally,
    can_mount,
    differing,
    make_weights,
    mount_tmpfs,
    remount,
    run_in_process,
    run_problems,
    temp_files,
    unmount,
    write_shot,
)

FRAMES = 8
NAMES = [f"m.{1001 + i}.exr" for i in range(FRAMES)]


def _clean_run(root: Path) -> tuple[Path, Path, Path]:
    weights = make_weights(root)
    plates = root / "plates"
    if not plates.is_dir():
        write_shot(plates, FRAMES, height=64, width=96)
    reference = root / "clean"
    if not reference.is_dir():
        run = run_in_process(weights, plates, "-o", reference / "m.####.exr", "-q")
        assert run.code == 0, run.stderr
    return weights, plates, reference


@contextlib.contextmanager
def _patched(module: object, name: str, replacement: object) -> Iterator[None]:
    original = getattr(module, name)
    setattr(module, name, replacement)
    try:
        yield
    finally:
        setattr(module, name, original)


@contextlib.contextmanager
def _before_write(k: int, action: Callable[[], None]) -> Iterator[None]:
    """Runs ``action`` once, just before the processor's ``k``-th write (0-based)."""
    import hosts.exr.processor as processor

    real = processor.write_atomic
    lock = threading.Lock()
    calls = [0]

    def write(*args, **kwargs):
        with lock:
            if calls[0] == k:
                action()
            calls[0] += 1
        real(*args, **kwargs)

    with _patched(processor, "write_atomic", write):
        yield


@contextlib.contextmanager
def _failing_replace(after: int, error: OSError) -> Iterator[None]:
    """``os.replace`` in ``hosts.exr.io`` fails with ``error`` after ``after`` calls."""
    import hosts.exr.io as io

    lock = threading.Lock()
    calls = [0]
    real = os.replace

    class _Os:
        def __getattr__(self, name):
            return getattr(os, name)

        @staticmethod
        def replace(src, dst):
            with lock:
                calls[0] += 1
                failing = calls[0] > after
            if failing:
                raise error
            real(src, dst)

    with _patched(io, "os", _Os()):
        yield


def _check_failure(run, out: Path) -> list[str]:
    problems = run_problems(run, (5,), str(out))
    if run.code == 5 and not any(n in run.stderr for n in NAMES):
        problems.append("the error names no frame")
    if temp_files(out.parent):
        problems.append(f"temporary files left: {temp_files(out.parent)}")
    return problems


def _resume(weights: Path, plates: Path, out: Path, reference: Path) -> tuple[list[str], int]:
    run = run_in_process(weights, plates, "-o", out / "m.####.exr", "-q", "--resume")
    problems = run_problems(run, (0,), None)
    lost = differing(out, reference, NAMES)
    if lost:
        problems.append(f"after --resume, not identical to a clean run: {lost}")
    if temp_files(out.parent):
        problems.append(f"temporary files left after --resume: {temp_files(out.parent)}")
    return problems, len(lost)


def full_disk(count: int, seed: int, root: Path) -> Tally:
    """The disk fills at a random point of an 8-frame shot; room is made; ``--resume``."""
    mounting = can_mount()
    how = "size-limited tmpfs" if mounting else "OSError(ENOSPC) injected at os.replace"
    tally = Tally(
        f"disk full mid-shot ({how}), then --resume",
        f"python -m tests.reliability.report full-disk --count {count} --seed {seed}",
    )
    root.mkdir(parents=True, exist_ok=True)
    weights, plates, reference = _clean_run(root)
    # What the outputs and one temporary file take on a tmpfs (whole 4 KiB pages).
    pages = [-(-(reference / n).stat().st_size // 4096) * 4 for n in NAMES]
    for i in range(count):
        rng = random.Random(f"{seed}/{i}")
        disk = root / f"disk{i}"
        out = disk / "out"
        fits = rng.randrange(FRAMES)  # frames that fit before the disk is full
        if mounting:
            mount_tmpfs(disk, sum(pages[:fits]) + max(4, pages[fits] - 4))
            failing: contextlib.AbstractContextManager = contextlib.nullcontext()
        else:
            disk.mkdir()
            failing = _failing_replace(fits, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
        try:
            with failing:
                run = run_in_process(weights, plates, "-o", out / "m.####.exr", "-q", "--resume")
            problems = _check_failure(run, out)
            if mounting:
                remount(disk, "size=4m")
            more, lost = _resume(weights, plates, out, reference)
            tally.record(f"disk full after {fits} frame(s)", problems + more, lost)
        finally:
            if mounting:
                unmount(disk)
            shutil.rmtree(disk, ignore_errors=True)
    return tally


def unwritable_output(count: int, seed: int, root: Path) -> Tally:
    """The output folder removed, or made read-only, before a random frame's write; then
    put back; ``--resume``."""
    mounting = can_mount()
    root_user = os.geteuid() == 0
    tally = Tally(
        "output folder removed or made read-only mid-shot, then --resume",
        f"python -m tests.reliability.report unwritable --count {count} --seed {seed}",
    )
    root.mkdir(parents=True, exist_ok=True)
    weights, plates, reference = _clean_run(root)
    for i in range(count):
        rng = random.Random(f"{seed}/{i}")
        how = ("removed", "read-only")[i % 2]
        k = rng.randrange(1, FRAMES)
        disk = root / f"ro{i}"
        out = disk / "out"
        mounted = how == "read-only" and root_user and mounting
        if mounted:
            mount_tmpfs(disk, 4096)
        out.mkdir(parents=True)
        failing: contextlib.AbstractContextManager
        if how == "removed":
            failing = _before_write(k, lambda out=out: shutil.rmtree(out))
        elif mounted:
            failing = _before_write(k, lambda disk=disk: remount(disk, "ro"))
        elif not root_user:
            failing = _before_write(k, lambda out=out: out.chmod(0o555))
        else:  # root, who ignores permissions, without a tmpfs to remount read-only
            failing = _failing_replace(k, PermissionError(errno.EACCES, "Permission denied"))
        try:
            with failing:  # one writer: no file open for writing when the disk goes read-only
                args = ("-o", out / "m.####.exr", "-q", "--resume", "--io-threads", "1")
                run = run_in_process(weights, plates, *args)
            problems = _check_failure(run, out)
            why = ("denied", "read-only", "does not exist")
            if run.code == 5 and not any(w in run.stderr.lower() for w in why):
                problems.append("the error does not say why")
            if mounted:
                remount(disk, "rw")
            elif out.is_dir():
                out.chmod(0o755)
            more, lost = _resume(weights, plates, out, reference)
            tally.record(f"output folder {how} before frame {k + 1}", problems + more, lost)
        finally:
            if mounted:
                unmount(disk)
            shutil.rmtree(disk, ignore_errors=True)
    return tally
