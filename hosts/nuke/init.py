"""Nuke runs this at start-up when this folder is on the plugin path (NUKE_PATH, ~/.nuke/init.py
with ``nuke.pluginAddPath``). It puts ``models/`` on the plugin path too, so the gizmo's
Inference node finds ``models/memmatte.cat`` without a path in the script."""

import os

import memmatte_nuke
import nuke

_here = os.path.dirname(os.path.dirname(os.path.abspath(memmatte_nuke.__file__)))
_models = os.path.join(_here, "models")
if os.path.isdir(_models):
    nuke.pluginAddPath(_models)
