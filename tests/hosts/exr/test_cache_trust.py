"""core.batch never loads compiled graphs from a cache that others could have written, and
says why: the default mode runs eager with one warning, --compile and --precompile exit 2.

The cache entry here is fake (a manifest and a package that would crash the loader), which
proves that the check comes before anything is loaded."""

import json
from pathlib import Path

import pytest

from core.batch import main
from hosts.exr import errors
from hosts.exr.io import read_stamp
from hosts.exr.processor import BatchOptions, _resolve_cached, load_model
from tests.hosts.exr.images import write_shot


def _run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def loads(monkeypatch) -> list[Path]:
    """Every cache entry whose packages core.batch tries to load."""
    seen: list[Path] = []

    def load(folder, device):
        seen.append(folder)
        raise AssertionError("an untrusted package was loaded")

    monkeypatch.setattr("core.engines.aot.load", load)
    return seen


def test_a_world_writable_cache_is_not_loaded_and_the_run_says_why(
    capsys, tmp_path, weights, loads
):
    write_shot(tmp_path / "in", 4)
    cache = tmp_path / "cache"
    common = [tmp_path / "in", "--weights", weights, "--device", "cpu", "--cache-dir", cache]
    code, out, _ = _run(capsys, *common, "-o", tmp_path / "a/m.####.exr", "--log-format", "json")
    assert code == 0
    (event,) = [json.loads(line) for line in out.splitlines() if '"compiled"' in line]
    entry = Path(event["path"])  # where this shot's graphs go: fake them there
    entry.mkdir(parents=True)
    (entry / "manifest.json").write_text("{}")
    (entry / "step.pt2").write_bytes(b"a package that would crash the loader")
    cache.chmod(0o777)

    out_dir = tmp_path / "b"
    code, out, err = _run(capsys, *common, "-o", out_dir / "m.####.exr", "--log-format", "json")
    assert code == 0, err
    (event,) = [json.loads(line) for line in out.splitlines() if '"compiled"' in line]
    assert event["message"].startswith(
        f"not loading the compiled graphs in {entry}: {cache} is writable by others "
        f"(fix: chmod o-w {cache}); {cache} is writable by group"
    )
    assert event["message"].endswith("'Who may write the cache'); running eager")
    assert read_stamp(out_dir / "m.1001.exr")["compile"] is False
    assert loads == [] and (entry / "step.pt2").is_file()  # not loaded, not removed

    # In text: one warning line. --compile (and --precompile) stop instead, exit 2.
    code, _, err = _run(capsys, *common, "-o", tmp_path / "c/m.####.exr")
    assert code == 0 and err.count("not loading the compiled graphs") == 1
    for flag in ("--compile", "--precompile"):
        code, _, err = _run(capsys, *common, "-o", tmp_path / "d/m.####.exr", flag)
        assert code == errors.EXIT_USAGE, err
        assert f"not loading the compiled graphs in {entry}: {cache} is writable by others" in err
    assert loads == [] and not (tmp_path / "d").exists()


def test_a_group_writable_farm_cache_loads_with_the_trusted_group_only(tmp_path, weights):
    import grp
    import os

    write_shot(tmp_path / "in", 2)
    model = load_model(weights)
    plain = BatchOptions(cache_dir=tmp_path / "cache", device="cpu")
    options, note = _resolve_cached(plain, model, 48, 32, "plate")
    entry = Path(note.path)
    entry.mkdir(parents=True)
    (entry / "manifest.json").write_text("{}")
    (tmp_path / "cache").chmod(0o775)
    options, note = _resolve_cached(plain, model, 48, 32, "plate")
    assert options.compile is False and "is writable by group" in note.message
    group = grp.getgrgid(os.getegid()).gr_name
    trusted = BatchOptions(cache_dir=tmp_path / "cache", device="cpu", trusted_group=group)
    options, note = _resolve_cached(trusted, model, 48, 32, "plate")
    assert options.compile == "aot" and note is None


def test_the_trusted_group_option_reaches_the_options(tmp_path):
    from hosts.exr.cli import _options, build_parser

    args = build_parser().parse_args(["x.####.exr", "--trust-cache-group", "render"])
    assert _options(args).trusted_group == "render"
