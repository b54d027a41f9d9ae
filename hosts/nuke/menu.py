"""Nuke runs this at start-up of the interactive application: Nodes toolbar > memmatte > Memmatte."""

import nuke

nuke.menu("Nodes").addCommand(
    "memmatte/Memmatte",
    "nuke.createNode('Memmatte')",
    tooltip="Alpha and foreground of people in the input plate (memmatte)",
)
