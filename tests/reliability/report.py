"""Runs the fault classes and prints docs/reliability.md's table.

    python -m tests.reliability.report                 # every class, full counts (long)
    python -m tests.reliability.report --quick         # every class, CI's sample counts
    python -m tests.reliability.report killed-shots --count 5 --seed 3

Each class injects its faults into real runs (see the modules of tests/reliability/) and
counts what was survived as documented and what data was lost; the exit status is 1 when
anything was not survived or any data was lost.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.reliability import caches, inputs, kills, outputs, precompile
from tests.reliability.harness import ROOT, Tally


@dataclass(frozen=True)
class FaultClass:
    run: Callable[[int, int, Path], Tally]
    full: int
    quick: int


def _pytest(nodes: list[str], fault: str, name: str) -> Callable[[int, int, Path], Tally]:
    """A class whose faults are the host tests ``nodes`` (they need the hosts' fixtures)."""

    def run(count: int, seed: int, root: Path) -> Tally:
        tally = Tally(fault, f"python -m tests.reliability.report {name}")
        for node in nodes:
            done = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", node],
                cwd=ROOT,
                capture_output=True,
                text=True,
            )
            tail = done.stdout.strip().splitlines()[-1:] or [done.stderr.strip()]
            tally.record(node.rsplit("::", 1)[-1], [] if done.returncode == 0 else tail)
        return tally

    return run


HOST_TESTS = "tests/hosts/{0}/test_killed.py"
CLASSES: dict[str, FaultClass] = {
    "damaged-reads": FaultClass(inputs.damaged_reads, 400, 300),
    "damaged-shots": FaultClass(
        lambda n, seed, root: inputs.damaged_shots(n, seed, root, child=False), 60, 30
    ),
    "damaged-shots-child": FaultClass(
        lambda n, seed, root: inputs.damaged_shots(n, seed, root, child=True), 30, 2
    ),
    "full-disk": FaultClass(outputs.full_disk, 20, 2),
    "unwritable": FaultClass(outputs.unwritable_output, 20, 2),
    "killed-shots": FaultClass(kills.killed_shots, 20, 2),
    "racing-shots": FaultClass(lambda n, seed, root: kills.racing_shots(n, root), 3, 1),
    "damaged-weights": FaultClass(caches.damaged_weights, 100, 24),
    "damaged-cache": FaultClass(caches.damaged_cache, 200, 40),
    "killed-builds": FaultClass(caches.killed_builds, 20, 3),
    "racing-builds": FaultClass(lambda n, seed, root: caches.racing_builds(n, root), 5, 1),
    "real-precompile": FaultClass(precompile.real_precompiles, 2, 0),
    "blender-killed": FaultClass(
        _pytest(
            [HOST_TESTS.format("blender")],
            "Blender worker's core.batch killed mid-job, then rerun",
            "blender-killed",
        ),
        1,
        1,
    ),
    "nuke-killed": FaultClass(
        _pytest(
            [HOST_TESTS.format("nuke")],
            "Nuke render child killed mid-render, then rerun",
            "nuke-killed",
        ),
        1,
        1,
    ),
}


def table(tallies: list[Tally]) -> str:
    lines = [
        "| fault class | injected | survived | data lost | rerun |",
        "|---|---:|---:|---:|---|",
    ]
    for t in tallies:
        lines.append(f"| {t.fault} | {t.injected} | {t.survived} | {t.lost} | `{t.command}` |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.report")
    parser.add_argument("classes", nargs="*", metavar="CLASS", help=", ".join(CLASSES))
    parser.add_argument("--count", type=int, help="faults per class (default: full counts)")
    parser.add_argument("--seed", type=int, default=27)
    parser.add_argument("--quick", action="store_true", help="CI's sample counts")
    args = parser.parse_args(argv)
    unknown = [name for name in args.classes if name not in CLASSES]
    if unknown:
        parser.error(f"unknown class {', '.join(unknown)}; choose from {', '.join(CLASSES)}")
    os.environ.setdefault("MEMMATTE_CACHE", tempfile.mkdtemp(prefix="memmatte-cache-"))
    tallies = []
    with tempfile.TemporaryDirectory(prefix="memmatte-reliability-") as folder:
        for name in args.classes or CLASSES:
            fault = CLASSES[name]
            count = args.count or (fault.quick if args.quick else fault.full)
            started = time.perf_counter()
            tally = fault.run(count, args.seed, Path(folder) / name)
            seconds = time.perf_counter() - started
            print(
                f"{name}: {tally.survived}/{tally.injected} survived, {tally.lost} lost, "
                f"{seconds:.0f} s",
                file=sys.stderr,
                flush=True,
            )
            for failure in tally.failures[:10]:
                print(f"  {failure}", file=sys.stderr)
            tallies.append(tally)
    print(table(tallies))
    failed = any(t.failures or t.lost or t.survived != t.injected for t in tallies)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
