"""The host client: what every host (Blender, Nuke, OpenJD, the command line's own
re-emission) needs to run ``python -m core.batch`` and follow it, in the standard library
only, so that it imports inside Blender's and Nuke's own Python.

``command``: the processor's options as one dataclass, the one place its flags are spelled.
``events``: the versioned JSON event records, encoded by ``core.batch`` and parsed by hosts.
``runner``: one child process in its own process group, its events, cancelling, failures.
``python``: which interpreter runs memmatte.
``frames``: numbered file patterns (``####``, ``%04d``, ``$F4``) and frame ranges.

Modules import each other relatively: the Blender extension zip carries this folder as its
``client`` subpackage, and the Nuke plugin loads it as ``memmatte_nuke.client``
(docs/hosts/blender.md, docs/hosts/nuke.md).
"""
