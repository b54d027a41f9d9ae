"""The processor tests' tiny weights, for the runs of the real ``core.batch`` here."""

from tests.hosts.exr.conftest import one_torch_thread, weights

__all__ = ["one_torch_thread", "weights"]
