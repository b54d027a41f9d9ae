"""Every fault class of docs/reliability.md: a seeded sample by default (what CI runs), the
full counts with ``-m slow``. Each sample fails with the list of faults not survived."""

from __future__ import annotations

import re

import pytest

from tests.reliability.harness import ROOT
from tests.reliability.report import CLASSES

SEED = 27
CLASSES_HERE = [name for name in CLASSES if not name.endswith("-killed")]
"""The host classes are the tests of tests/hosts/*/test_killed.py, run by pytest there."""


@pytest.mark.parametrize("name", [name for name in CLASSES_HERE if CLASSES[name].quick])
def test_a_seeded_sample_of_each_fault_class_is_survived(name, tmp_path):
    fault = CLASSES[name]
    fault.run(fault.quick, SEED, tmp_path).check()


@pytest.mark.slow
@pytest.mark.parametrize("name", CLASSES_HERE)
def test_every_fault_of_each_class_is_survived(name, tmp_path):
    fault = CLASSES[name]
    fault.run(fault.full, SEED + 1, tmp_path).check()


def test_docs_reliability_lists_every_fault_class_with_its_rerun_command():
    text = (ROOT / "docs" / "reliability.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"`python -m tests\.reliability\.report ([\w-]+)", text))
    assert listed == set(CLASSES)
    rows = [line for line in text.splitlines() if "python -m tests.reliability.report " in line]
    for row in rows:
        if row.startswith("|"):
            _, fault, injected, survived, lost, _, _ = row.split("|")
            assert int(injected) == int(survived) > 0 and int(lost) == 0, fault


@pytest.mark.parametrize("name", ["full-disk", "unwritable"])
def test_where_no_tmpfs_can_be_mounted_the_injected_errors_are_survived(
    name, tmp_path, monkeypatch
):
    # CI machines that are not root (or lack the capability) inject OSError(ENOSPC) and
    # PermissionError where outputs are published instead of filling a real disk.
    from tests.reliability import outputs

    monkeypatch.setattr(outputs, "can_mount", lambda: False)
    tally = CLASSES[name].run(2, SEED, tmp_path)
    assert "injected" in tally.fault or name == "unwritable"
    tally.check()
