"""Whether files that hold native code may be loaded: only from places nobody else can write.

A compiled-graph package (``core.compiled``) is a zip of shared libraries that the session
loads and runs, and its manifest's hashes only prove that the files are whole, not who wrote
them. So, as ssh's StrictModes does for key files and git's safe.directory for repositories,
nothing is loaded from a cache that another user could have written:

- the cache root and each folder above it, the entry folder and every file in it are owned by
  the current user or root, and writable by neither group nor others (a folder above the
  root may be world-writable with the sticky bit, as /tmp is: others cannot rename in it);
- a symlink inside the cache that points out of it is refused.

A shared farm cache opts in deliberately with a trusted group (``--trust-cache-group`` or
``$MEMMATTE_TRUSTED_GROUP``): a path whose group is that group may then be owned by any of
its members and be group-writable. World-writable is never trusted (docs/farm.md).

The checks are functions of paths and return ``Problem``s; ``UntrustedError`` carries them
in one line that names each path, what it failed and the command that fixes it. The OpenFX
plug-in applies the same rule in C++ to its runtime library and model
(hosts/ofx/src/plugin.cpp, ``check_trusted``).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

TRUSTED_GROUP_ENV = "MEMMATTE_TRUSTED_GROUP"
HELP = "docs/farm.md, 'Who may write the cache'"
_POSIX = hasattr(os, "geteuid")
"""Owners and modes mean what the checks assume (not on Windows, where they are skipped)."""


@dataclass(frozen=True)
class Problem:
    """``path`` failed a check: ``reason`` says which, ``fix`` how to mend it."""

    path: Path | None  # None: a problem of the settings, not of a path
    reason: str
    fix: str

    def __str__(self) -> str:
        what = self.reason if self.path is None else f"{self.path} {self.reason}"
        return f"{what} (fix: {self.fix})"


class UntrustedError(RuntimeError):
    """Files not loaded because others could have written them; the message is one line."""

    def __init__(self, lead: str, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        shown = "; ".join(str(p) for p in self.problems[:3])
        more = f"; and {len(self.problems) - 3} more" if len(self.problems) > 3 else ""
        super().__init__(f"{lead}: {shown}{more} (see {HELP})")


@dataclass(frozen=True)
class Trust:
    """Who may have written a loadable file: the current user and root, plus the members of
    ``group`` (a gid) when one is trusted. ``group_name`` is what the user asked for, kept
    for messages (also when no such group exists here: then no group is trusted)."""

    uid: int
    group: int | None = None
    group_name: str | None = None

    @classmethod
    def current(cls, group: str | None = None) -> Trust:
        """The current user, with ``group`` (a name or number; None: ``$MEMMATTE_TRUSTED_GROUP``,
        empty: none) trusted."""
        if group is None:
            group = os.environ.get(TRUSTED_GROUP_ENV) or None
        uid = os.geteuid() if hasattr(os, "geteuid") else 0
        return cls(uid, _gid(group) if group else None, group or None)

    def check(self, path: Path, *, sticky_ok: bool = False) -> list[Problem]:
        """The problems of one path (symlinks followed) as a place to load code from."""
        try:
            info = path.stat()
        except OSError as exc:
            return [Problem(path, f"cannot be checked ({exc.strerror})", "make it readable")]
        problems = []
        trusted_group = self.group is not None and info.st_gid == self.group
        if info.st_uid not in (self.uid, 0) and not trusted_group:
            problems.append(
                Problem(
                    path,
                    f"is owned by user {_user(info.st_uid)}, not by you ({_user(self.uid)}) "
                    "or root",
                    f"chown {_user(self.uid)} {path}, or trust a farm group: "
                    f"--trust-cache-group GROUP or {TRUSTED_GROUP_ENV}",
                )
            )
        sticky = stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_ISVTX
        if info.st_mode & stat.S_IWOTH and not (sticky_ok and sticky):
            problems.append(Problem(path, "is writable by others", f"chmod o-w {path}"))
        if info.st_mode & stat.S_IWGRP and not trusted_group and not (sticky_ok and sticky):
            problems.append(
                Problem(
                    path,
                    f"is writable by group {_group(info.st_gid)}",
                    f"chmod g-w {path}, or trust the group: --trust-cache-group "
                    f"{_group(info.st_gid)} or {TRUSTED_GROUP_ENV}",
                )
            )
        return problems

    def note(self, problems: list[Problem]) -> list[Problem]:
        """``problems``, with the trusted group named when it does not exist here."""
        if problems and self.group_name and self.group is None:
            reason = f"trusted group {self.group_name!r} is not a group on this machine"
            fix = f"check --trust-cache-group or {TRUSTED_GROUP_ENV}"
            return [*problems, Problem(None, reason, fix)]
        return problems


def check_tree(root: Path, members: Iterable[Path], trust: Trust) -> list[Problem]:
    """The problems of loading ``members`` (paths inside ``root``) from ``root``: the root,
    the folders above it, and each member, which must not be a symlink leading out."""
    if not _POSIX:
        return []
    real_root = Path(os.path.realpath(root))
    problems = trust.check(real_root)
    for parent in real_root.parents:
        problems += trust.check(parent, sticky_ok=True)
    for member in members:
        real = Path(os.path.realpath(member))
        if member.is_symlink() and not real.is_relative_to(real_root):
            problems.append(
                Problem(member, f"is a symlink to {real}, outside {real_root}", f"rm {member}")
            )
            continue
        problems += trust.check(real)
    return trust.note(problems)


def _gid(group: str) -> int | None:
    try:
        import grp
    except ImportError:  # Windows: no groups to trust
        return None
    try:
        return grp.getgrgid(int(group)).gr_gid if group.isdigit() else grp.getgrnam(group).gr_gid
    except KeyError:
        return None


def _user(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return str(uid)


def _group(gid: int) -> str:
    try:
        import grp

        return grp.getgrgid(gid).gr_name
    except (ImportError, KeyError):
        return str(gid)
