"""Builds the Memmatte OpenFX bundle with CMake and Ninja.

    python -m hosts.ofx.build                  # → hosts/ofx/build/Memmatte.ofx.bundle
    python -m hosts.ofx.build --build-dir /tmp/ofx --jobs 2

The bundle is the standard OpenFX layout:

    Memmatte.ofx.bundle/Contents/Linux-x86-64/Memmatte.ofx              the plug-in
    Memmatte.ofx.bundle/Contents/Linux-x86-64/libmemmatte_runtime.so    LibTorch inference
    Memmatte.ofx.bundle/Contents/Resources/org.memmatte.Memmatte.png    the icon

The runtime links the LibTorch that ships in the torch wheel of the Python running this
script (``torch.utils.cmake_prefix_path``), found at run time through its RPATH: keep that
torch installed where it is, or copy its ``lib/`` files next to the runtime.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
PLUGIN_ID = "org.memmatte.Memmatte"
BUNDLE = "Memmatte.ofx.bundle"
ARCH = "Linux-x86-64"


class BuildError(RuntimeError):
    """CMake or Ninja failed; the message holds the tail of their output."""


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stdout + done.stderr)[-4000:]
        raise BuildError(f"{' '.join(command)} failed ({done.returncode}):\n{tail}")


def build(build_dir: str | Path = HERE / "build", jobs: int = 2) -> Path:
    """Configures and builds into ``build_dir`` (incrementally) and returns the bundle path,
    ``build_dir / "Memmatte.ofx.bundle"``."""
    import torch

    for tool in ("cmake", "ninja"):
        if shutil.which(tool) is None:
            raise BuildError(f"{tool} is not on PATH; install CMake and Ninja")
    build_dir = Path(build_dir).resolve()
    work = build_dir / "cmake"
    _run(
        [
            "cmake", "-G", "Ninja", "-S", str(HERE), "-B", str(work),
            "-DCMAKE_BUILD_TYPE=Release",
            f"-DTORCH_CMAKE_PREFIX={torch.utils.cmake_prefix_path}",
        ]
    )  # fmt: skip
    _run(["ninja", "-C", str(work), f"-j{jobs}"])

    bundle = build_dir / BUNDLE
    binaries = bundle / "Contents" / ARCH
    resources = bundle / "Contents" / "Resources"
    binaries.mkdir(parents=True, exist_ok=True)
    resources.mkdir(parents=True, exist_ok=True)
    shutil.copy2(work / "Memmatte.ofx", binaries / "Memmatte.ofx")
    shutil.copy2(work / "libmemmatte_runtime.so", binaries / "libmemmatte_runtime.so")
    shutil.copy2(HERE / "resources" / f"{PLUGIN_ID}.png", resources / f"{PLUGIN_ID}.png")
    # The plug-in loads its runtime only from a file and folder that nobody else can write
    # (plugin.cpp, check_trusted): whatever the umask, no part of the bundle is writable by
    # group or others.
    for path in (bundle, *bundle.rglob("*")):
        path.chmod(path.stat().st_mode & ~0o022)
    return bundle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hosts.ofx.build",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--build-dir", type=Path, default=HERE / "build")
    parser.add_argument("--jobs", type=int, default=2, help="parallel compile jobs (default 2)")
    args = parser.parse_args(argv)
    try:
        bundle = build(args.build_dir, args.jobs)
    except BuildError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"built {bundle}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
