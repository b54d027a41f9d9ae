"""The event schema: the emitter of ``core.batch`` and the parser of the hosts, against each
other, on every kind and on the lines of a real run."""

import ast
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from hosts.client import events
from hosts.client.events import SCHEMA, EventError, encode, parse

ROOT = Path(__file__).parents[3]

SHOT = "plate.####.exr (1-3)"
PROCESSOR_EVENTS = [
    events.ShotStart(SHOT, 3, "/o/m.####.exr"),
    events.Resume(SHOT, 2, 3),
    events.StaleTemp(SHOT, "/o/.m.0001.tmp-12.exr"),
    events.Sanitised(SHOT, 2, "/p/plate.0002.exr", "replaced 1 NaN, 0 Inf and 3 negative values"),
    events.ShotWarning(SHOT, "frames 1-9: 6 frame(s) outside"),
    events.Note(SHOT, "named by file"),
    events.Compiled(SHOT, "loaded", "/cache/k"),
    events.Frame(SHOT, 2, 1, 3, "/o/m.0002.exr"),
    events.ShotDone(SHOT, 3, 3, 1.235),
]
"""One event of every kind the processor emits (hosts/exr/processor.py)."""


@pytest.mark.parametrize("emitted", PROCESSOR_EVENTS, ids=lambda e: e.kind)
def test_every_processor_event_is_parsed_back_as_emitted(emitted):
    line = encode(emitted)
    parsed = parse(line)
    assert parsed == dataclasses.replace(emitted, time=parsed.time)
    assert parsed.time > 0
    record = json.loads(line)
    assert record["schema"] == SCHEMA and record["event"] == emitted.kind


def test_the_processor_emits_exactly_these_kinds():
    """Every ``events.<Kind>(...)`` the processor constructs is in PROCESSOR_EVENTS, so a new
    kind cannot reach hosts without a round trip here."""
    tree = ast.parse((ROOT / "hosts/exr/processor.py").read_text(encoding="utf-8"))
    built = {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "events"
    }
    assert built == {type(e).__name__ for e in PROCESSOR_EVENTS}


CLI_EVENTS = [
    events.Error("plate.0003.exr: truncated", 3, time=5.0),
    events.Cancelled("interrupted; rerun with --resume to finish", 130, time=5.0),
    events.Summary("1 shot(s) done", 4, (events.Failure("b.####.exr", 3, "missing"),), time=5.0),
    events.OpenJD("wrote job.json", time=5.0),
]


@pytest.mark.parametrize("emitted", CLI_EVENTS, ids=lambda e: e.kind)
def test_command_line_events_round_trip(emitted):
    assert parse(encode(emitted)) == emitted


def test_every_kind_has_a_processor_or_command_line_emitter():
    covered = {e.kind for e in PROCESSOR_EVENTS} | {e.kind for e in CLI_EVENTS}
    assert covered == set(events.KINDS)


def test_newer_fields_are_ignored_and_unknown_kinds_kept():
    line = encode(events.Frame("s", 7, 1, 3, "/o/m.0007.exr", time=1.0))
    record = {**json.loads(line), "gpu_ms": 12.5}
    assert parse(json.dumps(record)) == events.Frame("s", 7, 1, 3, "/o/m.0007.exr", time=1.0)
    unknown = parse(json.dumps({"schema": SCHEMA, "event": "heartbeat", "time": 2.0, "n": 1}))
    assert unknown == events.Unknown("heartbeat", (("n", 1),), time=2.0)


@pytest.mark.parametrize(
    "record, message",
    [
        ({"schema": SCHEMA + 1, "event": "frame"}, f"event schema {SCHEMA + 1} is newer"),
        ({"event": "frame", "frame": 1}, "without a schema version"),
        ({"schema": SCHEMA, "event": "frame", "shot": "s", "frame": "7", "done": 1, "total": 2},
         "frame should be int"),
        ({"schema": SCHEMA, "event": "frame", "shot": "s"}, "frame event"),
        ([1, 2], "not an event record"),
    ],
)  # fmt: skip
def test_records_this_client_cannot_read_are_refused(record, message):
    with pytest.raises(EventError, match=message):
        parse(json.dumps(record))


def test_a_line_that_is_not_json_is_refused():
    with pytest.raises(EventError, match="not JSON"):
        parse("{oops")


def test_every_line_of_a_real_json_run_parses(tmp_path, weights):
    from tests.hosts.exr.images import write_shot  # not at the top: the rest runs on 3.7

    write_shot(tmp_path / "in", 3)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / ".m.1002.tmp-4000000.exr").write_bytes(b"left by a killed run")
    run = subprocess.run(
        [sys.executable, "-m", "core.batch", str(tmp_path / "in/plate.####.exr"),
         "-o", str(tmp_path / "out/m.####.exr"), "--weights", str(weights), "--device", "cpu",
         "--threads", "1", "--frames", "1001-1009", "--eager", "--log-format", "json"],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    parsed = [parse(line) for line in run.stdout.splitlines()]
    kinds = [type(e).kind for e in parsed]
    assert kinds == [
        "warning", "shot_start", "stale_temp", "frame", "frame", "frame", "shot_done", "summary"
    ]  # fmt: skip
    frames = [e for e in parsed if isinstance(e, events.Frame)]
    assert [(f.frame, f.done, f.total) for f in frames] == [
        (1001, 1, 3),
        (1002, 2, 3),
        (1003, 3, 3),
    ]
    assert frames[-1].path == str(tmp_path / "out/m.1003.exr")
    assert parsed[-1].exit_code == 0 and parsed[-1].failures == ()


def test_a_failed_run_ends_with_an_error_event(tmp_path):
    from tests.hosts.exr.images import write_shot

    write_shot(tmp_path / "in", 1)
    run = subprocess.run(
        [sys.executable, "-m", "core.batch", str(tmp_path / "in"), "--log-format", "json",
         "--weights", str(tmp_path / "missing.safetensors")],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert run.returncode == 2
    (error,) = [parse(line) for line in run.stdout.splitlines()]
    assert error == events.Error(
        f"--weights {tmp_path / 'missing.safetensors'}: no such weights file", 2, time=error.time
    )
