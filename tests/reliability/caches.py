"""Damaged weights and compiled-graph caches, and cache builds killed or racing.

The compiled-graph cache is exercised through ``core.compiled.GraphCache`` with a stand-in
build (it writes the package files slowly, in pieces, as inductor does) and a loader that
records what it was given: the cache's own checks, locks-free publishing and clean-up are
what is tested, in seconds rather than the minutes a real compile takes. The real packages
(``--precompile``, ``--compile``) are the slow tests of tests/reliability/test_caches.py.

    python -m tests.reliability.caches build FOLDER SECONDS   # one stand-in build (a child)
"""

from __future__ import annotations

import hashlib
import random
import subprocess
import sys
import time
from pathlib import Path

from tests.reliability.damage import DAMAGES, bit_flips
from tests.reliability.harness import (
    ROOT,
    Tally,
    child_env,
    make_weights,
    run_in_process,
    run_problems,
    temp_files,
    write_shot,
)

PACKAGES = {"step.pt2": 48_000, "apply.pt2": 20_000}


def _content(name: str) -> bytes:
    """The stand-in package ``name``: deterministic bytes of its size."""
    rng = random.Random(name)
    return rng.randbytes(PACKAGES[name])


def _key():
    from core.compiled import GraphKey

    return GraphKey(
        weights="stand-in",
        frame=(32, 48),
        network=(32, 48),
        refine=False,
        precision="fp32",
        device="cpu",
        cpu="test",
        threads=1,
        torch="test",
        code="test",
    )


def _build(seconds: float):
    def build(folder: Path) -> None:
        for name in PACKAGES:
            data = _content(name)
            with open(folder / name, "wb") as f:
                for start in range(0, len(data), 4096):
                    f.write(data[start : start + 4096])
                    f.flush()
                    time.sleep(seconds / (2 * len(data) / 4096))

    return build


class _Loader:
    """Loads an entry (reads its files) and records whether any was not the real package."""

    def __init__(self) -> None:
        self.damaged_loads = 0
        self.loads = 0

    def __call__(self, folder: Path) -> dict[str, bytes]:
        self.loads += 1
        files = {name: (folder / name).read_bytes() for name in PACKAGES}
        if any(files[name] != _content(name) for name in PACKAGES):
            self.damaged_loads += 1
        return files


def _entry_problems(cache_dir: Path, loaded, loader: _Loader) -> list[str]:
    problems = []
    if loader.damaged_loads:
        problems.append("a damaged package was loaded")
    if loaded is None or any(loaded[n] != _content(n) for n in PACKAGES):
        problems.append("the entry did not load whole")
    if temp_files(cache_dir):
        problems.append(f"temporary folders left: {[p.name for p in temp_files(cache_dir)]}")
    return problems


def _damage_manifest(path: Path, rng: random.Random) -> str:
    """Damages the manifest: bytes, or a well-formed manifest that lies."""
    import json

    how = rng.choice(["bytes", "hash", "key", "files", "traversal"])
    if how == "bytes":
        name = rng.choice(list(DAMAGES))
        path.write_bytes(DAMAGES[name](path.read_bytes(), rng))
        return f"manifest {name}"
    manifest = json.loads(path.read_text())
    if how == "hash":
        name = rng.choice(list(manifest["files"]))
        manifest["files"][name] = hashlib.sha256(b"other").hexdigest()
    elif how == "key":
        manifest["key"]["threads"] = 64
    elif how == "files":  # step.pt2 no longer listed, and damaged
        del manifest["files"]["step.pt2"]
    else:  # step.pt2's hash checked on an intact copy elsewhere, and damaged
        manifest["files"]["../../outside.pt2"] = manifest["files"].pop("step.pt2")
    if how in ("files", "traversal"):
        step = path.parent / "step.pt2"
        step.write_bytes(bit_flips(step.read_bytes(), rng))
    path.write_text(json.dumps(manifest))
    return f"manifest altered ({how})"


def damaged_cache(count: int, seed: int, root: Path) -> Tally:
    """A complete entry, then one of its files or its manifest damaged: the next ``get``
    must not load it, and must rebuild it."""
    from core.compiled import MANIFEST, GraphCache

    tally = Tally(
        "compiled-graph cache entry damaged (package or manifest)",
        f"python -m tests.reliability.report damaged-cache --count {count} --seed {seed}",
    )
    for i in range(count):
        rng = random.Random(f"{seed}/{i}")
        cache = GraphCache(root / f"cache{i}")
        key = _key()
        cache.get(key, _build(0), _Loader())
        entry = cache.path(key)
        target = rng.choice([*PACKAGES, MANIFEST])
        if target == MANIFEST:
            what = _damage_manifest(entry / MANIFEST, rng)
        else:
            how = rng.choice([*DAMAGES, "removed"])
            if how == "removed":
                (entry / target).unlink()
            else:
                (entry / target).write_bytes(DAMAGES[how]((entry / target).read_bytes(), rng))
            what = f"{target} {how}"
        (entry.parent.parent / "outside.pt2").write_bytes(_content("step.pt2"))
        loader = _Loader()
        loaded = cache.get(key, _build(0), loader)
        problems = _entry_problems(cache.folder, loaded, loader)
        tally.record(what, problems)
    return tally


def _child(cache_dir: Path, seconds: float) -> subprocess.Popen:
    command = [sys.executable, "-m", "tests.reliability.caches", "build", str(cache_dir)]
    return subprocess.Popen(
        [*command, str(seconds)],
        cwd=ROOT,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def killed_builds(count: int, seed: int, root: Path) -> Tally:
    """A build (in a child process) killed with SIGKILL at a random moment, then the entry
    asked for again: it loads whole or is rebuilt, and no temporary folder is left."""
    from core.compiled import GraphCache

    tally = Tally(
        "compiled-graph cache build killed (SIGKILL) at a random moment",
        f"python -m tests.reliability.report killed-builds --count {count} --seed {seed}",
    )
    seconds = 1.0
    for i in range(count):
        rng = random.Random(f"{seed}/{i}")
        cache_dir = root / f"killed{i}"
        child = _child(cache_dir, seconds)
        # The child imports torch first (seconds): wait for its build to start, then kill.
        deadline = time.monotonic() + 120
        while child.poll() is None and not list(cache_dir.glob(".tmp-*")):
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        time.sleep(rng.uniform(0, seconds * 1.2))
        child.kill()
        child.communicate()
        loader = _Loader()
        loaded = GraphCache(cache_dir).get(_key(), _build(0), loader)
        problems = _entry_problems(cache_dir, loaded, loader)
        tally.record(
            f"killed after {'finishing' if child.returncode == 0 else 'starting'}", problems
        )
    return tally


def racing_builds(count: int, root: Path) -> Tally:
    """Two children build the same entry into one cache at once: both succeed, with the
    same complete entry, and nothing else is left in the cache."""
    tally = Tally(
        "two compiled-graph builds of one entry at once",
        f"python -m tests.reliability.report racing-builds --count {count}",
    )
    for i in range(count):
        cache_dir = root / f"race{i}"
        children = [_child(cache_dir, 0.5) for _ in range(2)]
        outputs = [c.communicate() for c in children]
        problems = [
            f"a build failed: {err.strip()[-300:]}"
            for c, (_, err) in zip(children, outputs, strict=True)
            if c.returncode != 0
        ]
        if len({out for out, _ in outputs}) != 1:
            problems.append(f"the builds loaded different entries: {[o for o, _ in outputs]}")
        entries = [p.name for p in cache_dir.iterdir()]
        if len(entries) != 1:
            problems.append(f"the cache holds {entries}, not one entry")
        tally.record(f"race {i}", problems)
    return tally


def damaged_weights(count: int, seed: int, root: Path, *, cli: int = 3) -> Tally:
    """Damaged copies of a weights file: loading one either refuses it (``UsageError``, the
    CLI's exit 2, naming the file) or gives exactly the saved network, never an altered one.
    The first ``cli`` of them also go through ``core.batch``."""
    import torch

    from core.weights import load_network
    from hosts.exr.errors import UsageError
    from hosts.exr.processor import load_model

    tally = Tally(
        "weights file damaged (.safetensors)",
        f"python -m tests.reliability.report damaged-weights --count {count} --seed {seed}",
    )
    root.mkdir(parents=True, exist_ok=True)
    clean = make_weights(root)
    saved = load_network(clean).state_dict()
    plates = root / "plates"
    if not plates.is_dir():
        write_shot(plates, 3)
    for i in range(count):
        rng = random.Random(f"{seed}/{i}")
        how = list(DAMAGES)[i % len(DAMAGES)]
        path = root / f"damaged{i}.safetensors"
        path.write_bytes(DAMAGES[how](clean.read_bytes(), rng))
        problems = []
        try:
            model = load_model(path)
        except UsageError as exc:
            if str(path) not in str(exc):
                problems.append(f"the error does not name the file: {exc}")
        except Exception as exc:  # anything else is the bug this looks for
            problems.append(f"{exc!r}")
        else:
            state = model.network.state_dict()
            if any(not torch.equal(state[k], saved[k]) for k in saved):
                problems.append("altered weights were loaded")
        if i < cli:
            run = run_in_process(path, plates, "-o", root / f"out{i}/m.####.exr", "-q")
            problems += run_problems(run, (0, 2), str(path) if run.code else None)
        tally.record(f"{path.name} ({how})", problems)
        path.unlink()
    return tally


def main(argv: list[str]) -> int:
    """A child's stand-in build: ``build FOLDER SECONDS``; prints the loaded entry's hash."""
    from core.compiled import GraphCache

    _, folder, seconds = argv
    loaded = GraphCache(folder).get(_key(), _build(float(seconds)), _Loader())
    print(hashlib.sha256(b"".join(loaded[n] for n in sorted(loaded))).hexdigest())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
