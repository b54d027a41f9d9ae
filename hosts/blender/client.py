"""``hosts/client`` as ``.client`` of this add-on, in the source tree.

Installed, the add-on is the package ``bl_ext.<repo>.memmatte`` with no ``hosts`` package
beside it, so the extension zip carries ``hosts/client`` itself as its ``client/``
subpackage, in place of this file (``build.py``). In the source tree (tests, scripts that
register ``hosts.blender``) this module stands for it. Either way the add-on's modules
write ``from .client import events, runner``: modules only, never ``from .client.x``.
"""

from ..client import command, events, frames, install, python, runner

__all__ = ["command", "events", "frames", "install", "python", "runner"]
