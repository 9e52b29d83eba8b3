"""Named motion directions of the released LIA-X model (``motion_dim`` 40).

Indices and meanings are those the upstream configs (``config/*/*.yaml``, commit 6ec550a) comment
on; the other 26 directions have no published meaning. Upstream moves a direction by adding a
value to the source's own magnitude (``alpha(s)[:, id] += v``); its demos use |v| <= 0.5.
Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass

from vhq.errors import BadInput


@dataclass(frozen=True)
class NamedDirection:
    name: str
    index: int
    meaning: str


NAMED_DIRECTIONS = (
    NamedDirection("yaw", 37, "turn the head left/right (head only)"),
    NamedDirection("yaw_shoulders", 39, "turn the head left/right with the shoulders"),
    NamedDirection("pitch", 28, "nod up/down"),
    NamedDirection("roll", 15, "tilt the head (1)"),
    NamedDirection("roll2", 33, "tilt the head (2)"),
    NamedDirection("neck", 31, "move the neck left/right"),
    NamedDirection("pout", 6, "pout"),
    NamedDirection("mouth", 25, "open/close the mouth (wide smile)"),
    NamedDirection("mouth_o", 16, "'O' mouth"),
    NamedDirection("smirk", 19, "smirk, apple cheeks"),
    NamedDirection("eyes", 13, "open/close the eyes"),
    NamedDirection("eyebrows", 24, "raise/frown the eyebrows"),
    NamedDirection("eyeballs", 17, "move the eyeballs (1)"),
    NamedDirection("eyeballs2", 26, "move the eyeballs (2)"),
)
BY_NAME = {d.name: d for d in NAMED_DIRECTIONS}


def direction_index(name: str) -> int:
    """The index of a named direction; BadInput listing the names otherwise."""
    found = BY_NAME.get(name.strip().lower())
    if found is None:
        raise BadInput(f"--direction {name!r}: not a named LIA-X direction", f"choose from: {', '.join(BY_NAME)}")
    return found.index


def name_of(index: int) -> str | None:
    return next((d.name for d in NAMED_DIRECTIONS if d.index == index), None)
