"""The plug-in's OpenFX declarations (hosts/ofx/src/ofx_api.h) against the official values
(hosts/ofx/facts.py), and the minihost's suite layouts against the same facts.

With ``MEMMATTE_OPENFX_SOURCE`` set to a checkout of github.com/AcademySoftwareFoundation/openfx
the facts themselves are checked against its ``include/`` headers (the fetch is not part of the
default run: no network in tests).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from hosts.ofx import minihost
from hosts.ofx.facts import CONSTANTS, DOCUMENTED, STRUCTS, TYPEDEFS

HEADER = Path(__file__).parents[3] / "hosts" / "ofx" / "src" / "ofx_api.h"


def _without_comments(text: str) -> str:
    return re.sub(r"//[^\n]*", "", re.sub(r"/\*.*?\*/", "", text, flags=re.S))


def _constants(text: str) -> dict[str, int | str]:
    """``constexpr <type> kName = <value>;`` → {name: value}, strings unquoted."""
    found = {}
    for name, value in re.findall(r"constexpr\s+[\w\s*]+?\s(k\w+)\s*=\s*(.+?);", text, re.S):
        value = " ".join(value.split())
        found[name] = value[1:-1] if value.startswith('"') else int(value)
    return found


def _typedefs(text: str) -> dict[str, str]:
    """typedef name → what it names: "int", "struct X *", or "function"."""
    found = {}
    for body in re.findall(r"typedef\s+([^;{}]+);", text):
        body = " ".join(body.split())
        function = re.search(r"\(\s*(\w+)\s*\)\s*\(", body)
        if function:
            found[function.group(1)] = "function"
            continue
        target, name = re.fullmatch(r"(.+?)\s*(\w+)", body).groups()
        found[name] = re.sub(r"\s*\*$", " *", target.strip())
    return found


def _structs(text: str) -> dict[str, tuple[str, ...]]:
    """struct name → member names in order (function pointers by their name)."""
    found = {}
    for name, body in re.findall(r"struct\s+(\w+)\s*\{(.*?)\}\s*\w*\s*;", text, re.S):
        members = []
        for member in (" ".join(m.split()) for m in body.split(";") if m.strip()):
            pointer = re.search(r"\(\s*\*\s*(\w+)\s*\)", member)
            if pointer:
                members.append(pointer.group(1))
            else:
                first, *more = member.split(",")
                members += [re.search(r"(\w+)\s*$", part).group(1) for part in [first, *more]]
        found[name] = tuple(members)
    return found


PLUGIN = _without_comments(HEADER.read_text())
OFFICIAL = {name: value for name, value, _ in CONSTANTS}


def test_every_constant_the_plugin_declares_has_its_official_value():
    declared = _constants(PLUGIN)
    documented = {name: value for name, value, _, _ in DOCUMENTED}
    assert len(declared) > 80
    wrong = {
        name: (value, OFFICIAL.get(name, documented.get(name, "not an OpenFX name")))
        for name, value in declared.items()
        if value != OFFICIAL.get(name, documented.get(name))
    }
    assert wrong == {}


@pytest.mark.parametrize(
    ("name", "value"),
    [("kOfxImageEffectPropSupportsMultipleClipDepths", "OfxImageEffectPropMultipleClipDepths"),
     ("kOfxImagePreMultiplied", "OfxImageAlphaPremultiplied"),
     ("kOfxImageUnPreMultiplied", "OfxImageAlphaUnPremultiplied")],
)  # fmt: skip
def test_the_strings_whose_value_differs_from_their_name(name, value):
    assert _constants(PLUGIN)[name] == OFFICIAL[name] == value


def test_every_typedef_the_plugin_declares_names_the_official_type():
    declared = _typedefs(PLUGIN)
    assert declared["OfxMutexHandle"] == "struct OfxMutex *"
    assert {name: TYPEDEFS.get(name, ("not an OpenFX type",))[0] for name in declared} == declared


def test_every_struct_the_plugin_declares_has_the_official_members_in_order():
    declared = _structs(PLUGIN)
    assert set(declared) <= set(STRUCTS)
    assert {name: STRUCTS[name][1] for name in declared} == declared


def test_the_minihost_suites_have_the_official_layout():
    layouts = {
        "OfxPropertySuiteV1": minihost.PROPERTY_SUITE,
        "OfxImageEffectSuiteV1": minihost.IMAGE_EFFECT_SUITE,
        "OfxParameterSuiteV1": minihost.PARAMETER_SUITE,
        "OfxMemorySuiteV1": minihost.MEMORY_SUITE,
        "OfxMultiThreadSuiteV1": minihost.MULTI_THREAD_SUITE,
        "OfxMessageSuiteV1": minihost.MESSAGE_SUITE,
    }
    for name, layout in layouts.items():
        assert tuple(fname for fname, _ in layout) == STRUCTS[name][1], name
    assert tuple(f for f, _ in minihost.OfxPluginStruct._fields_) == STRUCTS["OfxPlugin"][1]
    assert tuple(f for f, _ in minihost.OfxHostStruct._fields_) == STRUCTS["OfxHost"][1]


# ---- the facts against the official headers (needs a fetched copy) ---------------------------

SOURCE = os.environ.get("MEMMATTE_OPENFX_SOURCE")
needs_source = pytest.mark.skipif(
    not SOURCE, reason="set MEMMATTE_OPENFX_SOURCE to a checkout of the official openfx repository"
)


def _official_header(name: str) -> str:
    return _without_comments((Path(SOURCE) / "include" / name).read_text(errors="replace"))


@needs_source
def test_facts_match_the_official_headers():
    wrong = []
    for name, value, header in CONSTANTS:
        found = re.search(rf"^\s*#define\s+{name}\s+(.+?)\s*$", _official_header(header), re.M)
        text = re.sub(r"\(\(int\)\s*(\d+)\)", r"\1", found.group(1)) if found else None
        if text != (f'"{value}"' if isinstance(value, str) else str(value)):
            wrong.append((name, value, header, text))
    assert wrong == []


@needs_source
def test_documented_strings_typedefs_and_structs_match_the_official_headers():
    for _, value, header, _ in DOCUMENTED:
        assert value in (Path(SOURCE) / "include" / header).read_text()
    for name, (target, header) in TYPEDEFS.items():
        assert _typedefs(_official_header(header))[name] == target, name
    for name, (header, members) in STRUCTS.items():
        assert _structs(_official_header(header))[name] == members, name
