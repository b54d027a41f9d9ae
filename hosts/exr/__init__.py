"""The image-sequence processor: EXR (and any OpenImageIO format) plates → matte EXRs
(scene-linear), or 16-bit PNG/TIFF mattes in the plates' encoding.

Command line: ``memmatte shots/*.exr``, the same as ``python -m core.batch shots/*.exr`` (see
docs/farm.md). Python:

    from hosts.exr import process_shot
    process_shot("shots/plate.####.exr", resume=True)  # the bundled weights
"""

from hosts.exr.errors import (
    BadInputError,
    BatchError,
    Cancelled,
    OutputError,
    UsageError,
)
from hosts.exr.io import OutputFormat
from hosts.exr.processor import (
    BatchOptions,
    BatchReport,
    Event,
    Failure,
    Model,
    ShotReport,
    load_model,
    precompile,
    process,
    process_shot,
    run_shot,
)
from hosts.exr.sequence import Shot, find_shots, output_shot

__all__ = [
    "BadInputError",
    "BatchError",
    "BatchOptions",
    "BatchReport",
    "Cancelled",
    "Event",
    "Failure",
    "Model",
    "OutputError",
    "OutputFormat",
    "Shot",
    "ShotReport",
    "UsageError",
    "find_shots",
    "load_model",
    "output_shot",
    "precompile",
    "process",
    "process_shot",
    "run_shot",
]
