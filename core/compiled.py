"""Ahead-of-time compiled graphs of a session, built once and kept in a cache folder.

``MattingSession(compile="aot")`` exports its two per-frame graphs (the network step and the
full-resolution guided-filter pass) with ``torch.export``, compiles each into a package with
``torch._inductor.aoti_compile_and_package`` and loads them with ``aoti_load_package``. A
package fits exactly one ``GraphKey``: the weights, the frame and network sizes, refinement,
precision, device, the CPU's instruction set (inductor compiles with ``-march=native``) and
thread count (CPU kernels are compiled for a fixed number of OpenMP threads), the torch
version and the source of the model code, so any change builds a new entry instead of
loading a stale one.

Cache layout, one folder per key digest::

    <cache>/<digest>/manifest.json    the key, and the sha256 of every package file
    <cache>/<digest>/step.pt2, apply.pt2

An entry is built in a temporary folder beside it and renamed into place, so racing farm
tasks see either no entry or a complete one. An entry whose manifest is missing, unreadable,
for another key, or whose files do not match their hashes is logged, removed and rebuilt;
nothing is loaded before its hashes are checked. Nor is anything loaded from a cache that
users other than the current one (or root, or a trusted group) could have written: see
``core.trust``. Folders are made 0o755 and files 0o644, whatever the umask. See docs/farm.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import logging
import os
import platform
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from core.trust import Problem, Trust, UntrustedError, check_tree

log = logging.getLogger("memmatte")

CACHE_ENV = "MEMMATTE_CACHE"
FORMAT = 1
"""Version of the entry layout; part of every key."""

MANIFEST = "manifest.json"
_STALE_TEMP_SECONDS = 24 * 3600


def default_cache_dir() -> Path:
    """``$MEMMATTE_CACHE``, else ``$XDG_CACHE_HOME/memmatte/compiled`` (``~/.cache/...``;
    ``%LOCALAPPDATA%`` on Windows)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        base = Path(os.environ["LOCALAPPDATA"])
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "memmatte" / "compiled"


def network_digest(network: torch.nn.Module) -> str:
    """sha256 (16 hex digits) of a network's configuration and state: the weights hash of a
    network that did not come from a file."""
    digest = hashlib.sha256(repr(getattr(network, "config", None)).encode())
    for name, tensor in sorted(network.state_dict().items()):
        digest.update(f"{name} {tensor.dtype} {tuple(tensor.shape)}".encode())
        flat = tensor.detach().cpu().contiguous().reshape(-1)  # stride 1, as view() needs
        digest.update(flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b"")
    return digest.hexdigest()[:16]


def code_digest(*objects: Any) -> str:
    """sha256 (16 hex digits) of the model package's source files and of ``objects``' source:
    the code a package's graphs were traced from."""
    digest = hashlib.sha256()
    model = Path(__file__).parent / "model"
    for path in sorted(model.glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    for obj in objects:
        digest.update(inspect.getsource(obj).encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class GraphKey:
    """Everything a compiled package depends on. frame and network: (height, width) of the
    shot's frames and of the network's input. threads: the CPU threads its kernels run on
    (inductor writes the count into them; 0 for CUDA packages)."""

    weights: str
    frame: tuple[int, int]
    network: tuple[int, int]
    refine: bool
    precision: str
    device: str
    cpu: str
    threads: int
    torch: str
    code: str
    format: int = FORMAT

    def as_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def digest(self) -> str:
        text = json.dumps(self.as_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def describe(self) -> str:
        (height, width), (h, w) = self.frame, self.network
        refine = ", refined" if self.refine else ""
        return f"{width}x{height} (network {w}x{h}{refine}), {self.precision}, {self.device}"


class CacheError(RuntimeError):
    """An entry that failed its checks, or a package that failed to load."""


Build = Callable[[Path], None]
"""Writes an entry's package files into the folder it is given."""
Load = Callable[[Path], Any]
"""Loads the checked files of an entry's folder into something callable."""


class GraphCache:
    """The cache folder. ``get`` returns a checked, loaded entry, building it on a miss."""

    def __init__(self, folder: str | Path | None = None, trusted_group: str | None = None) -> None:
        self.folder = Path(folder).expanduser() if folder is not None else default_cache_dir()
        self.trust = Trust.current(trusted_group)

    def path(self, key: GraphKey) -> Path:
        return self.folder / key.digest()

    def has(self, key: GraphKey) -> bool:
        """Whether a complete entry for ``key`` exists (its hashes are checked on load)."""
        return (self.path(key) / MANIFEST).is_file()

    def untrusted(self, key: GraphKey | None = None) -> list[Problem]:
        """Why the entry of ``key`` (None: the cache folder, for writing) must not be
        loaded: who else could have written the cache folder, the folders above it, the
        entry or its files (``core.trust``); empty when nobody could."""
        members = []
        if key is not None:
            entry = self.path(key)
            members = [entry]
            with contextlib.suppress(OSError):  # a folder it cannot list fails on its own
                members += sorted(entry.iterdir()) if entry.is_dir() else []
        return check_tree(self.folder, members, self.trust)

    def get(self, key: GraphKey, build: Build, load: Load, *, build_missing: bool = True) -> Any:
        """The loaded entry for ``key``; None on a miss when not ``build_missing``. A bad
        entry (see the module docstring) is logged, removed and built again; an entry or a
        cache that others could have written raises ``UntrustedError`` (nothing loaded,
        built or removed)."""
        entry = self.path(key)
        if entry.exists():
            try:
                return self._load(entry, key, load)
            except CacheError as exc:
                log.warning(
                    "memmatte: compiled cache entry %s is unusable (%s); rebuilding", entry, exc
                )
                self._discard(entry)
        if not build_missing:
            return None
        self._build(entry, key, build)
        return self._load(entry, key, load)

    def _load(self, entry: Path, key: GraphKey, load: Load) -> Any:
        problems = self.untrusted(key)
        if problems:
            raise UntrustedError(f"not loading the compiled graphs in {entry}", problems)
        manifest = _read_manifest(entry)
        if manifest.get("format") != FORMAT or manifest.get("key") != key.as_dict():
            raise CacheError("its manifest is for another key")
        files = manifest.get("files")
        if not isinstance(files, dict) or not files:
            raise CacheError("its manifest lists no files")
        # Exactly the entry's files: none loaded unchecked, none read from elsewhere.
        present = sorted(p.name for p in entry.iterdir() if p.name != MANIFEST)
        if sorted(files) != present:
            raise CacheError(f"its manifest lists {sorted(files)}, the folder holds {present}")
        for name, expected in files.items():
            path = entry / name
            if not path.is_file():
                raise CacheError(f"{name} is missing")
            if _sha256(path) != expected:
                raise CacheError(f"{name} does not match its hash")
        started = time.perf_counter()
        try:
            loaded = load(entry)
        except Exception as exc:
            raise CacheError(f"loading failed: {exc!r}") from exc
        log.info(
            "memmatte: loaded compiled graphs %s for %s in %.2f s",
            entry.name,
            key.describe(),
            time.perf_counter() - started,
        )
        return loaded

    def _build(self, entry: Path, key: GraphKey, build: Build) -> None:
        _make_folders(self.folder)
        problems = self.untrusted()
        if problems:
            raise UntrustedError(f"not compiling graphs into {self.folder}", problems)
        self._remove_stale_temps()
        owner = f"{platform.node()}-{os.getpid()}"
        temp = Path(tempfile.mkdtemp(prefix=f".tmp-{entry.name}-{owner}-", dir=self.folder))
        log.warning("memmatte: compiling graphs for %s (once; cached in %s)", key.describe(), entry)
        started = time.perf_counter()
        try:
            build(temp)
            files = {p.name: _sha256(p) for p in sorted(temp.iterdir()) if p.is_file()}
            manifest = {
                "format": FORMAT,
                "key": key.as_dict(),
                "files": files,
                "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "build_seconds": round(time.perf_counter() - started, 1),
                "host": platform.node(),
            }
            # The manifest last: a folder without one is never loaded.
            (temp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
            # Readable by a farm's other users, writable by nobody else whatever the umask
            # (mkdtemp makes the folder private; files get the umask's mode).
            for path in temp.iterdir():
                os.chmod(path, 0o755 if path.is_dir() else 0o644)
            os.chmod(temp, 0o755)
            try:
                os.rename(temp, entry)
            except OSError:
                if not entry.exists():
                    raise
                # Another task finished the same entry first; theirs is as good as ours.
                log.info("memmatte: %s was built concurrently; using that one", entry)
        finally:
            shutil.rmtree(temp, ignore_errors=True)
        log.warning(
            "memmatte: compiled graphs for %s in %.1f s",
            key.describe(),
            time.perf_counter() - started,
        )

    def _discard(self, entry: Path) -> None:
        # Renamed away first so that no other task loads it while it is being deleted.
        trash = entry.with_name(f".trash-{entry.name}-{uuid.uuid4().hex[:8]}")
        try:
            os.rename(entry, trash)
        except OSError:
            return  # already gone: another task discarded it
        shutil.rmtree(trash, ignore_errors=True)

    def _remove_stale_temps(self) -> None:
        """Temporary folders of builds that were killed: those of this machine's processes
        that no longer run, and any a day or more old (other machines of a shared cache);
        and what a killed discard left in the trash (never loaded: it has no entry name)."""
        now = time.time()
        for path in [*self.folder.glob(".tmp-*"), *self.folder.glob(".trash-*")]:
            match = _TEMP.match(path.name)
            try:
                dead = match is not None and match["host"] == platform.node()
                dead = dead and not _alive(int(match["pid"]))  # type: ignore[index]
                old = now - path.stat().st_mtime > _STALE_TEMP_SECONDS
            except OSError:
                continue
            if dead or old or path.name.startswith(".trash-"):
                shutil.rmtree(path, ignore_errors=True)


_TEMP = re.compile(r"^\.tmp-[0-9a-f]+-(?P<host>.+)-(?P<pid>\d+)-[^-]+$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's process
    return True


def _make_folders(folder: Path) -> None:
    """``folder`` and the missing folders above it, each 0o755 whatever the umask."""
    if folder.is_dir():
        return
    _make_folders(folder.parent)
    try:
        folder.mkdir(mode=0o755)
    except FileExistsError:
        return  # made by a racing task
    os.chmod(folder, 0o755)


def _read_manifest(entry: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((entry / MANIFEST).read_text())
    except FileNotFoundError:
        raise CacheError("it has no manifest") from None
    except (OSError, ValueError) as exc:
        raise CacheError(f"its manifest is unreadable: {exc}") from None
    if not isinstance(manifest, dict):
        raise CacheError("its manifest is not an object")
    return manifest


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def package(module: torch.nn.Module, args: tuple[Any, ...], path: Path) -> None:
    """Exports ``module`` for exactly ``args``' shapes and compiles it into the AOTInductor
    package ``path``, with inductor freezing (weights folded into the graph as constants,
    which lets oneDNN pre-pack convolution weights on the CPU)."""
    from torch._inductor import aoti_compile_and_package

    # Sessions stream under inference mode, which export does not trace through.
    with torch.inference_mode(False), torch.no_grad():
        exported = torch.export.export(module, args, strict=False)
        aoti_compile_and_package(
            exported, package_path=str(path), inductor_configs={"freezing": True}
        )


def load_package(path: Path, device: torch.device) -> Callable[..., Any]:
    """A package written by ``package``, callable with the same arguments as its module."""
    return _Package(path, device)


class _Package:
    """A loaded AOTInductor package whose graph takes tensors (or tuples of them) and returns
    a flat tuple of tensors, as the session's graphs do.

    This calls torch's C++ package loader directly: ``torch._inductor.aoti_load_package``
    first imports inductor and the export serialiser, about 8 of a fresh process's first 8.2
    seconds of loading here, and the loader itself takes 0.1 s (docs/performance.md).
    """

    def __init__(self, path: Path, device: torch.device) -> None:
        index = device.index if device.type == "cuda" and device.index is not None else -1
        self._model = None
        try:
            loader = torch._C._aoti.AOTIModelPackageLoader(str(path), "model", False, 1, index)
            self._run = loader.boxed_run
        except (AttributeError, TypeError):
            # A torch whose C++ loader differs: its public loader, slower to import.
            from torch._inductor import aoti_load_package

            self._model = aoti_load_package(str(path), device_index=index)

    def __call__(self, *args: Any) -> tuple[torch.Tensor, ...]:
        if self._model is not None:
            return tuple(self._model(*args))
        flat = [x for x in torch.utils._pytree.tree_leaves(args) if isinstance(x, torch.Tensor)]
        return tuple(self._run(flat))
