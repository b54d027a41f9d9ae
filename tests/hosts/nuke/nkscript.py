"""A reader for Nuke's TCL-flavoured script text (.nk, .gizmo), enough to check a gizmo.

Tokenises words, "quoted strings", {braced groups} and [commands], splits commands at
newlines, and rebuilds the node graph from the stack commands (``set N [stack 0]``,
``push $N``, a node with ``inputs n`` pops n: the top of the stack is input 0).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_ESCAPES = {"n": "\n", "t": "\t"}


class NkSyntaxError(ValueError):
    pass


@dataclass(frozen=True)
class Token:
    kind: str  # "word", "string", "braces", "bracket"
    text: str  # unescaped for strings, raw inner text for braces and brackets
    line: int


def _group_end(text: str, start: int, open_: str, close: str, line: int) -> int:
    """Index of the ``close`` matching ``text[start] == open_``; escaped ones do not count."""
    depth, i = 0, start
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == open_:
            depth += 1
        elif c == close:
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise NkSyntaxError(f"line {line}: unbalanced {open_!r}: no matching {close!r}")


def _string_end(text: str, start: int, line: int) -> int:
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i
        i += 1
    raise NkSyntaxError(f"line {line}: unterminated string")


def _unescape(raw: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), raw, flags=re.S)


def tokenize(text: str) -> list[list[Token]]:
    """Commands (lists of tokens) of a script; raises ``NkSyntaxError`` on unbalanced groups."""
    commands: list[list[Token]] = []
    current: list[Token] = []
    i, line = 0, 1
    while i < len(text):
        c = text[i]
        if c == "\n" or c == ";":
            if current:
                commands.append(current)
                current = []
            line += c == "\n"
            i += 1
        elif c in " \t\r":
            i += 1
        elif c == "{":
            end = _group_end(text, i, "{", "}", line)
            current.append(Token("braces", text[i + 1 : end], line))
            line += text.count("\n", i, end)
            i = end + 1
        elif c == "[":
            end = _group_end(text, i, "[", "]", line)
            current.append(Token("bracket", text[i + 1 : end], line))
            i = end + 1
        elif c == '"':
            end = _string_end(text, i, line)
            current.append(Token("string", _unescape(text[i + 1 : end]), line))
            line += text.count("\n", i, end)
            i = end + 1
        elif c in "}]":
            raise NkSyntaxError(f"line {line}: unbalanced {c!r}")
        else:
            m = re.compile(r'(?:\\.|[^\s{}\[\]";])+').match(text, i)
            current.append(Token("word", m.group(0), line))
            i = m.end()
    if current:
        commands.append(current)
    return commands


@dataclass
class UserKnob:
    type: int
    name: str
    label: str | None
    flags: dict[str, str]


@dataclass
class Node:
    cls: str
    knobs: dict[str, Token]
    line: int
    inputs: list[Node] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.knobs["name"].text if "name" in self.knobs else f"<{self.cls}@{self.line}>"

    def value(self, knob: str, default: str | None = None) -> str | None:
        token = self.knobs.get(knob)
        return default if token is None else token.text

    def expression(self, knob: str) -> str | None:
        """The expression of a knob written ``{{expr}}``, else None."""
        token = self.knobs.get(knob)
        if token is None or token.kind != "braces":
            return None
        inner = tokenize(token.text)
        if len(inner) == 1 and len(inner[0]) == 1 and inner[0][0].kind == "braces":
            (expr,) = tokenize(inner[0][0].text)
            return " ".join(t.text for t in expr)
        return None


@dataclass
class Gizmo:
    version: str
    knobs: dict[str, Token]
    user_knobs: list[UserKnob]
    nodes: list[Node]
    output: Node

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(f"no node named {name!r} in the gizmo")

    def of_class(self, cls: str) -> list[Node]:
        return [n for n in self.nodes if n.cls == cls]

    def user_knob(self, name: str) -> UserKnob:
        for k in self.user_knobs:
            if k.name == name:
                return k
        raise KeyError(f"no user knob {name!r}")


def _knobs(body: str) -> dict[str, Token]:
    knobs: dict[str, Token] = {}
    for command in tokenize(body):
        if command[0].kind != "word":
            raise NkSyntaxError(f"line {command[0].line}: a knob name must be a word")
        if command[0].text == "addUserKnob":
            continue
        if len(command) != 2:
            raise NkSyntaxError(
                f"line {command[0].line}: knob {command[0].text} needs exactly one value"
            )
        knobs[command[0].text] = command[1]
    return knobs


def _user_knobs(body: str) -> list[UserKnob]:
    result = []
    for command in tokenize(body):
        if command[0].text != "addUserKnob":
            continue
        if len(command) != 2 or command[1].kind != "braces":
            raise NkSyntaxError(f"line {command[0].line}: addUserKnob takes one {{...}} group")
        words = [t.text for t in tokenize(command[1].text)[0]]
        if not words[0].isdigit():
            raise NkSyntaxError(f"line {command[0].line}: knob type {words[0]!r} is not a number")
        flags, label, rest = {}, None, words[2:]
        j = 0
        while j < len(rest):
            if rest[j].startswith(("+", "-")):
                flags[rest[j]] = ""
                j += 1
            else:
                flags[rest[j]] = rest[j + 1] if j + 1 < len(rest) else ""
                j += 2
        label = flags.pop("l", None)
        result.append(UserKnob(int(words[0]), words[1], label, flags))
    return result


def parse_gizmo(text: str) -> Gizmo:
    commands = tokenize(text)
    if commands[0][0].text != "version":
        raise NkSyntaxError("a gizmo starts with a version line")
    version = " ".join(t.text for t in commands[0][1:])
    head = commands[1]
    if [t.text for t in head[:1]] != ["Gizmo"] or len(head) != 2 or head[1].kind != "braces":
        raise NkSyntaxError("the second command must be 'Gizmo { ... }'")
    if [t.text for t in commands[-1]] != ["end_group"]:
        raise NkSyntaxError("a gizmo ends with end_group")

    stack: list[Node | None] = []
    saved: dict[str, Node | None] = {}
    nodes: list[Node] = []
    for command in commands[2:-1]:
        word = command[0].text
        if word == "set" and len(command) == 3 and command[2].text == "stack 0":
            saved[command[1].text] = stack[-1]
        elif word == "push":
            arg = command[1].text
            stack.append(None if arg == "0" else saved[arg.lstrip("$")])
        elif word == "add_layer":
            continue
        elif len(command) == 2 and command[1].kind == "braces":
            knobs = _knobs(command[1].text)
            n_inputs = int(knobs["inputs"].text) if "inputs" in knobs else 1
            if len(stack) < n_inputs:
                raise NkSyntaxError(
                    f"line {command[0].line}: {word} takes {n_inputs} inputs, "
                    f"the stack holds {len(stack)}"
                )
            inputs = [stack.pop() for _ in range(n_inputs)]  # top of the stack is input 0
            node = Node(word, knobs, command[0].line, inputs)
            nodes.append(node)
            stack.append(node)
        else:
            raise NkSyntaxError(f"line {command[0].line}: unexpected command {word!r}")
    outputs = [n for n in nodes if n.cls == "Output"]
    if len(outputs) != 1:
        raise NkSyntaxError(f"a gizmo needs one Output node, found {len(outputs)}")
    return Gizmo(version, _knobs(head[1].text), _user_knobs(head[1].text), nodes, outputs[0])
