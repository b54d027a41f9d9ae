"""Errors of the image-sequence processor and the exit codes the command line maps them to.

0    every shot done
1    internal error (a bug, or a failure of torch or the machine): the traceback is printed
2    usage: bad options, no or damaged weights, an output that would overwrite an input
3    bad input: a missing, truncated or corrupt frame (or a folder or fifo in its place), or
     a shot that changes resolution
4    with --keep-going: at least one shot failed (each failure is listed at the end)
5    an output could not be written (permissions, full disk, output folder removed)
130  interrupted (SIGINT), 143 terminated (SIGTERM): stopped cleanly, rerun with --resume
141  the log's reader went away (broken pipe, e.g. ``| head``): stopped cleanly like SIGINT
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_BAD_INPUT = 3
EXIT_PARTIAL = 4
EXIT_OUTPUT = 5
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
EXIT_TERMINATED = 143


class BatchError(Exception):
    """A failure the processor reports with a message and an exit code, not a traceback."""

    exit_code = EXIT_INTERNAL


class UsageError(BatchError):
    """Options that cannot work: a bad pattern, missing weights, output equal to input."""

    exit_code = EXIT_USAGE


class BadInputError(BatchError):
    """A frame that is missing, cannot be decoded, or does not fit its shot; names the file."""

    exit_code = EXIT_BAD_INPUT


class OutputError(BatchError):
    """An output that could not be written; names the file."""

    exit_code = EXIT_OUTPUT


class Cancelled(BatchError):
    """The run was cancelled (``cancel`` event, SIGINT or SIGTERM); nothing partial is left."""

    exit_code = EXIT_INTERRUPTED
