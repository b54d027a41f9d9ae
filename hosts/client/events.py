"""The JSON events ``python -m core.batch --log-format json`` prints, one object a line.

Every record carries ``"schema": SCHEMA``, ``"event": <kind>`` and ``"time"`` (seconds since
the epoch), then the fields of its kind; fields that are None or empty are left out.
``encode`` is what ``core.batch`` prints; ``parse`` is what hosts read.

Versioning: ``SCHEMA`` is a major version. Adding a kind or a field is not a new version:
``parse`` ignores fields it does not know and returns ``Unknown`` for a kind it does not
know, so an older host follows a newer processor. Removing a field, changing its meaning
or type, or removing a kind raises ``SCHEMA``; ``parse`` refuses a record of a newer major
version with ``EventError`` (the host cannot know what it means), and a record without a
version (not a memmatte event). docs/farm.md lists the kinds and their fields.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from typing import ClassVar, TypeVar

SCHEMA = 1


class EventError(ValueError):
    """A line that is not an event this client can read (malformed, newer schema)."""


class Event:
    """Base of every event, each a frozen dataclass made by ``_event``. time: seconds since
    the epoch (0: ``encode`` writes now), its last field, given by keyword."""

    kind: ClassVar[str] = ""
    time: float = 0.0


_Kind = TypeVar("_Kind", bound=type)


def _event(cls: _Kind) -> _Kind:
    """``@dataclass(frozen=True)`` of an event, with ``time: float = 0.0`` as its last field.

    ``dataclass(kw_only=True)`` on the base would be the plain way to follow the kinds'
    fields without defaults by a field with one, but it needs Python 3.10, and this module
    runs in Nuke 13's Python 3.7 (docs/hosts/nuke.md)."""
    cls.__annotations__["time"] = "float"
    cls.time = 0.0
    return dataclass(frozen=True)(cls)


@_event
class ShotStart(Event):
    """A shot begins: ``total`` frames to write to the output pattern ``path``."""

    kind: ClassVar[str] = "shot_start"
    shot: str
    total: int
    path: str = ""
    done: int = 0


@_event
class Resume(Event):
    """``--resume``: ``done`` of the shot's ``total`` frames were already complete."""

    kind: ClassVar[str] = "resume"
    shot: str
    done: int
    total: int


@_event
class StaleTemp(Event):
    """A temporary file ``path`` left by a killed run was removed."""

    kind: ClassVar[str] = "stale_temp"
    shot: str
    path: str


@_event
class Sanitised(Event):
    """NaN, Inf or negative values of the plate ``path`` (frame ``frame``) were replaced."""

    kind: ClassVar[str] = "sanitised"
    shot: str
    frame: int
    path: str
    message: str


@_event
class ShotWarning(Event):
    """Something the user should know (frames outside the shot skipped, ...)."""

    kind: ClassVar[str] = "warning"
    shot: str
    message: str


@_event
class Note(Event):
    """Information about how the shot is read (named by one file, ...)."""

    kind: ClassVar[str] = "note"
    shot: str
    message: str


@_event
class Compiled(Event):
    """Which compiled graphs the shot runs (cache entry ``path``), built or missing."""

    kind: ClassVar[str] = "compiled"
    shot: str
    message: str
    path: str = ""


@_event
class Frame(Event):
    """Frame ``frame`` was written to ``path``: ``done`` of ``total``, in frame order (every
    frame before it is written too)."""

    kind: ClassVar[str] = "frame"
    shot: str
    frame: int
    done: int
    total: int
    path: str = ""


@_event
class ShotDone(Event):
    """The shot ended: ``done`` frames written in ``seconds``."""

    kind: ClassVar[str] = "shot_done"
    shot: str
    done: int
    total: int
    seconds: float


@_event
class Error(Event):
    """The run stopped: ``message`` names the frame or file, ``exit_code`` is the process's."""

    kind: ClassVar[str] = "error"
    message: str
    exit_code: int


@_event
class Cancelled(Event):
    """The run was interrupted (SIGINT, SIGTERM, broken pipe); rerun with --resume."""

    kind: ClassVar[str] = "cancelled"
    message: str
    exit_code: int


@dataclass(frozen=True)
class Failure:
    """One failed shot of a ``--keep-going`` run."""

    shot: str
    exit_code: int
    message: str


@_event
class Summary(Event):
    """The run ended (exit code ``exit_code``); ``failures``: shots that failed."""

    kind: ClassVar[str] = "summary"
    message: str
    exit_code: int
    failures: tuple[Failure, ...] = ()


@_event
class OpenJD(Event):
    """``--emit-openjd`` wrote a template; ``message`` says where and how to run it."""

    kind: ClassVar[str] = "openjd"
    message: str


@_event
class Unknown(Event):
    """A kind this client does not know (from a newer processor of the same schema)."""

    name: str
    fields: tuple[tuple[str, object], ...] = ()


KINDS: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (ShotStart, Resume, StaleTemp, Sanitised, ShotWarning, Note, Compiled, Frame,
                ShotDone, Error, Cancelled, Summary, OpenJD)
}  # fmt: skip

_TYPES = {"str": str, "int": int, "float": (int, float)}


def encode(event: Event) -> str:
    """One JSON line (without the newline) for ``event``."""
    if isinstance(event, Unknown):
        raise TypeError("an Unknown event is only ever parsed, never encoded")
    record: dict[str, object] = {
        "schema": SCHEMA,
        "event": event.kind,
        "time": round(event.time or time.time(), 3),
    }
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        if f.name == "time" or value is None or value == "":
            continue
        if f.name == "failures":
            value = [dataclasses.asdict(failure) for failure in value]
        record[f.name] = value
    return json.dumps(record)


def is_event_line(line: str) -> bool:
    """Whether a line of output is meant as an event (a JSON object), as opposed to
    anything else a process prints."""
    return line.lstrip().startswith("{")


def parse(line: str) -> Event:
    """The event of one line; ``EventError`` says why a line is not one this client reads."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise EventError(f"not JSON ({exc.msg}): {line.strip()[:200]}") from None
    if not isinstance(record, dict) or not isinstance(record.get("event"), str):
        raise EventError(f"not an event record: {line.strip()[:200]}")
    schema = record.get("schema")
    if not isinstance(schema, int):
        raise EventError(f"an event record without a schema version: {line.strip()[:200]}")
    if schema > SCHEMA:
        raise EventError(
            f"event schema {schema} is newer than this client's {SCHEMA}: the memmatte "
            "that runs the matting is newer than this host's plugin; update the plugin"
        )
    stamp = record.get("time", 0.0)
    stamp = float(stamp) if isinstance(stamp, (int, float)) else 0.0
    cls = KINDS.get(record["event"])
    if cls is None:
        rest = tuple((k, v) for k, v in record.items() if k not in ("schema", "event", "time"))
        return Unknown(record["event"], rest, time=stamp)
    values: dict[str, object] = {}
    for f in dataclasses.fields(cls):
        if f.name == "time" or f.name not in record:
            continue
        values[f.name] = _value(cls.kind, f, record[f.name])
    try:
        return cls(**values, time=stamp)
    except TypeError as exc:
        raise EventError(f"{cls.kind} event: {exc}: {line.strip()[:200]}") from None


def _value(kind: str, f: dataclasses.Field, value: object) -> object:
    if f.name == "failures":
        try:
            return tuple(Failure(**item) for item in value)
        except TypeError:
            raise EventError(f"{kind} event: malformed failures {value!r}") from None
    expected = _TYPES.get(str(f.type))
    if expected is not None and (isinstance(value, bool) or not isinstance(value, expected)):
        raise EventError(f"{kind} event: {f.name} should be {f.type}, got {value!r}")
    return float(value) if f.type == "float" else value
