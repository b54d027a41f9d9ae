"""Compiled graphs are native code: nothing is loaded from a cache someone else could write.

The checks are tested on folders and files the tests make (``core.trust``), and through the
cache (``GraphCache``) with stub packages that would fail if they were loaded."""

import dataclasses
import grp
import logging
import os
from pathlib import Path

import numpy as np
import pytest

from core import MattingSession
from core.compiled import MANIFEST, GraphCache
from core.trust import TRUSTED_GROUP_ENV, Trust, UntrustedError, check_tree
from tests.core.test_compiled import KEY, Stub, _frames

OTHER_UID = 12345
ROOT_GROUP = grp.getgrgid(os.getegid()).gr_name


@pytest.fixture(autouse=True)
def no_trusted_group(monkeypatch):
    monkeypatch.delenv(TRUSTED_GROUP_ENV, raising=False)


def _entry(root: Path) -> tuple[GraphCache, Path]:
    """A cache in ``root`` holding one stub entry, built as memmatte builds entries."""
    cache = GraphCache(root / "cache")
    cache.get(KEY, Stub().build, Stub().load)
    return cache, cache.path(KEY)


def _problems(cache: GraphCache) -> list[str]:
    return [str(p) for p in cache.untrusted(KEY)]


def _can_chown() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def test_an_entry_the_cache_wrote_passes_whatever_the_umask(tmp_path):
    old = os.umask(0o002)  # a group-writable umask, common on farms
    try:
        cache, entry = _entry(tmp_path / "a/b")
    finally:
        os.umask(old)
    assert _problems(cache) == []
    modes = {p.name: p.stat().st_mode & 0o777 for p in (entry, *entry.iterdir())}
    assert modes == {entry.name: 0o755, "step.pt2": 0o644, MANIFEST: 0o644}
    # Every folder the cache made, up to the one that was there, has a mode that passes.
    assert [(tmp_path / p).stat().st_mode & 0o777 for p in ("a", "a/b", "a/b/cache")] == [0o755] * 3


@pytest.mark.parametrize("where", ["cache", "entry", "file", "manifest", "folder above"])
@pytest.mark.parametrize(
    "bits, check, fix",
    [
        (0o002, "is writable by others", "chmod o-w"),
        (0o020, f"is writable by group {ROOT_GROUP}", "chmod g-w"),
    ],
    ids=["world", "group"],
)
def test_group_or_world_writable_paths_are_refused_and_named(tmp_path, where, bits, check, fix):
    cache, entry = _entry(tmp_path)
    path = {
        "cache": cache.folder,
        "entry": entry,
        "file": entry / "step.pt2",
        "manifest": entry / MANIFEST,
        "folder above": tmp_path,
    }[where]
    path.chmod(path.stat().st_mode | bits)
    trust_hint = f", or trust the group: --trust-cache-group {ROOT_GROUP} or {TRUSTED_GROUP_ENV}"
    hint = trust_hint if bits == 0o020 else ""
    assert _problems(cache) == [f"{path} {check} (fix: {fix} {path}{hint})"]


def test_a_world_writable_folder_above_with_the_sticky_bit_passes(tmp_path):
    cache, _ = _entry(tmp_path)
    tmp_path.chmod(0o1777)  # as /tmp: others cannot rename the cache away in it
    assert _problems(cache) == []
    cache.folder.chmod(0o1757)  # but the cache itself never
    assert _problems(cache) == [
        f"{cache.folder} is writable by others (fix: chmod o-w {cache.folder})"
    ]


@pytest.mark.skipif(not _can_chown(), reason="changing a file's owner needs root")
@pytest.mark.parametrize("where", ["cache", "entry", "file"])
def test_paths_of_another_owner_are_refused(tmp_path, where):
    cache, entry = _entry(tmp_path)
    path = {"cache": cache.folder, "entry": entry, "file": entry / "step.pt2"}[where]
    os.chown(path, OTHER_UID, -1)
    (problem,) = cache.untrusted(KEY)
    assert problem.path == path
    assert problem.reason == f"is owned by user {OTHER_UID}, not by you (root) or root"
    assert problem.fix.startswith(f"chown root {path}, or trust a farm group")


def test_symlinks_out_of_the_cache_are_refused(tmp_path):
    cache, entry = _entry(tmp_path / "mine")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "evil.pt2").write_bytes(b"not a package")
    (entry / "step.pt2").unlink()
    (entry / "step.pt2").symlink_to(outside / "evil.pt2")
    assert _problems(cache) == [
        f"{entry / 'step.pt2'} is a symlink to {outside / 'evil.pt2'}, outside "
        f"{cache.folder} (fix: rm {entry / 'step.pt2'})"
    ]
    # A whole entry that is a symlink out of the cache, too.
    moved = outside / "entry"
    entry.rename(moved)
    entry.symlink_to(moved)
    assert _problems(cache)[0] == (
        f"{entry} is a symlink to {moved}, outside {cache.folder} (fix: rm {entry})"
    )


def test_a_symlink_inside_the_cache_and_a_symlinked_cache_pass(tmp_path):
    cache, entry = _entry(tmp_path / "real")
    (entry / "step.pt2").rename(cache.folder / "shared.pt2")
    (entry / "step.pt2").symlink_to(cache.folder / "shared.pt2")
    assert _problems(cache) == []
    (tmp_path / "link").symlink_to(cache.folder)
    assert GraphCache(tmp_path / "link").untrusted(KEY) == []


def test_a_trusted_group_may_write_and_own_but_never_world(tmp_path, monkeypatch):
    cache, entry = _entry(tmp_path)
    for path in (cache.folder, entry, entry / "step.pt2"):
        path.chmod(path.stat().st_mode | 0o020)
        if _can_chown():
            os.chown(path, OTHER_UID, -1)  # the farm's precompile user, in the group
    assert len(cache.untrusted(KEY)) == (6 if _can_chown() else 3)
    with pytest.raises(UntrustedError, match="writable by group"):
        cache.get(KEY, Stub().build, Stub().load)
    by_option = GraphCache(cache.folder, trusted_group=ROOT_GROUP)
    assert by_option.untrusted(KEY) == []
    assert by_option.get(KEY, Stub().build, Stub().load) == b"package"  # loaded
    monkeypatch.setenv(TRUSTED_GROUP_ENV, str(os.getegid()))  # a number works too
    assert GraphCache(cache.folder).untrusted(KEY) == []
    (entry / "step.pt2").chmod(0o666)
    assert [str(p) for p in by_option.untrusted(KEY)] == [
        f"{entry / 'step.pt2'} is writable by others (fix: chmod o-w {entry / 'step.pt2'})"
    ]


def test_an_unknown_trusted_group_trusts_nobody_and_says_so(tmp_path):
    cache, entry = _entry(tmp_path)
    assert GraphCache(cache.folder, trusted_group="no-such-group-xyz").untrusted(KEY) == []
    entry.chmod(0o775)
    problems = GraphCache(cache.folder, trusted_group="no-such-group-xyz").untrusted(KEY)
    assert [p.reason for p in problems] == [
        f"is writable by group {ROOT_GROUP}",
        "trusted group 'no-such-group-xyz' is not a group on this machine",
    ]
    assert str(problems[-1]) == (
        "trusted group 'no-such-group-xyz' is not a group on this machine "
        f"(fix: check --trust-cache-group or {TRUSTED_GROUP_ENV})"
    )


def test_an_untrusted_entry_is_neither_loaded_nor_rebuilt_nor_removed(tmp_path):
    cache, entry = _entry(tmp_path)
    cache.folder.chmod(0o757)
    stub, loaded = Stub(), []
    with pytest.raises(UntrustedError) as raised:
        cache.get(KEY, stub.build, lambda folder: loaded.append(folder))
    assert loaded == [] and stub.builds == 0 and (entry / "step.pt2").is_file()
    assert str(raised.value) == (
        f"not loading the compiled graphs in {entry}: {cache.folder} is writable by others "
        f"(fix: chmod o-w {cache.folder}) (see docs/farm.md, 'Who may write the cache')"
    )
    # Nor is anything compiled into a cache others can write (and then loaded from it).
    other = dataclasses.replace(KEY, threads=KEY.threads + 1)
    with pytest.raises(UntrustedError, match=f"not compiling graphs into {cache.folder}: "):
        cache.get(other, stub.build, stub.load)
    assert stub.builds == 0


def test_cached_session_runs_eager_with_one_warning_and_aot_refuses(lite_network, tmp_path, caplog):
    frames = _frames(3)
    kwargs = {"weights": lite_network, "device": "cpu", "downsample_ratio": 0.5}
    probe = MattingSession(frames, compile="cached", cache_dir=tmp_path / "c", **kwargs)
    cache, entry = probe.cache, probe.cache.path(probe.graph_key(40, 56))
    entry.mkdir(parents=True)
    (entry / "step.pt2").write_bytes(b"would crash the loader")
    (entry / MANIFEST).write_text("{}")
    (entry / "step.pt2").chmod(0o646)
    eager = list(MattingSession(frames, **kwargs))
    with caplog.at_level(logging.WARNING, logger="memmatte"):
        cached = list(MattingSession(frames, compile="cached", cache_dir=cache.folder, **kwargs))
    np.testing.assert_array_equal(eager[-1].alpha, cached[-1].alpha)
    (warning,) = caplog.records
    assert f"{entry / 'step.pt2'} is writable by others" in warning.getMessage()
    assert warning.getMessage().endswith("; running eager")
    with pytest.raises(UntrustedError, match="chmod o-w"):
        list(MattingSession(frames, compile="aot", cache_dir=cache.folder, **kwargs))
    assert (entry / "step.pt2").read_bytes() == b"would crash the loader"


def test_check_tree_of_an_empty_member_list_checks_the_root_and_above(tmp_path):
    root = tmp_path / "cache"
    root.mkdir()
    root.chmod(0o755)
    assert check_tree(root, [], Trust.current()) == []
    root.chmod(0o775)
    assert [p.path for p in check_tree(root, [], Trust.current())] == [root]
