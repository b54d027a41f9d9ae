"""Builds the Blender extension zip from this folder.

    python -m hosts.blender.build -o memmatte_blender.zip

The zip holds the add-on's files at its root beside ``blender_manifest.toml``, as
``blender --command extension build`` would make it, without needing a Blender binary.
Files matching the manifest's ``[build] paths_exclude_pattern`` (this script, caches) are
left out. The host client, ``hosts/client``, goes in as the subpackage ``client/`` in place
of ``client.py``, which stands for it in the source tree: installed, the add-on has no
``hosts`` package to import it from. Install it with Preferences › Get Extensions › Install from Disk, or
``blender --command extension install-file -r user_default -e memmatte_blender.zip``.

    python -m hosts.blender.build --wheel dist/memmatte-0.1.0-py3-none-any.whl

also carries that memmatte wheel (``pip wheel --no-deps -w dist .``) in the zip's
``wheels/``: what the preferences' *Install memmatte* button installs by default.
"""

from __future__ import annotations

import argparse
import fnmatch
import tomllib
import zipfile
from pathlib import Path

HERE = Path(__file__).parent
CLIENT = HERE.parent / "client"
"""The host client, carried in the zip as ``client/``."""
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


def files(folder: Path = HERE, client: Path = CLIENT) -> dict[str, Path]:
    """The zip's contents: its names (relative, POSIX) → the files they come from."""
    patterns = manifest(folder).get("build", {}).get("paths_exclude_pattern", [])
    found = {}
    for root, prefix in ((folder, ""), (client, "client/")):
        for path in sorted(root.rglob("*")):
            relative = prefix + path.relative_to(root).as_posix()
            if path.is_file() and not _excluded(relative, patterns) and path.suffix != ".pyc":
                found[relative] = path
    del found["client.py"]  # the source tree's stand-in for client/
    return found


def build(output: str | Path, folder: Path = HERE, wheel: str | Path | None = None) -> Path:
    """Writes the extension zip to ``output``, with memmatte's ``wheel`` in ``wheels/`` when
    given; returns its path."""
    output = Path(output)
    contents = files(folder)
    if wheel is not None:
        wheel = Path(wheel)
        if not (wheel.is_file() and wheel.name.startswith("memmatte-") and wheel.suffix == ".whl"):
            raise SystemExit(f"{wheel} is not a memmatte wheel (memmatte-*.whl)")
        contents[f"wheels/{wheel.name}"] = wheel
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in contents.items():
            archive.write(path, name)
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
    parser.add_argument(
        "--wheel", type=Path, help="a memmatte wheel for the Install memmatte button to install"
    )
    args = parser.parse_args(argv)
    path = build(args.output, wheel=args.wheel)
    print(f"{path}: {info['name']} {info['version']} for Blender {info['blender_version_min']}+")


if __name__ == "__main__":
    main()
