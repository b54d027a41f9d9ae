"""``memmatte`` (also ``python -m core.batch``): the command line of the image-sequence
processor.

Text output goes to stderr (a progress bar per shot on a terminal that reports its width,
one line per event otherwise); ``--log-format json`` prints one JSON object per event on
stdout instead, for farm log parsers, as the records of ``hosts.client.events``
(docs/farm.md, "The event schema"). Exit codes are listed in ``--help`` and docs/farm.md.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TextIO

from hosts.client import events
from hosts.client.command import BatchCommand
from hosts.exr import errors
from hosts.exr.errors import BatchError, Cancelled
from hosts.exr.io import COMPRESSIONS, PIXEL_TYPES, RGB_SOURCES, OutputFormat
from hosts.exr.processor import BatchOptions, BatchReport, Event, process

EPILOG = """\
inputs: globs (shots/*.exr), files, folders, or sequence patterns: plate.####.exr,
plate.%04d.exr, plate.@@@@.exr, plate.$F4.exr, plate.1001-1100#.exr. Several shots are
processed one after another.

output pattern: {dir} is the plate's folder and {name} its base name; each # is one digit
of the frame number (%04d and $F4 work too). Default: {dir}/matte/ with the plate's names.
The extension picks the file type: .exr (default: half float, scene-linear; PNG, JPEG and
integer TIFF plates are decoded from sRGB, or from --colorspace), or .png / .tif (16-bit,
in the plate's own encoding; PNG alpha is straight, TIFF alpha premultiplied unless
--unpremultiplied).

warnings: NaN, Inf and negative plate values are replaced (by 0, 65504 and 0) before the
network sees them; written frames with NaN, Inf or values below -1e-4 are counted in one
warning per shot (smaller negatives are rounding noise and replaced silently).

exit codes:
  0    every shot done
  1    internal error (traceback printed)
  2    usage error (bad option, no or damaged weights, output equal to an input)
  3    bad input (missing, truncated or corrupt frame; resolution change)
  4    --keep-going: at least one shot failed (all failures listed at the end)
  5    an output could not be written
  130  interrupted by SIGINT, 143 terminated by SIGTERM (rerun with --resume)
  141  the log's reader closed the pipe (e.g. | head): stopped like SIGINT
"""


PROG = "memmatte"
"""The console command (pyproject [project.scripts]); ``python -m core.batch`` is the same."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Matte image sequences (EXR, DPX, TIFF, PNG, JPEG) with memmatte "
        "(also run as python -m core.batch).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="plates: globs, files, patterns")
    p.add_argument("-o", "--output", metavar="PATTERN", help="where mattes go (see below)")
    p.add_argument(
        "--weights", type=Path, metavar="PATH", help="checkpoint (default: the bundled weights)"
    )
    p.add_argument("--frames", metavar="RANGE", help="only these frames, e.g. 1001-1050")
    p.add_argument(
        "--colorspace",
        metavar="NAME",
        help="OCIO colour space of the plates (default: file metadata, else scene-linear "
        "Rec.709 for float files and sRGB for integer files); config: $OCIO or ocio://default",
    )
    p.add_argument(
        "--channels",
        metavar="NAMES",
        help="the plates' colour: three channel names (diffuse.R,diffuse.G,diffuse.B) or a "
        "layer or part name (diffuse); default: R,G,B, else the rgb/rgba/diffuse layer. "
        "Every part of a multi-part EXR is searched; no match or several exit 3",
    )
    layout = p.add_mutually_exclusive_group()
    layout.add_argument("--alpha-only", action="store_true", help="write a single A channel")
    layout.add_argument(
        "--layers",
        action="store_true",
        help="write the plate untouched plus matte.A and fg.R/G/B in one EXR",
    )
    p.add_argument(
        "--rgb",
        choices=RGB_SOURCES,
        default="foreground",
        help="what R, G, B hold: the network's foreground (default) or the plate's own "
        "pixels (premultiplied: plate x alpha, as the Blender node's Image output)",
    )
    p.add_argument(
        "--unpremultiplied",
        action="store_true",
        help="foreground not multiplied by alpha (default: premultiplied, the EXR convention)",
    )
    p.add_argument("--compression", choices=COMPRESSIONS, default="zip")
    p.add_argument("--pixel-type", choices=PIXEL_TYPES, default="half")
    p.add_argument(
        "--downsample-ratio",
        default="auto",
        metavar="R",
        help="network resolution as a fraction of the frame, or auto (about 512 px)",
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"))
    compiled = p.add_mutually_exclusive_group()
    compiled.add_argument(
        "--compile",
        action="store_true",
        help="run ahead-of-time compiled graphs (the fastest CPU mode), compiling them into "
        "the cache first if it has none for this size and these options (about a minute, "
        "once); default: use them only when the cache has them, else run eager",
    )
    compiled.add_argument(
        "--eager", action="store_true", help="never use compiled graphs, even cached ones"
    )
    compiled.add_argument(
        "--precompile",
        action="store_true",
        help="only compile the graphs each shot needs into the cache, then exit (a farm "
        "job's first step, so that no chunk compiles)",
    )
    p.add_argument(
        "--cache-dir",
        type=Path,
        metavar="DIR",
        help="compiled graphs' folder (default: $MEMMATTE_CACHE, else ~/.cache/memmatte/compiled)",
    )
    p.add_argument(
        "--trust-cache-group",
        metavar="GROUP",
        help="also load compiled graphs that members of GROUP wrote (a shared farm cache; "
        "default: $MEMMATTE_TRUSTED_GROUP). Otherwise only those nobody but you or root "
        "could have written are loaded (docs/farm.md)",
    )
    p.add_argument("--threads", type=int, metavar="N", help="CPU threads for inference")
    p.add_argument("--io-threads", type=int, default=0, metavar="N", help="0: automatic")
    p.add_argument("--resume", action="store_true", help="skip frames whose complete output exists")
    p.add_argument(
        "--keep-going", action="store_true", help="continue with the other shots on failure"
    )
    p.add_argument(
        "--emit-openjd",
        type=Path,
        metavar="FILE",
        help="write an Open Job Description template that runs this command in chunks, "
        "then exit without processing",
    )
    p.add_argument("--chunk-size", type=int, default=10, metavar="N", help="frames per task")
    p.add_argument(
        "--python",
        default=sys.executable,
        metavar="PATH",
        help="interpreter the template's tasks run (default: this one)",
    )
    p.add_argument("--log-format", choices=("text", "json"), default="text")
    p.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cancel = threading.Event()
    out = _Output(args.log_format, args.quiet, on_broken_pipe=cancel.set)
    try:
        options = _options(args)
        if args.weights is not None and not args.weights.is_file():
            raise errors.UsageError(f"--weights {args.weights}: no such weights file")
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        if args.emit_openjd:
            return _emit_openjd(args, options, out)
        if args.precompile:
            from hosts.exr.processor import precompile

            precompile(args.inputs, options, weights=args.weights, progress=out.event)
            return errors.EXIT_OK
        with _signals(cancel) as received:
            try:
                report = process(
                    args.inputs,
                    options,
                    weights=args.weights,
                    keep_going=args.keep_going,
                    progress=out.event,
                    cancel=cancel,
                )
            except Cancelled as exc:
                code = errors.EXIT_TERMINATED if signal.SIGTERM in received else exc.exit_code
                if out.broken:
                    code = errors.EXIT_BROKEN_PIPE
                    exc = Cancelled("the log's reader closed the pipe (broken pipe)")
                out.error(events.Cancelled, str(exc) + "; rerun with --resume to finish", code)
                return code
        return out.summary(report)
    except BatchError as exc:
        out.error(events.Error, str(exc), exc.exit_code)
        return exc.exit_code
    except Exception as exc:
        traceback.print_exc()
        out.error(events.Error, f"internal error: {exc!r}", errors.EXIT_INTERNAL)
        return errors.EXIT_INTERNAL
    finally:
        out.close()


def _options(args: argparse.Namespace) -> BatchOptions:
    layout = "alpha" if args.alpha_only else "layers" if args.layers else "rgba"
    options = BatchOptions(
        output=args.output,
        frames=args.frames,
        colorspace=args.colorspace,
        channels=args.channels,
        format=OutputFormat(
            layout, not args.unpremultiplied, args.pixel_type, args.compression, args.rgb
        ),
        resume=args.resume,
        downsample_ratio=args.downsample_ratio,
        device=args.device,
        precision=args.precision,
        compile=False if args.eager else "aot" if args.compile else "cached",
        cache_dir=args.cache_dir,
        trusted_group=args.trust_cache_group,
        io_threads=args.io_threads,
    )
    options.check()
    return options


def command(args: argparse.Namespace) -> BatchCommand:
    """The parsed command line as the client's ``BatchCommand``: what ``BatchCommand.args``
    writes, ``build_parser`` reads back to the same options (tests/hosts/client)."""
    layout = "alpha" if args.alpha_only else "layers" if args.layers else "rgba"
    return BatchCommand(
        inputs=tuple(args.inputs),
        output=args.output,
        weights=None if args.weights is None else str(args.weights),
        frames=args.frames,
        colorspace=args.colorspace,
        channels=args.channels,
        layout=layout,
        rgb=args.rgb,
        unpremultiplied=args.unpremultiplied,
        compression=args.compression,
        pixel_type=args.pixel_type,
        downsample_ratio=str(args.downsample_ratio),
        device=args.device,
        precision=args.precision,
        compile="aot" if args.compile else "eager" if args.eager else "cached",
        precompile=args.precompile,
        cache_dir=None if args.cache_dir is None else str(args.cache_dir),
        trust_cache_group=args.trust_cache_group,
        threads=args.threads,
        io_threads=args.io_threads,
        resume=args.resume,
        keep_going=args.keep_going,
        emit_openjd=None if args.emit_openjd is None else str(args.emit_openjd),
        chunk_size=args.chunk_size,
        template_python=None if args.python == sys.executable else args.python,
        log_format=args.log_format,
        quiet=args.quiet,
    )


def _emit_openjd(args: argparse.Namespace, options: BatchOptions, out: _Output) -> int:
    import torch

    from hosts.exr.openjd import (
        MAX_CHUNK,
        chunk_sizes,
        job_template,
        step_frames,
        values_path,
        write_template,
    )
    from hosts.exr.processor import check_outputs
    from hosts.exr.sequence import find_shots

    if not 1 <= args.chunk_size <= MAX_CHUNK:
        raise errors.UsageError(f"--chunk-size must be in 1..{MAX_CHUNK}")
    shots = find_shots(args.inputs)
    check_outputs(shots, options)
    # Every task with the same thread count, whatever machine runs it: results depend on it
    # in the last bits, and --resume refuses outputs written with another (docs/farm.md).
    threads = args.threads or torch.get_num_threads()
    task = dataclasses.replace(command(args).matting(), threads=threads)
    template, values = job_template(
        shots,
        options,
        weights=args.weights,
        chunk_size=args.chunk_size,
        python=args.python,
        task=task,
        precompile=not args.eager,
        cache_dir=args.cache_dir,
        trusted_group=args.trust_cache_group,
    )
    path = write_template(args.emit_openjd, template, values)
    steps = template["steps"]
    matte_steps = [step["name"] for step in steps if "parameterSpace" in step]
    tasks = [
        f"{name!r}: {_describe_chunks(chunk_sizes(step_frames(shot, options), args.chunk_size))}"
        for name, shot in zip(matte_steps, shots, strict=True)
    ]
    out.note(
        events.OpenJD(
            f"wrote {path} ({len(steps)} step(s): "
            + ("'precompile', then " if len(steps) > len(shots) else "")
            + "; ".join(tasks)
            + f"; --threads {threads}) and its path values {values_path(path)}; Open Job "
            f"Description splits each step's frames into the fewest chunks of at most "
            f"--chunk-size {args.chunk_size} and balances their sizes; run locally: openjd run "
            f"{path} -p file://{values_path(path)} --step '{steps[0]['name']}'"
        )
    )
    return errors.EXIT_OK


def _describe_chunks(sizes: list[int]) -> str:
    """[8, 8, 8] → "3 task(s) of 8 frame(s)"; [4, 3] → "2 task(s) of 3-4 frame(s)"."""
    low, high = min(sizes), max(sizes)
    each = f"{low}" if low == high else f"{low}-{high}"
    return f"{len(sizes)} task(s) of {each} frame(s)"


@contextlib.contextmanager
def _signals(cancel: threading.Event) -> Iterator[list[int]]:
    """SIGINT and SIGTERM set ``cancel`` (the run stops cleanly after the frame in flight);
    a second signal acts as usual."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(signum, frame):
        received.append(signum)
        cancel.set()
        signal.signal(signum, previous[signum])

    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in previous:
        signal.signal(s, handler)
    try:
        yield received
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


class _Output:
    """Progress bars, text lines or JSON lines, depending on the options and the terminal."""

    def __init__(
        self,
        log_format: str,
        quiet: bool,
        stream: TextIO | None = None,
        on_broken_pipe: Callable[[], None] | None = None,
    ) -> None:
        self.json = log_format == "json"
        self.broken = False
        self._on_broken_pipe = on_broken_pipe
        self.quiet = quiet
        self.stream = stream or (sys.stdout if self.json else sys.stderr)
        # A terminal that reports no width (a pseudo-terminal left at 0 columns by `script`
        # or a farm wrapper) gets the per-frame lines: tqdm would draw nothing there.
        self.tty = not self.json and not quiet and _columns(self.stream) > 0
        self._bar = None
        self._started = time.perf_counter()
        logging.basicConfig(level=logging.WARNING, format="%(message)s")

    def event(self, e: Event) -> None:
        try:
            self._event(e)
        except BrokenPipeError:  # a progress bar's own write
            self._broken(self.stream)

    def _broken(self, stream: TextIO) -> None:
        """The reader of the log went away (``| head``): stop like SIGINT, and write nothing
        more to the closed stream (nor at exit, when Python flushes it)."""
        self.broken = True
        if stream is self.stream:
            self._bar = None
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
        if self._on_broken_pipe is not None:
            self._on_broken_pipe()

    def _event(self, e: Event) -> None:
        if self.json:
            self._json(e)
            return
        if self.quiet:
            return
        if self.tty and e.kind == "shot_start" and e.total:
            from tqdm import tqdm

            self._bar = tqdm(total=e.total, desc=e.shot, unit="frame", file=self.stream)
            self._line(f"{e.shot} → {e.path}")
        elif self.tty and e.kind == "frame" and self._bar is not None:
            self._bar.update(1)
        elif self.tty and e.kind == "shot_done" and self._bar is not None:
            self._bar.close()
            self._bar = None
        else:
            self._line(_describe(e))

    def note(self, event: events.OpenJD) -> None:
        if self.json:
            self._json(event)
        elif not self.quiet:
            self._line(event.message)

    def error(self, kind: type[events.Error | events.Cancelled], message: str, code: int) -> None:
        if self.json:
            self._json(kind(message, code))
        self._line(f"memmatte: {message} (exit {code})", sys.stderr)

    def summary(self, report: BatchReport) -> int:
        written = sum(len(r.written) for r in report.reports)
        skipped = sum(len(r.skipped) for r in report.reports)
        seconds = time.perf_counter() - self._started
        message = (
            f"{len(report.reports)} shot(s) done, {written} frame(s) written, "
            f"{skipped} already complete, {seconds:.1f} s"
        )
        code = errors.EXIT_PARTIAL if report.failures else errors.EXIT_OK
        if self.json:
            self._json(events.Summary(message, code, report.failures))
        elif not self.quiet:
            self._line(message)
        for f in report.failures:
            self._line(f"memmatte: FAILED {f.shot}: {f.message} (exit {f.exit_code})", sys.stderr)
        return code

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _json(self, event: events.Event) -> None:
        try:
            self.stream.write(events.encode(event) + "\n")
            self.stream.flush()
        except BrokenPipeError:
            self._broken(self.stream)

    def _line(self, text: str, stream: TextIO | None = None) -> None:
        stream = stream or self.stream
        try:
            if self._bar is not None and stream is self.stream:
                self._bar.write(text, file=stream)
            else:
                stream.write(text + "\n")
                stream.flush()
        except BrokenPipeError:
            self._broken(stream)


def _columns(stream: TextIO) -> int:
    """The width of the terminal ``stream`` writes to; 0 when it is no terminal or reports
    none."""
    try:
        return os.get_terminal_size(stream.fileno()).columns if stream.isatty() else 0
    except (OSError, ValueError, AttributeError):
        return 0


def _describe(e: Event) -> str:
    if e.kind == "shot_start":
        return f"{e.shot}: {e.total} frame(s) → {e.path}"
    if e.kind == "resume":
        return f"{e.shot}: {e.done} of {e.total} frame(s) already complete, skipped"
    if e.kind == "frame":
        return f"{e.shot}: frame {e.frame} → {e.path} ({e.done}/{e.total})"
    if e.kind == "sanitised":
        return f"warning: {e.path}: {e.message}"
    if e.kind == "warning":
        return f"warning: {e.shot}: {e.message}"
    if e.kind == "note":
        return f"{e.shot}: {e.message}"
    if e.kind == "stale_temp":
        return f"removed stale temporary file {e.path}"
    if e.kind == "compiled":
        return f"{e.shot}: {e.message}"
    if e.kind == "shot_done" and e.total == 0:
        return f"{e.shot}: complete, nothing left to write"
    if e.kind == "shot_done":
        rate = e.done / e.seconds if e.seconds else 0.0
        return f"{e.shot}: {e.done} frame(s) in {e.seconds:.1f} s ({rate:.2f} frames/s)"
    return f"{e.shot}: {e.kind} {e.message}"
