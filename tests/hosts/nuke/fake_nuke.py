"""The smallest ``nuke`` module the Memmatte host code calls; Nuke itself cannot run here.

Installed as ``sys.modules["nuke"]`` by the ``fake_nuke`` fixture. Calls made with
``executeInMainThread`` are queued, as in Nuke, and run by ``run_main_thread()``.
"""

from __future__ import annotations

import queue
import threading
from types import SimpleNamespace

_nodes: dict[str, Node] = {}
_main_queue: queue.Queue = queue.Queue()
main_thread: threading.Thread | None = None
messages: list[str] = []
tasks: list[ProgressTask] = []
plugin_paths: list[str] = []
menus: dict[str, Menu] = {}
_this: list[Node] = []


class Knob:
    def __init__(self, value=""):
        self._value = value
        self.executed = 0

    def value(self):
        return self._value

    def setValue(self, value):
        _main_thread_only("Knob.setValue")
        self._value = value

    def execute(self):
        self.executed += 1


class Node:
    def __init__(self, cls: str, name: str, knobs: dict | None = None, inputs=()):
        self._cls = cls
        self._name = name
        self._knobs = {k: Knob(v) for k, v in (knobs or {}).items()}
        self._inputs = list(inputs)
        self._xy = (0, 0)
        _nodes[name] = self

    def Class(self):
        return self._cls

    def name(self):
        return self._name

    def fullName(self):
        return self._name

    def input(self, i):
        return self._inputs[i] if i < len(self._inputs) else None

    def __getitem__(self, knob):
        return self._knobs[knob]

    def knob(self, name):
        return self._knobs.get(name)

    def xpos(self):
        return self._xy[0]

    def ypos(self):
        return self._xy[1]

    def setXYpos(self, x, y):
        self._xy = (x, y)


class _Root:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


_READ_KNOBS = ("file", "first", "last", "origfirst", "origlast", "reload")


def _create_read(name):
    _main_thread_only("nodes.Read")
    return Node("Read", name, dict.fromkeys(_READ_KNOBS, ""))


nodes = SimpleNamespace(Read=_create_read)


def toNode(name):
    return _nodes.get(name)


def root():
    return _Root()


def filename(node):
    return node["file"].value()


def _main_thread_only(what):
    if threading.current_thread() is not main_thread:
        raise RuntimeError(f"{what} called outside Nuke's main thread")


def message(text):
    _main_thread_only("nuke.message")
    messages.append(text)


def thisNode():
    return _this[-1]


class ProgressTask:
    def __init__(self, title):
        self.title = title
        self.progress: list[int] = []
        self.message = ""
        self.cancel_requested = threading.Event()
        tasks.append(self)

    def setMessage(self, text):
        self.message = text

    def setProgress(self, value):
        self.progress.append(value)

    def isCancelled(self):
        return self.cancel_requested.is_set()


def executeInMainThread(call, args=(), kwargs=None):
    if not isinstance(args, tuple):
        args = (args,)
    _main_queue.put((call, args, kwargs or {}))


def run_main_thread(timeout: float) -> int:
    """Runs queued main-thread calls, waiting up to ``timeout`` s for the first one."""
    ran = 0
    block = True
    while True:
        try:
            call, args, kwargs = _main_queue.get(timeout=timeout if block else 0.01)
        except queue.Empty:
            return ran
        call(*args, **kwargs)
        ran += 1
        block = False


class Menu:
    def __init__(self):
        self.commands: list[tuple[str, str, dict]] = []

    def addCommand(self, name, command, **kwargs):
        self.commands.append((name, command, kwargs))


def menu(name):
    return menus.setdefault(name, Menu())


def pluginAddPath(path):
    plugin_paths.append(path)


def reset():
    global main_thread
    _nodes.clear()
    messages.clear()
    tasks.clear()
    plugin_paths.clear()
    menus.clear()
    _this.clear()
    while not _main_queue.empty():
        _main_queue.get_nowait()
    main_thread = threading.current_thread()
