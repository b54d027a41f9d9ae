"""memmatte inside Nuke: the render path of the Memmatte gizmo.

Runs in Nuke's own Python, so only the standard library is imported here; the matting itself
runs in a separate interpreter (``python -m core.batch``) that has torch and memmatte.

The constants below are the contract between ``Memmatte.gizmo``, the ``.cat`` file a user makes
with CatFileCreator, and docs/hosts/nuke.md.
"""

CAT_FILE = "memmatte.cat"
"""The model file the gizmo's Inference node finds on the plugin path by default."""

CHANNELS_IN = (
    "rgba.red",
    "rgba.green",
    "rgba.blue",
    "forward.u",
    "forward.v",
    "backward.u",
    "backward.v",
    "disparityL.x",
    "disparityL.y",
)
"""CatFileCreator "Channels In": frames t-2, t-1, t (sRGB) in the exported model's order.

CatFileCreator only accepts Nuke's built-in channels, so the two previous frames and the
current one are packed into rgba, motion and disparity. The list is in Nuke's own channel
order as well as the model's, so the tensor is the same whether Inference reads the channels
in list order or in channel order.
"""

CHANNELS_OUT = ("rgba.red", "rgba.green", "rgba.blue", "rgba.alpha")
"""CatFileCreator "Channels Out": foreground RGB (sRGB, not premultiplied) and alpha."""

FRAME_CHANNELS = {-2: CHANNELS_IN[0:3], -1: CHANNELS_IN[3:6], 0: CHANNELS_IN[6:9]}
"""Which input channels carry the RGB of frame t + key."""


def install(*args, **kwargs):
    """Makes memmatte's Python from Nuke's Script Editor: ``memmatte_nuke.install()``.

    A new venv with torch and memmatte, installed in the background with a progress bar that
    can cancel, then checked; see ``memmatte_nuke.installer.install`` for the options."""
    from .installer import install as run

    return run(*args, **kwargs)
