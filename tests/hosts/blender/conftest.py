"""The bpy module's exit: once a file has been read, bpy 4.2's C++ exit handlers free Python
classes after the interpreter has gone and crash (SIGSEGV, exit status 139), and bpy 4.5's can
hang for ever (a background thread's condition variable destroyed while waited on), after a
run whose tests all passed. So a test process that imported bpy leaves with pytest's own exit
status before those handlers run (``hosts/blender/extract.py`` does the same for its
background process)."""

import atexit
import os
import sys

_status = {}


def _leave() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_status["code"])


def pytest_sessionfinish(session, exitstatus):
    if "bpy" in sys.modules and "code" not in _status:
        atexit.register(_leave)  # runs after pytest's summary, before the C++ handlers
    _status["code"] = int(exitstatus)
