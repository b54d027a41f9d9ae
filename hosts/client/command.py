"""The ``core.batch`` command line as a value: every option hosts pass, spelled once.

    BatchCommand(("shots/plate.####.exr",), frames="1001-1050", log_format="json").argv(python)
    → [python, "-m", "core.batch", "shots/plate.####.exr", "--frames", "1001-1050",
       "--log-format", "json"]

Options left at their default are not written, so a command says what differs from
``python -m core.batch --help``'s defaults. Values are strings as the command line takes
them (OpenJD templates put ``{{Param.Input}}`` placeholders in them).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

LAYOUTS = ("rgba", "alpha", "layers")
RGB_SOURCES = ("foreground", "plate")
COMPILE_MODES = ("cached", "aot", "eager")
"""cached: compiled graphs when the cache has them (the default); aot: ``--compile``;
eager: ``--eager``."""
LOG_FORMATS = ("text", "json")
RUN_OPTIONS = ("output", "weights", "frames", "cache_dir", "trust_cache_group", "resume",
               "keep_going", "emit_openjd", "chunk_size", "template_python", "log_format",
               "quiet")  # fmt: skip
"""Options of one run (where, which frames, what it logs, farm templates) rather than of how
frames are matted."""


@dataclass(frozen=True)
class BatchCommand:
    """The options of one ``python -m core.batch`` run (see its ``--help``).

    inputs: plates (globs, files, folders, sequence patterns). layout: "rgba", "alpha"
    (``--alpha-only``) or "layers" (``--layers``). rgb: ``--rgb``, the colour of RGBA
    outputs: "foreground" or "plate" (the plate's pixels, times alpha when premultiplied).
    compile: see ``COMPILE_MODES``.
    precompile: only fill the compiled-graph cache (not with compile "aot" or "eager").
    template_python: ``--python``, the interpreter an ``--emit-openjd`` template's tasks run.
    trust_cache_group: ``--trust-cache-group``, the group whose members may write a shared
    compiled-graph cache.
    """

    inputs: tuple[str, ...]
    output: str | None = None
    weights: str | None = None
    frames: str | None = None
    colorspace: str | None = None
    channels: str | None = None
    layout: str = "rgba"
    rgb: str = "foreground"
    unpremultiplied: bool = False
    compression: str = "zip"
    pixel_type: str = "half"
    downsample_ratio: str = "auto"
    device: str = "auto"
    precision: str = "auto"
    compile: str = "cached"
    precompile: bool = False
    cache_dir: str | None = None
    trust_cache_group: str | None = None
    threads: int | None = None
    io_threads: int = 0
    resume: bool = False
    keep_going: bool = False
    emit_openjd: str | None = None
    chunk_size: int = 10
    template_python: str | None = None
    log_format: str = "text"
    quiet: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.inputs, (str, bytes)):
            raise TypeError("inputs: a tuple of plates, not one string")
        if not self.inputs:
            raise ValueError("inputs: at least one plate")
        for name, value, allowed in (
            ("layout", self.layout, LAYOUTS),
            ("rgb", self.rgb, RGB_SOURCES),
            ("compile", self.compile, COMPILE_MODES),
            ("log_format", self.log_format, LOG_FORMATS),
        ):
            if value not in allowed:
                raise ValueError(f"{name} {value!r}: one of {', '.join(allowed)}")
        if self.precompile and self.compile != "cached":
            raise ValueError("precompile cannot be combined with --compile or --eager")

    def matting(self) -> BatchCommand:
        """This command with only the options of how frames are matted (layout, colour,
        network, threads): ``RUN_OPTIONS`` back at their defaults."""
        defaults = {f.name: f.default for f in dataclasses.fields(self) if f.name in RUN_OPTIONS}
        return dataclasses.replace(self, **defaults)

    def args(self) -> list[str]:
        """What follows ``-m core.batch``: the inputs, then the options not at default."""
        args = [str(i) for i in self.inputs]
        valued = (
            ("--output", self.output, None),
            ("--weights", self.weights, None),
            ("--frames", self.frames, None),
            ("--colorspace", self.colorspace, None),
            ("--channels", self.channels, None),
            ("--rgb", self.rgb, "foreground"),
            ("--compression", self.compression, "zip"),
            ("--pixel-type", self.pixel_type, "half"),
            ("--downsample-ratio", self.downsample_ratio, "auto"),
            ("--device", self.device, "auto"),
            ("--precision", self.precision, "auto"),
            ("--cache-dir", self.cache_dir, None),
            ("--trust-cache-group", self.trust_cache_group, None),
            ("--threads", self.threads, None),
            ("--io-threads", self.io_threads, 0),
            ("--emit-openjd", self.emit_openjd, None),
            ("--chunk-size", self.chunk_size, 10),
            ("--python", self.template_python, None),
            ("--log-format", self.log_format, "text"),
        )
        for flag, value, default in valued:
            if value is not None and value != default:
                args += [flag, str(value)]
        switches = (
            ("--alpha-only", self.layout == "alpha"),
            ("--layers", self.layout == "layers"),
            ("--unpremultiplied", self.unpremultiplied),
            ("--compile", self.compile == "aot"),
            ("--eager", self.compile == "eager"),
            ("--precompile", self.precompile),
            ("--resume", self.resume),
            ("--keep-going", self.keep_going),
            ("-q", self.quiet),
        )
        args += [flag for flag, on in switches if on]
        return args

    def argv(self, python: str) -> list[str]:
        """The whole command: ``[python, "-m", "core.batch", *self.args()]``."""
        return [python, "-m", "core.batch", *self.args()]
