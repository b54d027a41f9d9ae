"""The plug-in loads its runtime library and its TorchScript model (code, both) only from
files and folders that nobody but this user or root can write, and says which path failed
which check through the host's message suite (as core/trust.py does for compiled graphs)."""

import grp
import os
import shutil

import pytest

from hosts.ofx.minihost import FAILED, OK
from tests.hosts.ofx.test_plugin import _effect

ROOT_GROUP = grp.getgrgid(os.getegid()).gr_name


@pytest.fixture(autouse=True)
def no_trusted_group(monkeypatch):
    monkeypatch.delenv("MEMMATTE_TRUSTED_GROUP", raising=False)


@pytest.fixture
def private_model(model, tmp_path):
    """A copy of the model in a folder of its own, both with the modes a model is kept in."""
    folder = tmp_path / "models"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    copy = shutil.copy(model, folder / "model.pt")
    os.chmod(copy, 0o644)
    return folder / "model.pt"


def _refusal(host, clip, model) -> str:
    host.messages.clear()
    assert _effect(host, clip, model).render(0)[0] == FAILED
    kind, message = host.messages[-1]
    assert kind == "OfxMessageError"
    return message


@pytest.mark.parametrize(
    "where, bits, check, fix",
    [
        ("file", 0o002, "is writable by others", "chmod o-w {path}"),
        ("folder", 0o002, "is writable by others", "chmod o-w {path}"),
        ("file", 0o020, f"is writable by group {ROOT_GROUP}", "chmod g-w {path}, or trust"),
        ("folder", 0o020, f"is writable by group {ROOT_GROUP}", "chmod g-w {path}, or trust"),
    ],
)
def test_a_writable_model_or_model_folder_is_not_loaded(
    host, clip, private_model, where, bits, check, fix
):
    path = private_model if where == "file" else private_model.parent
    path.chmod(path.stat().st_mode | bits)
    message = _refusal(host, clip, private_model)
    assert message.startswith(
        f"Memmatte: not loading the TorchScript model {private_model}: {path} {check} "
        f"(fix: {fix.format(path=path)}"
    )
    assert message.endswith("(see docs/hosts/openfx.md)")
    path.chmod(path.stat().st_mode & ~bits)  # the fix the message names
    assert _effect(host, clip, private_model).render(0)[0] == OK


def test_a_trusted_group_may_write_the_model_folder_but_others_never(
    host, clip, private_model, monkeypatch
):
    private_model.parent.chmod(0o775)
    assert "writable by group" in _refusal(host, clip, private_model)
    monkeypatch.setenv("MEMMATTE_TRUSTED_GROUP", ROOT_GROUP)
    assert _effect(host, clip, private_model).render(0)[0] == OK
    other = private_model.parent / "other.pt"
    shutil.copy(private_model, other)
    other.chmod(0o646)
    assert f"{other} is writable by others" in _refusal(host, clip, other)


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_a_model_of_another_owner_is_not_loaded(host, clip, private_model):
    os.chown(private_model, 12345, -1)
    assert f"{private_model} is owned by user 12345, not by you (root) or root" in _refusal(
        host, clip, private_model
    )


def test_a_symlink_in_a_writable_folder_is_not_followed_to_a_private_model(
    host, clip, private_model, tmp_path
):
    drop = tmp_path / "drop"
    drop.mkdir()
    drop.chmod(0o757)  # anyone could point this link elsewhere
    (drop / "model.pt").symlink_to(private_model)
    assert f"{drop} is writable by others (fix: chmod o-w {drop})" in _refusal(
        host, clip, drop / "model.pt"
    )


def test_a_writable_runtime_library_is_not_loaded(bundle, clip, model, tmp_path):
    from hosts.ofx.minihost import MiniHost

    copy = shutil.copytree(bundle, tmp_path / "Memmatte.ofx.bundle")
    runtime = copy / "Contents" / "Linux-x86-64" / "libmemmatte_runtime.so"
    runtime.chmod(0o757)
    host = MiniHost(copy)
    assert host.status_describe == OK  # describing loads no runtime
    assert _refusal(host, clip, model) == (
        f"Memmatte: not loading the inference runtime {runtime}: {runtime} is writable by "
        f"others (fix: chmod o-w {runtime}) (see docs/hosts/openfx.md)"
    )
