"""The smallest ``nuke`` module the Memmatte host code calls; Nuke itself cannot run here.

Installed as ``sys.modules["nuke"]`` by the ``fake_nuke`` fixture. Calls made with
``executeInMainThread`` are queued, as in Nuke, and run by ``run_main_thread()``.

Where the code depends on how Nuke answers, the fake answers the same way; each such fact is
written beside its source in Foundry's Python API reference:

- A file knob's ``value()`` is normalised to printf notation: ``plate.####.exr`` reads back
  as ``plate.%04d.exr`` (File_Knob.value: "will be normalized to technical notation if
  sequence", https://learn.foundry.com/nuke/developers/70/pythonreference/nuke.File_Knob-class.html).
- ``nuke.filename(node)`` has ``%04d`` sequences in it ("by default it will still have
  %%04d sequences in it", https://learn.foundry.com/nuke/developers/131/pythondevguide/_autosummary/nuke.filename.html).
- An integer knob holds an int, and ``value()`` returns one (Int_knob "Stores: int",
  https://learn.foundry.com/nuke/developers/122/ndkdevguide/knobs-and-handles/knobtypes.html;
  an integer knob's value() "Get the value of this knob as an integer",
  https://learn.foundry.com/nuke/developers/90/pythonreference/nuke.Unsigned_Knob-class.html):
  ``setValue`` of anything else raises TypeError, as Python's C argument parsing does for
  an int parameter. A Read's ``first``, ``last``, ``origfirst`` and ``origlast`` are such knobs.
- ``node["missing"]`` raises NameError (issue #28; ``Node.knob(name)`` is the call that
  answers None, https://learn.foundry.com/nuke/developers/113/pythonreference/nuke.Node-class.html).
- Nodes live in groups. ``nuke.toNode`` and ``nuke.nodes.<Class>`` work in the current
  group context, which ``with group:`` / ``group.begin()`` set ("All python code that
  follows will be executed in the context of node") and ``nuke.thisGroup()`` returns;
  ``Group.node(name)`` locates a child
  (https://learn.foundry.com/nuke/developers/113/pythonreference/nuke.Group-class.html). A
  Python button's code runs in the context of its node (its gizmo), so ``press`` runs it
  there; ``fullName()`` is the dotted path from the root (``Group1.Memmatte1``).
"""

from __future__ import annotations

import queue
import re
import threading
from types import SimpleNamespace

_main_queue: queue.Queue = queue.Queue()
main_thread: threading.Thread | None = None
messages: list[str] = []
tasks: list[ProgressTask] = []
plugin_paths: list[str] = []
menus: dict[str, Menu] = {}
_this: list[Node] = []
_context: list[Group] = []


class Knob:
    """A string, boolean or enumeration knob: holds what it is given."""

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


class File_Knob(Knob):
    """A file knob: ``value()`` in printf notation (``####`` → ``%04d``)."""

    def value(self):
        return re.sub(r"#+", lambda m: f"%0{len(m.group(0))}d", str(self._value))


class Int_Knob(Knob):
    """An integer knob: holds an int, refuses anything else."""

    def __init__(self, value=0):
        super().__init__(_int(value))

    def setValue(self, value):
        _main_thread_only("Knob.setValue")
        self._value = _int(value)


def _int(value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"an integer is required (got type {type(value).__name__})")
    return value


class Node:
    def __init__(self, cls: str, name: str, knobs: dict | None = None, inputs=()):
        self._cls = cls
        self._name = name
        self._knobs = {k: v if isinstance(v, Knob) else Knob(v) for k, v in (knobs or {}).items()}
        self._inputs = list(inputs)
        self._xy = (0, 0)
        self._parent = thisGroup() if _context else None
        if self._parent is not None:
            self._parent._children[name] = self

    def Class(self):
        return self._cls

    def name(self):
        return self._name

    def fullName(self):
        parent = self._parent
        if parent is None or parent is _context[0]:
            return self._name
        return f"{parent.fullName()}.{self._name}"

    def input(self, i):
        return self._inputs[i] if i < len(self._inputs) else None

    def __getitem__(self, knob):
        if knob not in self._knobs:
            raise NameError(f"knob {knob} does not exist")
        return self._knobs[knob]

    def knob(self, name):
        return self._knobs.get(name)

    def xpos(self):
        return self._xy[0]

    def ypos(self):
        return self._xy[1]

    def setXYpos(self, x, y):
        self._xy = (x, y)


class Group(Node):
    """A group (the root, a Group node, a gizmo): holds nodes, and is a context."""

    def __init__(self, cls: str, name: str, knobs: dict | None = None, inputs=()):
        self._children: dict[str, Node] = {}
        super().__init__(cls, name, knobs, inputs)

    def node(self, name):
        return self._children.get(name)

    def nodes(self):
        return list(self._children.values())

    def begin(self):
        _context.append(self)
        return self

    def end(self):
        assert _context[-1] is self, "end() of a group that is not the current context"
        _context.pop()

    def __enter__(self):
        return self.begin()

    def __exit__(self, *exc):
        self.end()
        return False


_READ_KNOBS = {"file": File_Knob, "first": Int_Knob, "last": Int_Knob,
               "origfirst": Int_Knob, "origlast": Int_Knob, "reload": Knob}  # fmt: skip


def Read(name: str, file: str = "", first: int = 1, last: int = 1, **knobs) -> Node:
    """A Read node with its knobs' types, in the current group."""
    values = {"file": file, "first": first, "last": last, "origfirst": first, "origlast": last}
    made = {k: cls(values[k]) if k in values else cls() for k, cls in _READ_KNOBS.items()}
    return Node("Read", name, {**made, **knobs})


def _create_read(name):
    _main_thread_only("nodes.Read")
    return Read(name)


nodes = SimpleNamespace(Read=_create_read)


def toNode(name):
    """The node ``name`` (a dotted path for nodes in groups) in the current group."""
    node = thisGroup()
    for part in name.split("."):
        node = node.node(part) if isinstance(node, Group) else None
    return node


def root():
    return _context[0]


def thisGroup():
    return _context[-1]


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


def press(node, knob: str, script: str, nuke_module) -> None:
    """What Nuke does when a Python button of ``node`` is pressed: runs its script with
    ``node`` as ``thisNode()``, in ``node``'s own context (a gizmo is a group)."""
    _this.append(node)
    try:
        with node if isinstance(node, Group) else root():
            exec(compile(script, knob, "exec"), {"nuke": nuke_module})
    finally:
        _this.pop()


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
    _context.clear()
    _context.append(Group("Root", "root"))
    messages.clear()
    tasks.clear()
    plugin_paths.clear()
    menus.clear()
    _this.clear()
    while not _main_queue.empty():
        _main_queue.get_nowait()
    main_thread = threading.current_thread()
