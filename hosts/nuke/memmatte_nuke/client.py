"""``hosts/client`` of this checkout, as the package ``memmatte_nuke.client``.

Nuke puts only the plugin folder (``hosts/nuke``) on its Python path, and memmatte is not
installed in Nuke's Python, so ``hosts.client`` cannot be imported by name. The client
exists once, in ``hosts/client``; this module loads that folder as its own package (its
modules import each other relatively), so ``from .client import events`` works here as
``from . import events`` works there. Putting the checkout on Nuke's path instead would
also expose its ``core`` and ``training`` packages to every plugin of the studio.
"""

import importlib.util
import sys
from pathlib import Path

_FOLDER = Path(__file__).resolve().parents[2] / "client"

_spec = importlib.util.spec_from_file_location(
    __name__, _FOLDER / "__init__.py", submodule_search_locations=[str(_FOLDER)]
)
_package = importlib.util.module_from_spec(_spec)
sys.modules[__name__] = _package  # the import of this module returns the package
_spec.loader.exec_module(_package)
