"""Builds the Blender extension zip from this folder.

    python -m hosts.blender.build -o memmatte_blender.zip

The zip holds the add-on's files at its root beside ``blender_manifest.toml``, as
``blender --command extension build`` would make it, without needing a Blender binary.
Files matching the manifest's ``[build] paths_exclude_pattern`` (this script, caches) are
left out. Install it with Preferences › Get Extensions › Install from Disk, or
``blender --command extension install-file -r user_default -e memmatte_blender.zip``.
"""

from __future__ import annotations

import argparse
import fnmatch
import tomllib
import zipfile
from pathlib import Path

HERE = Path(__file__).parent
REQUIRED = ("schema_version", "id", "version", "name", "tagline", "maintainer", "type",
            "blender_version_min", "license")  # fmt: skip


def manifest(folder: Path = HERE) -> dict:
    """The extension's manifest, checked for the fields Blender requires."""
    data = tomllib.loads((folder / "blender_manifest.toml").read_text(encoding="utf-8"))
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise ValueError(f"blender_manifest.toml lacks {', '.join(missing)}")
    return data


def _excluded(relative: str, patterns: list[str]) -> bool:
    parts = relative.split("/")
    for pattern in patterns:
        if pattern.endswith("/"):
            if pattern.strip("/") in parts[:-1]:
                return True
        elif fnmatch.fnmatch(parts[-1], pattern) or fnmatch.fnmatch(relative, pattern.lstrip("/")):
            return True
    return False


def files(folder: Path = HERE) -> list[Path]:
    """The files that go into the zip, relative to ``folder``."""
    patterns = manifest(folder).get("build", {}).get("paths_exclude_pattern", [])
    found = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_file() and not _excluded(relative, patterns) and path.suffix != ".pyc":
            found.append(Path(relative))
    return found


def build(output: str | Path, folder: Path = HERE) -> Path:
    """Writes the extension zip to ``output``; returns its path."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as archive:
        for relative in files(folder):
            archive.write(folder / relative, relative.as_posix())
    return output


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m hosts.blender.build", description=__doc__.split("\n")[0]
    )
    info = manifest()
    default = f"{info['id']}-{info['version']}.zip"
    parser.add_argument(
        "-o", "--output", default=default, help=f"zip to write (default: {default})"
    )
    args = parser.parse_args(argv)
    path = build(args.output)
    print(f"{path}: {info['name']} {info['version']} for Blender {info['blender_version_min']}+")


if __name__ == "__main__":
    main()
