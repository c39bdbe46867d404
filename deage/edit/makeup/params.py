"""The makeup editor's parameters: one "years younger" control driving every operation through a
preset curve, plus per-operation overrides. Round-trips through JSON (``from_dict`` / ``to_dict``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any

from deage.errors import LookError
from deage.face.masks import WRINKLE_REGIONS

MAX_YEARS = 30.0

# Strength of each operation at full "years" (30); the curve below scales them down for fewer years.
_WRINKLES_AT_FULL: dict[str, float] = {
    "forehead": 0.9,
    "glabella": 0.9,
    "crows_feet": 0.9,
    "under_eye": 0.85,
    "nasolabial": 0.75,
    "marionette": 0.75,
    "skin": 0.6,
    "neck": 0.65,
}
_TONE_AT_FULL = {"under_eye": 0.7, "redness": 0.55, "evenness": 0.5, "spots": 0.8}
_HOLLOWS_AT_FULL = 0.8
"""``hollows`` at full years for a face that looks old (``OLDER_FACE``). It follows how old the
face looks, not ``years`` alone: on an older face it softens the nasolabial fold and the cheeks'
sagging, the shading an old face's age is read from, but on a young smiling face it flattens the
round of the cheek (apparent age of a 23-year-old at 30 years: +2.7 with it at 0.8, +0.5
without). So the preset gives it only to faces whose apparent age is known (``for_apparent_age``)
and reaches ``OLDER_FACE``."""
OLDER_FACE = (40.0, 55.0)
"""Apparent ages (years) over which the preset's ``hollows`` come in: none for a face that looks
40 or younger, all of them from 55 (the embedded age estimate is a few years either way, and the
young faces measured here looked 23-38)."""
CHILD_FACE = (12.0, 18.0)
"""Apparent ages (years) over which the preset's shape and feature work (jaw, cheeks, eye opening,
lips, whites of the eyes, teeth) comes in: none for a face that looks 12 or younger, all of it
from 18. A child's face has no jowls, thinned lips or yellowed whites to give back, and fuller,
redder lips or wider eyes make a child look like someone else; the skin work (creases, spots,
redness) is kept, and finds little to do on a child."""
_SHAPE_AT_FULL = {"jaw_lift": 0.8, "cheek_fullness": 0.6, "eye_aperture": 0.35, "lip_fullness": 0.6}
_FEATURES_AT_FULL = {"lip_contrast": 0.7, "eye_whites": 0.7, "teeth": 0.6}

# name -> (low, high) of every scalar override
_RANGES: dict[str, tuple[float, float]] = {
    "texture_keep": (0.0, 2.0),
    "under_eye": (0.0, 1.0),
    "redness": (0.0, 1.0),
    "evenness": (0.0, 1.0),
    "spots": (0.0, 1.0),
    "hollows": (0.0, 1.0),
    "target_age": (1.0, 80.0),
    "jaw_lift": (0.0, 1.0),
    "cheek_fullness": (0.0, 1.0),
    "eye_aperture": (0.0, 1.0),
    "lip_fullness": (0.0, 1.0),
    "lip_contrast": (0.0, 1.0),
    "eye_whites": (0.0, 1.0),
    "teeth": (0.0, 1.0),
}


def _texture_curve(t: float) -> float:
    """Skin work: fast at first (the first years come mostly from skin), saturating at 1."""
    return 1.0 - (1.0 - t) ** 1.6


def _shape_curve(t: float) -> float:
    """Shape work: slow at first (a few years younger barely changes the jaw), linear later."""
    return t**1.4


@dataclass(frozen=True)
class MakeupSettings:
    """Every strength the editor uses, resolved from ``MakeupParams`` (all values concrete)."""

    wrinkles: dict[str, float]
    texture_keep: float
    under_eye: float
    redness: float
    evenness: float
    spots: float
    hollows: float
    jaw_lift: float
    cheek_fullness: float
    eye_aperture: float
    lip_fullness: float
    lip_contrast: float
    eye_whites: float
    teeth: float
    wears_glasses: bool | None = None

    @property
    def is_identity(self) -> bool:
        return (
            all(v == 0 for v in self.wrinkles.values())
            and self.under_eye == self.redness == self.evenness == self.spots == self.hollows == 0
            and self.jaw_lift == self.cheek_fullness == self.eye_aperture == self.lip_fullness == 0
            and self.lip_contrast == self.eye_whites == self.teeth == 0
        )


@dataclass(frozen=True)
class MakeupParams:
    """Parameters of the embedded digital-makeup de-ager.

    Attributes:
        years: how many years younger, 0..30; drives every operation below through a preset curve.
        wrinkles: per-region wrinkle-softening overrides, 0..1 (regions: forehead, glabella,
            crows_feet, under_eye, nasolabial, marionette, skin, neck); missing regions follow
            ``years``.
        texture_keep: fraction of the finest texture (pores, film grain) kept where skin is
            smoothed, 0..2; 1 keeps it exactly, below 1 is a softer "beauty" look, above 1 crisps it.
        under_eye: lift of under-eye darkness, 0..1.
        redness: reduction of local redness, 0..1.
        evenness: evening of blotchy tone, 0..1.
        spots: reduction of small dark spots (age spots, blemishes), 0..1.
        hollows: evening of the cheeks' broad shading, the shading of age (the shadow of a
            sagging cheek along the nasolabial fold, jowls, tear troughs, the bulge above them),
            0..1; when unset it follows ``years`` and how old the face looks: 0 for faces that
            look 40 or younger, and 0 where no apparent age is known (``for_apparent_age``).
        jaw_lift: jowl and jaw-line lift, 0..1.
        cheek_fullness: fuller, higher cheeks, 0..1.
        eye_aperture: slightly more open eyes, 0..1.
        lip_fullness: fuller lips (their outer contour moved out by up to 30 % of each lip's
            height; corners and the mouth's line stay), 0..1.
        lip_contrast: lips further from the skin's colour (redder, more defined), 0..1.
        eye_whites: clearer whites of the eyes (less yellow and red, a little lighter), 0..1.
        teeth: whiter teeth (less yellow, a little lighter; ivory, never blue-white), 0..1.
        wears_glasses: whether the face wears glasses, whose frames the edit neither bends nor
            recolours: None looks for them on each frame (a dark bridge over the nose); True
            looks more keenly (a fainter, thinner bridge also counts); False never looks. A
            render sets it per face track where it is None, from the track's best-seen frames
            (``deage.face.glasses.measure_tracks``): True where two of five or more show glasses,
            False where none does.

        target_age: the age every face should look, in years (1..80), or None. When set, each
            face gets ``years`` = how old it looks (its track's apparent age, measured by
            ``deage.face.apparent_age`` when the render starts) minus this, within 0..30: in a
            group shot the older faces get more, and a face that already looks this age or
            younger is left alone. ``years`` is then not used.

    Every override left as None follows ``years``.
    """

    years: float = 10.0
    wrinkles: dict[str, float] = field(default_factory=dict)
    texture_keep: float | None = None
    under_eye: float | None = None
    redness: float | None = None
    evenness: float | None = None
    spots: float | None = None
    hollows: float | None = None
    target_age: float | None = None
    jaw_lift: float | None = None
    cheek_fullness: float | None = None
    eye_aperture: float | None = None
    lip_fullness: float | None = None
    lip_contrast: float | None = None
    eye_whites: float | None = None
    teeth: float | None = None
    wears_glasses: bool | None = None

    def __post_init__(self) -> None:
        _number("years", self.years, 0.0, MAX_YEARS)
        if not isinstance(self.wrinkles, dict):
            raise LookError(f"makeup: 'wrinkles' must be an object of region: strength, got {self.wrinkles!r}")
        for region, value in self.wrinkles.items():
            if region not in WRINKLE_REGIONS:
                raise LookError(f"makeup: unknown wrinkle region {region!r}; choose from {list(WRINKLE_REGIONS)}")
            _number(f"wrinkles.{region}", value, 0.0, 1.0)
        for name, (lo, hi) in _RANGES.items():
            value = getattr(self, name)
            if value is not None:
                _number(name, value, lo, hi)
        if self.wears_glasses is not None and not isinstance(self.wears_glasses, bool):
            raise LookError(f"makeup: 'wears_glasses' must be true, false or null, got {self.wears_glasses!r}")

    def for_apparent_age(self, age: float) -> MakeupParams:
        """These parameters for a face that looks ``age`` years old: with ``target_age`` set,
        ``years`` becomes ``age - target_age`` (within 0..30) and ``target_age`` is cleared; an
        unset ``hollows`` becomes the preset's for those years and that age (``OLDER_FACE``), and
        on a face that looks under 18 the unset shape and feature operations are scaled down, to
        none at 12 (``CHILD_FACE``)."""
        params = self
        if self.target_age is not None:
            years = min(max(float(age) - self.target_age, 0.0), MAX_YEARS)
            params = replace(params, years=years, target_age=None)
        t = params.years / MAX_YEARS
        if params.hollows is None:
            hollows = _HOLLOWS_AT_FULL * _texture_curve(t) * _ramp(age, OLDER_FACE)
            params = replace(params, hollows=round(hollows, 4))
        adult = _ramp(age, CHILD_FACE)
        if adult < 1.0:
            preset = params.resolve()
            params = replace(params, **{k: round(getattr(preset, k) * adult, 4)
                                        for k in (*_SHAPE_AT_FULL, *_FEATURES_AT_FULL) if getattr(params, k) is None})
        return params

    # ---- resolution through the preset curve ---------------------------------------------------
    def resolve(self) -> MakeupSettings:
        """All strengths for this ``years`` with the overrides applied."""
        t = float(self.years) / MAX_YEARS
        tex, shp = _texture_curve(t), _shape_curve(t)
        wrinkles = {r: float(self.wrinkles.get(r, v * tex)) for r, v in _WRINKLES_AT_FULL.items()}

        def pick(name: str, default: float) -> float:
            value = getattr(self, name)
            return float(default if value is None else value)

        return MakeupSettings(
            wrinkles=wrinkles,
            texture_keep=pick("texture_keep", 1.0),
            **{k: pick(k, v * tex) for k, v in _TONE_AT_FULL.items()},
            hollows=pick("hollows", 0.0),  # the preset's needs the face's age: for_apparent_age
            **{k: pick(k, v * shp) for k, v in _SHAPE_AT_FULL.items()},
            **{k: pick(k, v * tex) for k, v in _FEATURES_AT_FULL.items()},
            wears_glasses=self.wears_glasses,
        )

    # ---- JSON --------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MakeupParams:
        """Build from a Look's ``edit`` section.

        Accepts ``"wrinkles": {"forehead": 0.8}`` and the flat keyframe form
        ``"wrinkles.forehead": 0.8`` (the flat form wins when both are given).

        Raises:
            LookError: unknown key, unknown region, or a value that is not a number in range.
        """
        if not isinstance(data, dict):
            raise LookError(f"makeup: parameters must be an object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        wrinkles: dict[str, Any] = {}
        flat: dict[str, Any] = {}
        for key, value in data.items():
            if key.startswith("wrinkles."):
                flat[key.partition(".")[2]] = value
            elif key == "wrinkles":
                if not isinstance(value, dict):
                    raise LookError(f"makeup: 'wrinkles' must be an object of region: strength, got {value!r}")
                wrinkles.update(value)
            elif key in known:
                kwargs[key] = value
            else:
                raise LookError(f"makeup: unknown parameter {key!r}; known: {sorted(known)}")
        wrinkles.update(flat)
        for key, value in kwargs.items():
            if key != "wears_glasses" and (value is not None or key == "years"):
                lo, hi = (0.0, MAX_YEARS) if key == "years" else _RANGES[key]
                kwargs[key] = _number(key, value, lo, hi)
        return cls(wrinkles={str(k): v for k, v in wrinkles.items()}, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: ``years`` plus only the overrides that are set."""
        out: dict[str, Any] = {"years": float(self.years)}
        if self.wrinkles:
            out["wrinkles"] = {k: float(v) for k, v in self.wrinkles.items()}
        for name in _RANGES:
            value = getattr(self, name)
            if value is not None:
                out[name] = float(value)
        if self.wears_glasses is not None:
            out["wears_glasses"] = self.wears_glasses
        return out


def _ramp(age: float, span: tuple[float, float]) -> float:
    """0 below ``span[0]`` years, 1 above ``span[1]``, a smooth cubic between."""
    lo, hi = span
    x = min(max((float(age) - lo) / (hi - lo), 0.0), 1.0)
    return x * x * (3.0 - 2.0 * x)


def _number(name: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise LookError(f"makeup: {name!r} must be a number in {lo:g}..{hi:g}, got {value!r}")
    if not lo <= value <= hi:
        raise LookError(f"makeup: {name!r} = {value:g} is out of range {lo:g}..{hi:g}")
    return float(value)
