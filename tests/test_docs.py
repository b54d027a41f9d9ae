"""Every command block of the docs marked runnable runs, and succeeds.

A fenced ``bash``/``sh`` or ``python`` block right after a ``<!-- runnable -->`` line is run
from a copy of the checkout (files linked, not copied; what a command writes stays in the
copy), with this interpreter as ``python``. Marked blocks are kept to a few seconds each.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- runnable -->"
BLOCK = re.compile(
    re.escape(MARKER) + r"\s*\n```(?P<lang>bash|sh|python)\n(?P<code>.*?)\n```", re.DOTALL
)
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])


def runnable_blocks() -> list[tuple[str, str, str]]:
    """(id, language, code) of every marked block: id is ``page:line``."""
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append((f"{page.relative_to(ROOT)}:{line}", match["lang"], match["code"]))
    return found


BLOCKS = runnable_blocks()


def test_marked_blocks_are_found():
    # A marker not followed by a fenced block would silently run nothing.
    markers = sum(page.read_text(encoding="utf-8").count(MARKER) for page in PAGES)
    assert markers == len(BLOCKS) >= 3


def checkout_files(folder: str) -> list[str]:
    """The files under ``folder`` that belong to the checkout (tracked, or new and not
    ignored), relative to it: not the mattes an earlier run of the README wrote there, which
    a block writing the same place with ``resume=True`` would otherwise find."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", folder],
            cwd=ROOT, capture_output=True, check=True,
        ).stdout.decode()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: take everything
        return [str(p.relative_to(ROOT)) for p in (ROOT / folder).rglob("*") if p.is_file()]
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The checkout's top-level entries linked into ``tmp_path``; examples/ as real folders
    of linked files, so outputs written beside the sample shot stay out of the checkout."""
    for entry in ROOT.iterdir():
        if entry.name in (".git", "examples") or entry.name.startswith("."):
            continue
        (tmp_path / entry.name).symlink_to(entry)
    for name in checkout_files("examples"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).symlink_to(ROOT / name)
    return tmp_path


@pytest.mark.parametrize(("lang", "code"), [b[1:] for b in BLOCKS], ids=[b[0] for b in BLOCKS])
def test_runnable_block(checkout: Path, lang: str, code: str):
    # This interpreter's folder first, so that ``python`` is this interpreter (a venv's
    # bin/python finds its environment only when run from its own folder).
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(checkout),
        # One inference thread: the blocks are tiny, and a pool oversubscribes a busy CI box.
        "OMP_NUM_THREADS": "1",
    }
    command = (
        ["bash", "-euo", "pipefail", "-c", code]
        if lang != "python"
        else [
            sys.executable,
            "-c",
            code,
        ]
    )
    result = subprocess.run(
        command, cwd=checkout, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, (
        f"{code}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )


def test_tests_named_in_the_docs_exist():
    named = {
        (match[1], match[2])
        for page in PAGES
        for match in re.finditer(
            r"((?:tests/[\w/]+/)?test_\w+\.py)::(test_\w+)", page.read_text(encoding="utf-8")
        )
    }
    assert named
    for file, test in sorted(named):
        candidates = [ROOT / file] if "/" in file else list((ROOT / "tests").rglob(file))
        sources = [p.read_text(encoding="utf-8") for p in candidates if p.is_file()]
        assert any(f"def {test}(" in s for s in sources), f"{file}::{test} does not exist"
