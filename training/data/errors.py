"""The one exception dataset readers raise for a tree that does not match the layout they read."""


class DatasetLayoutError(ValueError):
    """A dataset folder is missing, incomplete or does not match the expected layout.

    The message names the offending path and says what the reader expected there, e.g.
    ``VideoMatte240K: expected <root>/train/fgr/<clip>/*.jpg and matching
    <root>/train/pha/<clip>/*.jpg; /data/vm/train/pha/0003 has 12 frames but fgr has 13``.
    """


def layout_error(dataset: str, expected: str, problem: str) -> DatasetLayoutError:
    """Builds the uniform ``"<dataset>: expected <layout>; <problem>"`` message."""
    return DatasetLayoutError(f"{dataset}: expected {expected}; {problem}")
