"""The tests build the plug-in outside the checkout."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_the_bundle_is_built_outside_the_checkout(bundle):
    assert bundle.is_dir() and bundle.name == "Memmatte.ofx.bundle"
    assert ROOT not in Path(bundle).resolve().parents
