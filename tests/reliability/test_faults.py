"""Every fault class of docs/reliability.md: a seeded sample by default (what CI runs), the
full counts with ``-m slow``. Each sample fails with the list of faults not survived."""

from __future__ import annotations

import pytest

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
