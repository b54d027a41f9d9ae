import sys
from pathlib import Path

import pytest

NUKE_DIR = Path(__file__).parents[3] / "hosts" / "nuke"


@pytest.fixture(scope="module")
def memmatte_nuke():
    """The plugin folder on sys.path, as Nuke puts it there from NUKE_PATH."""
    sys.path.insert(0, str(NUKE_DIR))
    import memmatte_nuke

    yield memmatte_nuke
    sys.path.remove(str(NUKE_DIR))


@pytest.fixture
def fake_nuke(monkeypatch, memmatte_nuke):
    from tests.hosts.nuke import fake_nuke

    fake_nuke.reset()
    monkeypatch.setitem(sys.modules, "nuke", fake_nuke)
    yield fake_nuke
    # A render still running (a slow machine) must not answer the next test's button with
    # "already rendering".
    from memmatte_nuke import nuke_ui

    for job in nuke_ui._running.values():
        job.cancel()
    nuke_ui._running.clear()
