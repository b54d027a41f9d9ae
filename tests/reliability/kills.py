"""``core.batch`` killed with SIGKILL at random moments of a shot, and four processes on one
shot and output at once: after ``--resume`` the outputs are byte-identical to one clean
run's, and no temporary file is left."""

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

FRAMES = 12
NAMES = [f"m.{1001 + i}.exr" for i in range(FRAMES)]


def _shot(root: Path, height: int = 144, width: int = 256) -> tuple[Path, Path, Path]:
    """Weights, a 12-frame shot (by default large enough that a frame takes a while) and
    its clean mattes."""
    root.mkdir(parents=True, exist_ok=True)
    weights = make_weights(root)
    plates = root / f"plates{height}"
    if not plates.is_dir():
        write_shot(plates, FRAMES, height=height, width=width)
    reference = root / f"clean{height}"
    if not reference.is_dir():
        run = run_in_process(weights, plates, "-o", reference / "m.####.exr", "-q")
        assert run.code == 0, run.stderr
    return weights, plates, reference


def _finish(weights: Path, plates: Path, out: Path, reference: Path) -> tuple[list[str], int]:
    run = run_in_process(weights, plates, "-o", out / "m.####.exr", "-q", "--resume")
    problems = run_problems(run, (0,), None)
    lost = differing(out, reference, NAMES)
    if lost:
        problems.append(f"not identical to a clean run: {lost}")
    if temp_files(out):
        problems.append(f"temporary files left: {[p.name for p in temp_files(out)]}")
    return problems, len(lost)


def killed_shots(count: int, seed: int, root: Path) -> Tally:
    """A child killed at a random moment of its run (a quarter of them while it starts,
    the rest while it writes frames), then ``--resume``."""
    tally = Tally(
        "core.batch killed (SIGKILL) at a random moment of a shot, then --resume",
        f"python -m tests.reliability.report killed-shots --count {count} --seed {seed}",
    )
    weights, plates, reference = _shot(root)
    timing = run_child(weights, plates, "-o", root / "timing/m.####.exr", "-q")
    assert timing.code == 0, timing.stderr
    shutil.rmtree(root / "timing")
    for i in range(count):
        rng = random.Random(f"{seed}/{i}")
        out = root / f"killed{i}"
        command = batch_command(weights, plates, "-o", out / "m.####.exr", "-q", "--resume")
        child = subprocess.Popen(command, cwd=ROOT, env=child_env(), stderr=subprocess.PIPE)
        started = time.monotonic()
        if rng.random() < 0.25:
            time.sleep(rng.uniform(0, timing.seconds))
        else:  # from its first output on, over about the time the frames take
            while child.poll() is None and not list(out.glob("*.exr")) + temp_files(out):
                if time.monotonic() - started > 120:
                    break
                time.sleep(0.002)
            time.sleep(rng.uniform(0, timing.seconds / 3))
        child.kill()
        child.communicate()
        done = len(list(out.glob("m.*.exr")))
        problems, lost = _finish(weights, plates, out, reference)
        tally.record(f"killed with {done} of {FRAMES} frames written", problems, lost)
        shutil.rmtree(out, ignore_errors=True)
    return tally


def racing_shots(count: int, root: Path, processes: int = 4) -> Tally:
    """``processes`` children started at once on the same shot and output with
    ``--resume``: each exits 0, and the outputs are those of one clean run."""
    tally = Tally(
        f"{processes} core.batch processes on one shot and output at once (--resume)",
        f"python -m tests.reliability.report racing-shots --count {count}",
    )
    weights, plates, reference = _shot(root, 48, 64)
    for i in range(count):
        out = root / f"race{i}"
        command = batch_command(weights, plates, "-o", out / "m.####.exr", "-q", "--resume")
        children = [
            subprocess.Popen(command, cwd=ROOT, env=child_env(), stderr=subprocess.PIPE, text=True)
            for _ in range(processes)
        ]
        problems = []
        for child in children:
            _, err = child.communicate(timeout=600)
            if child.returncode != 0:
                problems.append(f"a process exited {child.returncode}: {err.strip()[-300:]}")
        lost = differing(out, reference, NAMES)
        if lost:
            problems.append(f"not identical to a clean run: {lost}")
        if temp_files(out):
            problems.append(f"temporary files left: {[p.name for p in temp_files(out)]}")
        tally.record(f"race {i}", problems, len(lost))
        shutil.rmtree(out, ignore_errors=True)
    return tally
