"""Pass / fail of a render's metrics against thresholds a reviewer sets.

Example::

    from deage.review.thresholds import Thresholds, evaluate, passed

    checks = evaluate(metrics, Thresholds(max_identity=0.4))
    for c in checks:
        print(c.line())
    ok = passed(checks)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from deage.errors import DeageError


@dataclass(frozen=True)
class Thresholds:
    """Limits a render must stay within to pass review (None switches a check off).

    Attributes:
        max_identity: largest identity distance on any frame with dlib's 128-d descriptor
            (Euclidean; same person < 0.6, so 0.35 keeps the edit well inside "same person").
        max_identity_arcface: the same with ArcFace (1 - cos; not calibrated here: no ArcFace
            weights in this environment; calibrate on your footage).
        max_flicker_ratio: the shot's frame-to-frame change inside the faces, render over source
            (1.0 = as steady as the plate).
        max_seam_ratio: worst frame's added edge where the edit ends (1.0 = none).
        max_faces_missed: faces the Look should have edited but the render did not, in total.
        max_jitter_ratio: the shot's landmark jitter on the render over that on the source.
        max_wrinkle_change: the shot's relative wrinkle-band change over all facial skin must be
            at most this (e.g. -0.1: at least 10 % less fine-line energy); None = not checked.
        max_crease_change: the shot's relative crease-depth change over all facial skin must be
            at most this (e.g. -0.2: creases at least 20 % shallower); None = not checked.
        max_age_change: the shot's mean apparent-age change (years, render - source, by
            ``deage.face.apparent_age``) must be at most this (e.g. -3: looks at least 3 years
            younger); None = not checked.
        min_feature_detail: on every frame, the edge strength inside each face's features (eyes
            and lashes, brows, lips, nostrils), render over source, must be at least this: an
            edit must not blur or paint over what makes the face that person's. The embedded
            de-ager keeps them (0.97-1.02 on seven photos at 10 and 30 years, 0.99-1.01 on the
            example clip through H.264); eyes and brows blurred by 2-4 % of the eye distance
            read 0.77-0.96. A face replacement brings another face's features: not checked there.
        min_grain_match: on every frame, the noise over each face's skin, render over source,
            must be at least this where the source's face shows grain (2 levels or more,
            ``metrics.VISIBLE_GRAIN``; a cleaner plate is not checked): a face cleaner than its
            plate is the classic tell of beauty work and of a pasted face. The re-encode alone
            takes some grain off the whole frame (x264 at CRF 16: 0.8 of a 6-level plate's
            noise); a retouch that keeps the grain reads 0.8-1.2, a face swapped from a clean
            photo without the plate's grain 0.08.
        min_swap_margin: a face replacement only (its Look's editor "swap"): the shot's mean
            identity margin, distance of the render's faces to the plate's less distance to the
            source photo put on them (the same descriptor), must be at least this: above 0 the
            faces are nearer the source than the person they replaced. The embedded swap over
            the tests' 21 photo pairs: 0.138 on average with dlib, 18 of 21 above 0
            (``benchmarks/swap_identity.py``). For a replacement the plate identity limit and
            the features' detail are shown, not checked: a new face changes both by design.
    """

    max_identity: float | None = 0.35
    max_identity_arcface: float | None = 0.40
    max_flicker_ratio: float | None = 1.15
    max_seam_ratio: float | None = 1.2
    max_faces_missed: int | None = 0
    max_jitter_ratio: float | None = 1.5
    max_wrinkle_change: float | None = None
    max_crease_change: float | None = None
    max_age_change: float | None = None
    min_feature_detail: float | None = 0.9
    min_grain_match: float | None = 0.6
    min_swap_margin: float | None = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise DeageError(f"threshold {f.name} must be a finite number or None, got {value!r}")
            if f.name not in ("max_wrinkle_change", "max_crease_change", "max_age_change",
                              "min_swap_margin") and value < 0:
                raise DeageError(f"threshold {f.name} must not be negative, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Thresholds:
        """From ``to_dict`` output; unknown keys raise ``DeageError``."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise DeageError(f"unknown threshold(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**data)


@dataclass(frozen=True)
class Check:
    """One line of the review verdict.

    Attributes:
        key: machine name (``"identity"``, ``"flicker"``...).
        label: what was measured, for people.
        value: the measured figure (NaN when nothing could be measured).
        limit: the threshold (None: informational only).
        passed: True / False, or None when not measured or not checked.
        frame: the worst source frame, when the figure is a per-frame maximum.
        better: "lower" or "higher", how the value compares with the limit.
    """

    key: str
    label: str
    value: float
    limit: float | None
    passed: bool | None
    frame: int | None = None
    better: str = "lower"

    @property
    def status(self) -> str:
        """``"PASS"``, ``"FAIL"``, ``"n/a"`` (not measured) or ``"info"`` (no limit)."""
        if self.limit is None:
            return "info"
        return "n/a" if self.passed is None else ("PASS" if self.passed else "FAIL")

    @property
    def text(self) -> str:
        """The value as shown: 3 decimals (years: 1), a whole number for counts, "not measured" for NaN."""
        if not math.isfinite(self.value):
            return "not measured"
        if self.key == "faces_missed":
            return f"{int(self.value)}"
        return f"{self.value:+.1f}" if self.key == "age" else f"{self.value:.3f}"

    def line(self) -> str:
        """One text line, e.g. ``PASS  identity distance (dlib, worst frame): 0.213 <= 0.35  (frame 7)``."""
        value = self.text
        limit = "" if self.limit is None else f" {'<=' if self.better == 'lower' else '>='} {self.limit:g}"
        where = f"  (frame {self.frame})" if self.frame is not None and math.isfinite(self.value) else ""
        return f"{self.status:<5} {self.label}: {value}{limit}{where}"


def _check(key: str, label: str, value: float, limit: float | None, frame: int | None = None,
           better: str = "lower") -> Check:
    if limit is None or not math.isfinite(value):
        return Check(key, label, value, limit, None, frame, better)
    ok = value <= limit + 1e-12 if better == "lower" else value >= limit - 1e-12
    return Check(key, label, value, limit, bool(ok), frame, better)


def evaluate(metrics: Any, thresholds: Thresholds | None = None) -> list[Check]:
    """The checks of ``metrics`` (a ``RenderMetrics``) against ``thresholds`` (default ``Thresholds()``)."""
    t = thresholds or Thresholds()
    s = metrics.summary()
    arcface = metrics.identity_backend == "arcface"
    id_limit = t.max_identity_arcface if arcface else t.max_identity
    replaced = bool(getattr(metrics, "replacement", False))
    swap = []
    if replaced:  # a new face: identity is the source's, the plate's distance and features change by design
        id_limit = None
        backend = metrics.identity_backend
        swap = [_check("swap_identity", f"identity margin, nearer the source than the plate ({backend}, shot mean)",
                       s["swap_margin_mean"], t.min_swap_margin,
                       metrics.worst_frame("swap_margin", lowest=True), better="higher"),
                _check("source_identity", f"identity distance to the source photo ({backend}, worst frame)",
                       s["source_distance_max"], None, metrics.worst_frame("source_distance"))]
    what = "identity distance to the plate's face" if replaced else "identity distance"
    return [
        _check("identity", f"{what} ({metrics.identity_backend}, worst frame)", s["identity_distance_max"],
               id_limit, metrics.worst_frame("identity_distance")),
        *swap,
        _check("flicker", "flicker ratio (render / source, shot)", s["flicker_ratio"], t.max_flicker_ratio),
        _check("seam", "seam ratio (worst frame)", s["seam_ratio_max"], t.max_seam_ratio,
               metrics.worst_frame("seam_ratio")),
        _check("faces_missed", "faces missed", float(s["faces_missed"]), t.max_faces_missed,
               metrics.worst_frame("faces_missed") if s["faces_missed"] else None),
        _check("jitter", "landmark jitter ratio (render / source, shot)", s["landmark_jitter_ratio"],
               t.max_jitter_ratio),
        _check("wrinkles", "wrinkle-band change, all facial skin (shot)", s["wrinkle_change"]["face"],
               t.max_wrinkle_change),
        _check("creases", "crease-depth change, all facial skin (shot)", s["crease_change"], t.max_crease_change),
        _check("age", "apparent-age change, years (render - source, shot mean)", s["apparent_age_change"],
               t.max_age_change),
        _check("features", "detail kept in eyes, brows, lips (render / source, worst frame)",
               s["feature_detail_min"], None if replaced else t.min_feature_detail,
               metrics.worst_frame("feature_detail", lowest=True), better="higher"),
        _check("grain", "grain over the faces' skin (render / source, worst frame)", s["grain_match_min"],
               t.min_grain_match, metrics.worst_frame("grain_match", lowest=True), better="higher"),
    ]


def passed(checks: list[Check]) -> bool:
    """True when no check failed (checks that could not be measured do not fail a render)."""
    return not any(c.passed is False for c in checks)
