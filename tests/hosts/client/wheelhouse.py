"""A local wheelhouse of tiny fake wheels (torch, memmatte) for install tests: no network."""

from __future__ import annotations

import zipfile
from pathlib import Path


def make_wheel(folder: Path, name: str, version: str, files: dict[str, str], requires=()) -> Path:
    """A pure-Python wheel of ``files`` (path in site-packages → text)."""
    info = f"{name}-{version}.dist-info"
    metadata = "".join(
        [f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"]
        + [f"Requires-Dist: {r}\n" for r in requires]
    )
    contents = {
        **files,
        f"{info}/METADATA": metadata,
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    contents[f"{info}/RECORD"] = "".join(f"{path},,\n" for path in [*contents, f"{info}/RECORD"])
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in contents.items():
            archive.writestr(member, text)
    return path


def fake_wheelhouse(house: Path) -> Path:
    """``house`` with a fake torch and a fake memmatte that needs it: enough for the host's
    Check probe (``import torch, core.batch``)."""
    house.mkdir(parents=True, exist_ok=True)
    torch = (
        "__version__ = '2.99.0+fake'\n"
        "class cuda:\n    @staticmethod\n    def is_available():\n        return False\n"
    )
    make_wheel(house, "torch", "2.99.0", {"torch/__init__.py": torch})
    batch = "def main():\n    return 0\n"
    make_wheel(
        house, "memmatte", "0.1.0",
        {"core/__init__.py": "", "core/batch.py": batch},
        requires=["torch>=2.3"],
    )  # fmt: skip
    return house


def isolate_pip(monkeypatch) -> None:
    """Keeps this machine's pip configuration (indexes, find-links, constraints: PIP_* and
    config files) out of a test's pip runs."""
    import os

    for name in [n for n in os.environ if n.startswith("PIP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
