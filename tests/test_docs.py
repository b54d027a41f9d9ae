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


# -- facts about the default weights ------------------------------------------------------

WEIGHTS = ROOT / "core" / "assets" / "memmatte_default.safetensors"
MODEL_CARD = ROOT / "docs" / "weights.md"
_ABOUT_DEFAULT = re.compile(
    r"memmatte_default\.safetensors|(?:bundled|default)(?:[ -][\w-]+){0,2} weights|"
    r"default checkpoint|th(?:ese|ose) weights",  # these: the default weights, just named
    re.IGNORECASE,
)
_HISTORICAL = re.compile(r"earlier|of that day|of the day|previous|\bold\b|former|histor", re.I)


def weights_facts() -> dict[str, object]:
    """What the default weights are, from the file itself and from its model card: the
    network's long side for ``downsample_ratio="auto"``, the file's size in MB and its
    precision (the file), the licence and whether real photographs were in its training
    data (the card)."""
    from safetensors import safe_open

    with safe_open(str(WEIGHTS), "pt") as f:
        metadata = f.metadata() or {}
        dtypes = {f.get_slice(k).get_dtype() for k in f.keys()}  # noqa: SIM118 (not a dict)
    floats = dtypes & {"F16", "BF16", "F32"}
    card = MODEL_CARD.read_text(encoding="utf-8")
    (licence,) = re.findall(r"\*\*Licence: ([\w.+-]+?),?\*\*", card)
    if "license" in metadata:  # written by some recipes (python -m training.teachers)
        assert metadata["license"] == licence, "the model card's licence is not the file's"
    return {
        "long side": int(metadata["auto_long_side"]),
        "MB": WEIGHTS.stat().st_size / 1e6,
        "precision": {"F16": "fp16", "BF16": "bf16", "F32": "fp32"}[floats.pop()]
        if len(floats) == 1
        else None,
        "licence": licence,
        "real photographs": "real photograph" in card.lower(),  # in the training data
    }


def _clauses(text: str) -> list[str]:
    """Sentences (and table rows) of a page, split further at commas, semicolons and
    brackets: the pieces a fact about the weights is stated in."""
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    pieces = []
    for paragraph in re.split(r"\n\s*\n|\n(?=\|)", text):
        for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z*`(\[])", " ".join(paragraph.split())):
            pieces += [c for c in re.split(r"[,;()]| — ", sentence) if c.strip()]
    return pieces


def weights_claims(text: str) -> list[tuple[str, str, str]]:
    """(fact, value, clause) for every statement about the default weights in ``text``:
    the long side in px, the file size in MB, the precision, the licence and "only
    synthetic" training data; clauses about earlier weights are history, not claims."""
    claims = []
    sentences = re.split(r"(?<=[.!?])\s+", " ".join(text.split()))
    for sentence in sentences:
        if not _ABOUT_DEFAULT.search(sentence):
            continue
        for clause in _clauses(sentence):
            if _HISTORICAL.search(clause):
                continue
            for m in re.finditer(
                r"\b(\d{3,4}) ?(?:px\b|for the (?:bundled|default))(?! on the short)", clause
            ):
                claims.append(("long side", m[1], clause))
            for m in re.finditer(r"(?:licen[cs]ed under|Licence:) \**([A-Z][\w.+-]*\w)", sentence):
                claims.append(("licence", m[1], sentence))
            if re.search(r"only (?:on )?synthetic|synthetic[- ]only|synthetic data only", clause):
                claims.append(("synthetic only", "yes", clause))
        # "`core/assets/memmatte_default.safetensors` (fp16, 14 MB)" and the like.
        for m in _FILE_FACTS.finditer(sentence):
            claims += [("precision", m[1], sentence)] if m[1] else []
            claims.append(("MB", m[2], sentence))
    return claims


_FILE_FACTS = re.compile(
    r"memmatte_default\.safetensors`?\)?,? ?\(?(?:(fp16|bf16|fp32), )?([\d.]+) ?MB\b"
)


def disagreements(text: str, facts: dict[str, object]) -> list[str]:
    wrong = []
    for fact, value, clause in weights_claims(text):
        if fact == "long side":
            ok = int(value) == facts["long side"]
        elif fact == "MB":
            ok = abs(float(value) - float(facts["MB"])) < 0.5 + 0.05 * float(facts["MB"])
        elif fact == "synthetic only":
            ok = not facts["real photographs"]
        else:
            ok = value == facts[fact]
        if not ok:
            truth = facts["real photographs"] if fact == "synthetic only" else facts[fact]
            wrong.append(f"{fact} {value!r} (the weights: {truth!r}): {clause.strip()}")
    return wrong


def test_the_docs_state_the_default_weights_facts_the_weights_and_card_hold():
    facts = weights_facts()
    wrong = {
        str(page.relative_to(ROOT)): found
        for page in PAGES
        if (found := disagreements(page.read_text(encoding="utf-8"), facts))
    }
    assert wrong == {}
    # The claims the README and the model card make are found (the test reads them), and
    # the card's record of the file's metadata is the file's.
    text = MODEL_CARD.read_text(encoding="utf-8")
    card = {fact for fact, _, _ in weights_claims(text)}
    assert {"MB", "precision"} <= card
    current = text.split("\n## History")[0]  # the card's history describes earlier weights
    found = re.findall(r"`auto_long_side = (\d+)`", current)
    assert [int(v) for v in found] == [facts["long side"]]
    readme = {fact for fact, _, _ in weights_claims((ROOT / "README.md").read_text("utf-8"))}
    assert {"long side", "MB", "licence"} <= readme


@pytest.mark.parametrize(
    "stale",
    [
        "0 = auto (`auto_long_side`: 512 px for the paper's schedule, 256 for the bundled "
        "miniature weights), 1 for smaller frames.",
        "Those weights were trained only on synthetic data on a CPU (docs/weights.md).",
        "The bundled default weights (`core/assets/memmatte_default.safetensors`, fp16, 3 MB) "
        "are small.",
        "The bundled weights are licensed under **MIT**.",
        "They run the network at 256 px on the long side with the default weights.",
    ],
)
def test_stale_facts_about_the_default_weights_are_caught(stale):
    assert disagreements(stale, weights_facts())


def test_the_readme_describes_ci_as_it_runs():
    """README's line about ``bash .ci/run`` says whether it starts from a fresh venv as the
    script does (it creates ``.venv`` only when missing, and reuses it otherwise)."""
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (comment,) = re.findall(r"# Tests \((.*)\)\nbash \.ci/run", readme)
    fresh = "--clear" in script or re.search(r"rm -rf \"?\.venv", script) is not None
    assert ("fresh venv" in comment) == fresh
    assert ".venv" in comment and (fresh or "reused" in comment)
