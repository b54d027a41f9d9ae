"""The real compiled graphs (``core.batch --precompile`` / ``--compile``, AOTInductor
packages): a precompile killed with SIGKILL at random moments, two precompiles into one
cache at once, and a package or manifest damaged. After each, ``--precompile`` finishes,
the cache holds one valid entry and no temporary folder, and a ``--compile`` run writes
mattes byte-identical to those of a run on a cleanly built cache.

A build takes one to two minutes on a small CPU, so this class is slow-only; the same
cache code is exercised in seconds by the stand-in builds of tests/reliability/caches.py.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import time
from pathlib import Path

from tests.reliability.harness import (
    ROOT,
    Tally,
    batch_command,
    child_env,
    differing,
    make_weights,
    run_child,
    run_in_process,
    run_problems,
    temp_files,
    write_shot,
)

NAMES = [f"m.{f}.exr" for f in (1001, 1002, 1003)]


def _check(weights: Path, plates: Path, cache: Path, out: Path, reference: Path) -> list[str]:
    """``--precompile`` again, then a ``--compile`` run: what is wrong with the cache."""
    problems = run_problems(
        run_child(weights, plates, "--precompile", "--cache-dir", cache, "-q", timeout=900),
        (0,),
        None,
    )
    run = run_in_process(
        weights, plates, "--compile", "--cache-dir", cache, "-o", out / "m.####.exr"
    )
    problems += [p for p in run_problems(run, (0,), None) if "lines on stderr" not in p]
    if "loaded compiled graphs" not in run.stderr:
        problems.append("the --compile run did not load the cached graphs")
    entries = [p.name for p in cache.iterdir()]
    if len(entries) != 1:
        problems.append(f"the cache holds {entries}, not one entry")
    if temp_files(cache):
        problems.append(f"temporary folders left: {[p.name for p in temp_files(cache)]}")
    different = differing(out, reference, NAMES)
    if different:
        problems.append(f"mattes differ from a clean cache's: {different}")
    return problems


def real_precompiles(count: int, seed: int, root: Path) -> Tally:
    """``count`` kills at random moments of a precompile, then one race of two precompiles
    and one damaged package."""
    tally = Tally(
        "real --precompile killed (SIGKILL), racing, or its package damaged (slow)",
        f"python -m tests.reliability.report real-precompile --count {count} --seed {seed}",
    )
    root.mkdir(parents=True, exist_ok=True)
    weights = make_weights(root)
    plates = root / "plates"
    write_shot(plates, 3)
    clean = root / "clean-cache"
    started = time.monotonic()
    run = run_child(weights, plates, "--precompile", "--cache-dir", clean, "-q", timeout=900)
    build_seconds = time.monotonic() - started
    assert run.code == 0, run.stderr
    reference = root / "reference"
    args = ("--compile", "--cache-dir", clean, "-o", reference / "m.####.exr", "-q")
    assert run_in_process(weights, plates, *args).code == 0

    for i in range(count):
        rng = random.Random(f"{seed}/{i}")
        cache = root / f"killed{i}"
        command = batch_command(weights, plates, "--precompile", "--cache-dir", cache, "-q")
        child = subprocess.Popen(command, cwd=ROOT, env=child_env(), stderr=subprocess.DEVNULL)
        moment = rng.uniform(0, build_seconds)
        time.sleep(moment)
        child.kill()
        child.wait()
        problems = _check(weights, plates, cache, root / f"out{i}", reference)
        tally.record(f"killed {moment:.0f} s into a precompile", problems)

    cache = root / "race"
    command = batch_command(weights, plates, "--precompile", "--cache-dir", cache, "-q")
    children = [
        subprocess.Popen(command, cwd=ROOT, env=child_env(), stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    problems = [
        f"a precompile exited {c.returncode}: {c.communicate()[1][-300:]}"
        for c in children
        if c.wait() != 0
    ]
    problems += _check(weights, plates, cache, root / "out-race", reference)
    tally.record("two precompiles into one cache at once", problems)

    cache = root / "damaged"
    shutil.copytree(clean, cache)
    (package,) = list(cache.glob("*/step.pt2"))
    package.write_bytes(package.read_bytes()[: package.stat().st_size // 2])
    # A plain run (compiled graphs "when cached") finds the entry, refuses it, rebuilds it.
    out = root / "out-damaged"
    run = run_in_process(weights, plates, "--cache-dir", cache, "-o", out / "m.####.exr")
    problems = [p for p in run_problems(run, (0,), None) if "lines on stderr" not in p]
    if "unusable" not in run.stderr:
        problems.append("the damaged entry was not reported")
    problems += _check(weights, plates, cache, out, reference)
    tally.record("step.pt2 truncated", problems)
    return tally
