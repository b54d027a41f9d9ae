"""Damaged plates: the readers in this process (hundreds of files), and the real command
line on three-frame shots with one damaged frame.

A read must return the plate or raise ``BadInputError`` naming the file, print nothing
itself, and end within ``READ_LIMIT`` seconds. A run must exit 0 or 3 with (on 3) one line
naming the damaged file, never a signal, hang, traceback or internal error, and leave the
mattes of the frames before the damaged one written and identical to a clean run's.
"""

from __future__ import annotations

import os
import random
import shutil
import time
from pathlib import Path

from tests.hosts.exr.images import write_image
from tests.reliability.damage import DAMAGES
from tests.reliability.harness import (
    FORMATS,
    Tally,
    captured_stderr,
    make_weights,
    run_child,
    run_in_process,
    run_problems,
    same_pixels,
    temp_files,
    write_shot,
)

READ_LIMIT = 10.0
NOT_FILES = ("folder", "fifo")
"""Where a frame should be: a folder or a fifo (reading one would block forever)."""

VARIANTS = {
    "exr half zip": (".exr", "half", "zip"),
    "exr float piz": (".exr", "float", "piz"),
    "exr half dwaa": (".exr", "half", "dwaa"),
    "png 8-bit": (".png", "uint8", None),
    "png 16-bit": (".png", "uint16", None),
    "jpeg": (".jpg", "uint8", None),
    "tiff 16-bit": (".tif", "uint16", None),
    "tiff float": (".tif", "float", None),
}


def _base_files(folder: Path) -> dict[str, bytes]:
    from tests.hosts.exr.images import plate_frames

    frame = plate_frames(1, 40, 56)[0]
    files = {}
    for name, (ext, pixel_type, compression) in VARIANTS.items():
        path = folder / f"base-{name.replace(' ', '-')}{ext}"
        pixels = frame if ext == ".exr" or pixel_type == "float" else frame.clip(0, 1)
        attributes = {"compression": compression} if compression else None
        write_image(path, pixels, pixel_type, attributes=attributes)
        files[name] = path.read_bytes()
    return files


def place_damage(path: Path, damage: str, clean: bytes, rng: random.Random) -> None:
    """Puts a damaged frame (bytes, a folder or a fifo) at ``path``."""
    if path.exists() or path.is_symlink():
        path.unlink()
    if damage == "folder":
        path.mkdir()
    elif damage == "fifo":
        os.mkfifo(path)
    else:
        path.write_bytes(DAMAGES[damage](clean, rng))


def damaged_reads(count: int, seed: int, root: Path) -> Tally:
    """``count`` damaged files over every variant and damage, read by ``read_header`` and
    ``read_plate`` in this process."""
    from hosts.exr.errors import BadInputError
    from hosts.exr.io import read_header, read_plate

    tally = Tally(
        "damaged plates, read in-process (EXR, PNG, JPEG, TIFF)",
        f"python -m tests.reliability.report damaged-reads --count {count} --seed {seed}",
    )
    root.mkdir(parents=True, exist_ok=True)
    bases = _base_files(root)
    kinds = [*DAMAGES, *NOT_FILES]
    for i in range(count):
        rng = random.Random(f"{seed}/{i}")
        variant = rng.choice(list(VARIANTS))
        damage = kinds[i % len(kinds)]  # every damage equally often
        path = root / f"d{i:04d}{VARIANTS[variant][0]}"
        place_damage(path, damage, bases[variant], rng)
        problems = []
        started = time.perf_counter()
        with captured_stderr() as err:
            for read in (read_header, read_plate):
                try:
                    read(path)
                except BadInputError as exc:
                    if not str(exc).startswith(f"{path}: "):
                        problems.append(f"{read.__name__}: message does not name the file: {exc}")
                except Exception as exc:  # what the test is for: anything else is a bug
                    problems.append(f"{read.__name__}: {exc!r}")
        seconds = time.perf_counter() - started
        if err.text.strip():
            problems.append(f"printed by a library: {err.text.strip()[:200]!r}")
        if seconds > READ_LIMIT:
            problems.append(f"took {seconds:.1f} s")
        tally.record(f"{path.name} ({variant}, {damage})", problems)
        if path.is_dir():
            path.rmdir()
        else:
            path.unlink()
    return tally


def damaged_shots(count: int, seed: int, root: Path, *, child: bool) -> Tally:
    """``count`` three-frame shots (EXR, PNG, JPEG, TIFF), each with one damaged frame, run
    through ``core.batch`` (as a child process when ``child``, else its ``main`` here)."""
    how = "python -m core.batch (one process per shot)" if child else "core.batch main()"
    tally = Tally(
        f"damaged plates in 3-frame shots, {how}",
        f"python -m tests.reliability.report damaged-shots{'-child' if child else ''} "
        f"--count {count} --seed {seed}",
    )
    root.mkdir(parents=True, exist_ok=True)
    weights = make_weights(root)
    clean: dict[str, tuple[list[Path], Path]] = {}
    for ext in FORMATS:
        plates = write_shot(root / f"clean{ext[1:]}", 3, ext)
        out = root / f"clean{ext[1:]}-matte"
        run = run_in_process(weights, plates[0].parent, "-o", out / "m.####.exr", "-q")
        assert run.code == 0, run.stderr
        clean[ext] = (plates, out)
    kinds = [*DAMAGES, *NOT_FILES]
    for i in range(count):
        rng = random.Random(f"{seed}/{i}")
        ext = list(FORMATS)[i % len(FORMATS)]
        damage = kinds[rng.randrange(len(kinds))]
        k = rng.randrange(3)
        plates, reference = clean[ext]
        shot = root / f"shot{i:03d}"
        shot.mkdir()
        for p in plates:
            shutil.copyfile(p, shot / p.name)
        bad = shot / plates[k].name
        place_damage(bad, damage, plates[k].read_bytes(), rng)
        out = shot / "matte"
        args = (shot / f"plate.####{ext}", "-o", out / "m.####.exr", "-q")
        run = run_child(make_weights(root), *args) if child else run_in_process(weights, *args)
        problems = run_problems(run, (0, 3), str(bad) if run.code == 3 else None)
        names = [f"m.{1001 + j}.exr" for j in range(3)]
        # Pixels, not bytes: OpenImageIO stamps EXRs made from PNG, JPEG or TIFF plates
        # (which have no DateTime to copy) with the time of writing.
        before = [n for n in names[:k] if not same_pixels(out / n, reference / n)]
        if run.code == 0 and len(list(out.glob("m.*.exr"))) != 3:
            problems.append("exit 0 without every frame written")
        if before:
            problems.append(f"frames before the damaged one missing or different: {before}")
        if temp_files(shot):
            problems.append(f"temporary files left: {temp_files(shot)}")
        tally.record(f"{bad.name} ({ext}, {damage}, frame {k + 1} of 3)", problems, len(before))
        if bad.is_dir() and not bad.is_symlink():
            bad.rmdir()
        shutil.rmtree(shot)
    return tally
