"""The job runner with small stand-in processes: events, cancelling a whole process group,
failures in one sentence."""

import os
import signal
import sys
import textwrap
import threading
import time

import pytest

from hosts.client import events
from hosts.client.runner import Outcome, Process, alive, explain_failure

FRAMES = textwrap.dedent(
    """
    import sys, time
    from hosts.client.events import Frame, encode
    n, delay = int(sys.argv[1]), float(sys.argv[2])
    print("a line that is not an event")
    for f in range(1, n + 1):
        print(encode(Frame("shot", f, f, n)), flush=True)
        time.sleep(delay)
    print("done", file=sys.stderr)
    """
)

STUBBORN = textwrap.dedent(
    """
    import signal, subprocess, sys, time
    from hosts.client.events import Frame, encode
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # only SIGKILL stops it
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    print(child.pid, file=sys.stderr, flush=True)
    print(encode(Frame("shot", 1, 1, 1)), flush=True)
    time.sleep(60)
    """
)


def _python(code, *args):
    return [sys.executable, "-c", code, *map(str, args)]


def test_events_reach_the_callback_in_order_and_stderr_is_kept():
    seen = []
    outcome = Process(_python(FRAMES, 3, 0)).start().follow(seen.append)
    assert outcome.ok and outcome.returncode == 0 and not outcome.cancelled
    assert [e.frame for e in seen] == [1, 2, 3] and list(outcome.events) == seen
    assert outcome.stderr == ("done",)


def test_cancel_kills_the_process_group_after_the_grace_period():
    process = Process(_python(STUBBORN), grace=0.3).start()
    started = threading.Event()
    cancelled_at = []

    def cancel_when_started():
        started.wait(20)
        cancelled_at.append(time.monotonic())
        process.cancel()

    threading.Thread(target=cancel_when_started, daemon=True).start()
    outcome = process.follow(lambda event: started.set())
    assert outcome.cancelled and not outcome.ok
    assert outcome.returncode == -signal.SIGKILL  # it ignored SIGTERM
    assert time.monotonic() - cancelled_at[0] >= 0.3
    grandchild = int(outcome.stderr[0])
    deadline = time.monotonic() + 5
    while alive(grandchild) and time.monotonic() < deadline:  # reaped by init
        time.sleep(0.05)
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)  # nothing of its group is left


def test_should_stop_cancels_from_the_following_thread():
    calls = []
    outcome = (
        Process(_python(FRAMES, 1000, 0.01), grace=2)
        .start()
        .follow(calls.append, should_stop=lambda: len(calls) >= 2, poll=0.01)
    )
    assert outcome.cancelled and outcome.returncode == -signal.SIGTERM
    assert 2 <= len(calls) < 1000


def test_a_newer_event_schema_stops_the_process_with_a_clear_message():
    line = '{"schema": 99, "event": "frame"}'
    code = f"import time; print({line!r}, flush=True); time.sleep(60)"
    started = time.monotonic()
    outcome = Process(_python(code), grace=0.2).start().follow()
    assert time.monotonic() - started < 30
    assert "event schema 99 is newer" in outcome.protocol_error and not outcome.ok
    message = explain_failure(outcome, python="py", hint="update")
    assert message.startswith("Matting failed: event schema 99 is newer than this client's 1")


def test_a_command_that_cannot_start_raises_oserror(tmp_path):
    with pytest.raises(OSError):
        Process([str(tmp_path / "no-python")]).start()


def _outcome(stderr=(), reported=(), returncode=1):
    return Outcome(returncode, False, tuple(reported), tuple(stderr))


def test_failures_are_explained_in_one_sentence():
    hint = "choose another Python in the settings"
    missing = _outcome(["Traceback (most recent call last):", "ModuleNotFoundError: No module "
                        "named 'torch'"])  # fmt: skip
    assert explain_failure(missing, python="/opt/py", hint=hint) == (
        "The Python at /opt/py cannot run memmatte (No module named 'torch'): install memmatte "
        "into it (pip install /path/to/memmatte) or choose another Python in the settings."
    )
    error = events.Error("/shot/plate.0003.exr: truncated or corrupt", 3)
    assert explain_failure(_outcome(["noise"], [error], 3), python="py", hint=hint) == (
        "Matting failed: /shot/plate.0003.exr: truncated or corrupt"
    )
    crash = _outcome(["Traceback (most recent call last):", '  File "x.py", line 1',
                      "ValueError: frame 3: bad pixels"])  # fmt: skip
    assert explain_failure(crash, python="py", hint=hint, label="Reading footage") == (
        "Reading footage failed: ValueError: frame 3: bad pixels"
    )
    assert explain_failure(_outcome(["frame 7 done"], [], -9), python="py", hint=hint) == (
        "Matting was killed by SIGKILL (out of memory, or stopped by the system or a user); "
        "run it again to finish"
    )
    assert explain_failure(_outcome([], [], 70), python="py", hint=hint) == (
        "Matting stopped with exit code 70"
    )
    # A process that is not memmatte's (a background Blender) lacking a module is no setting.
    assert explain_failure(missing, python="py", hint=hint, needs_memmatte=False).startswith(
        "Matting failed: ModuleNotFoundError"
    )


def test_alive():
    assert alive(os.getpid())
    assert not alive(4_000_000)
