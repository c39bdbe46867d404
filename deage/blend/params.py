"""Compositing parameters (the Look's ``blend`` section)."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from deage.errors import LookError

MODES = ("feather", "multiband", "poisson")
COLOUR_MATCHES = ("none", "lab", "histogram")
REFERENCE_CROP = 512
"""Sizes (erode, dilate, feather) are in pixels of a 512-pixel face crop: they scale with the face,
so one Look gives the same result on a proxy and on the full-resolution plate, and on near and
far faces alike. At 1080p a typical 250 px face is about half that crop, so 10 units ~ 5 frame px."""

_MAX_PX = 128.0
MAX_FADE = 96.0
"""Longest fade (frames) at a track's start or end."""


@dataclass(frozen=True)
class BlendParams:
    """How an edited face goes back into the frame.

    Attributes:
        mode: "feather" (alpha blend through the feathered mask), "multiband" (Laplacian pyramid:
            low frequencies blend over a wide band, fine detail over a narrow one) or "poisson"
            (gradient-domain: the edit's detail, the frame's colour at the mask's edge).
        erode: shrink the editor's mask by this many pixels (of a 512 face crop) first.
        dilate: then grow it by this many pixels.
        feather: then soften its edge over about this many pixels.
        colour_match: "none", "lab" (match the edit's CIE Lab mean and spread to the frame's under
            the mask) or "histogram" (match per-channel histograms under the mask). For editors
            whose output drifts in colour (learned editors, swaps); leave "none" for makeup, where
            it would partly undo the tone evening.
        amount: overall opacity of the edit, 0..1.
        fade: frames over which the edit fades in where a face's track starts, and out where it
            ends, inside the shot (a head turning away, a face lost for a few frames, a person
            walking out), so the edit never pops on or off in one frame; 0 = no fade. A track
            that runs to the clip's first or last frame is not faded there.
        grain: how much of the plate's own grain (sensor noise, film grain) a retouched face keeps,
            0..1 (``deage.blend.grain``): 1 = as much as the frame around it, 0 = what the
            retouch leaves (a smoothed face is then cleaner than its frame on a noisy plate). A
            face drawn from elsewhere (a swap, a learned editor's face) gets this much of the
            grain it lacks against the plate, as white noise of the plate's deviation and
            colour correlation (``deage.blend.grain.regrain``); 0 leaves it as clean as drawn.
    """

    mode: str = "feather"
    erode: float = 0.0
    dilate: float = 0.0
    feather: float = 6.0
    colour_match: str = "none"
    amount: float = 1.0
    fade: float = 6.0
    grain: float = 1.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise LookError(f"blend: 'mode' must be one of {list(MODES)}, got {self.mode!r}")
        if self.colour_match not in COLOUR_MATCHES:
            raise LookError(f"blend: 'colour_match' must be one of {list(COLOUR_MATCHES)}, got {self.colour_match!r}")
        for name in ("erode", "dilate", "feather"):
            _number(name, getattr(self, name), 0.0, _MAX_PX)
        _number("amount", self.amount, 0.0, 1.0)
        _number("fade", self.fade, 0.0, MAX_FADE)
        _number("grain", self.grain, 0.0, 1.0)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BlendParams:
        """Build from a Look's ``blend`` section; raises LookError naming a bad key or value."""
        if not isinstance(data, dict):
            raise LookError(f"blend: parameters must be an object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise LookError(f"blend: unknown parameter {unknown[0]!r}; known: {sorted(known)}")
        kwargs = dict(data)
        highs = {"erode": _MAX_PX, "dilate": _MAX_PX, "feather": _MAX_PX, "amount": 1.0, "fade": MAX_FADE, "grain": 1.0}
        for name, high in highs.items():
            if name in kwargs:
                kwargs[name] = _number(name, kwargs[name], 0.0, high)
        for name in ("mode", "colour_match"):
            if name in kwargs and not isinstance(kwargs[name], str):
                raise LookError(f"blend: {name!r} must be a string, got {kwargs[name]!r}")
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _number(name: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise LookError(f"blend: {name!r} must be a number in {lo:g}..{hi:g}, got {value!r}")
    if not lo <= value <= hi:
        raise LookError(f"blend: {name!r} = {value:g} is out of range {lo:g}..{hi:g}")
    return float(value)
