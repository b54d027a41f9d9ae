"""bpy 4.2's exit: once a file has been read, the bpy module's C++ exit handlers free Python
classes after the interpreter has gone and crash (SIGSEGV, exit status 139) a run whose tests
all passed. Under bpy 4.2 the test process therefore leaves with pytest's own exit status
before those handlers run (``hosts/blender/extract.py`` does the same for its background
process)."""

import atexit
import os
import sys

_status = {}


def _leave() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_status["code"])


def pytest_sessionfinish(session, exitstatus):
    bpy = sys.modules.get("bpy")
    if bpy is not None and tuple(bpy.app.version[:2]) == (4, 2) and "code" not in _status:
        atexit.register(_leave)  # runs after pytest's summary, before the C++ handlers
    _status["code"] = int(exitstatus)
