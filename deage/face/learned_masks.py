"""The mask stage's model backends in a render: a face parser and an occluder, named by a Look.

A Look's ``"masks"`` section names them, each a model of ``weights/manifest.toml`` or a backend
name (the first of its models whose file is present)::

    "masks": {"parser": "skin_hair_seg", "occluder": "xseg_1"}

- ``parser`` (kind "parser": ``bisenet_19``, ``skin_hair_seg``): its masks replace the
  skin-colour model in editors that take ``parsing`` (the makeup de-ager), so hair, clothing and
  skin-toned backgrounds are never taken for skin.
- ``occluder`` (kind "occluder": ``xseg_1``...): every editor's mask is multiplied by where the
  face is seen, so a hand on a cheek, a microphone or hair in front of the face keeps its own
  pixels in the render (the embedded skin-colour model cannot tell a hand from a cheek).

Neither is needed: without them the embedded defaults run. The models are built once per
renderer (``LearnedMasks.build``) and are pure functions of the crop, so renders stay a function
of (clip, analysis, Look) and threads may share them.
"""

from __future__ import annotations

import copy
import functools
import inspect
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from deage.edit.base import EditResult
from deage.errors import LookError, WeightsError
from deage.face.protocols import Occluder, Parser
from deage.types import AlignedFace, Mask

MASK_KEYS = {"parser": "parser", "occluder": "occluder"}
"""The ``"masks"`` section's keys -> the manifest kind each must name."""


def validate_masks(data: Any, source: str | Path | None = None) -> dict[str, str]:
    """A Look's ``"masks"`` section checked: an object whose keys are ``parser`` / ``occluder`` and
    whose values are model (or backend) names; ``null`` or ``""`` means none. Returns the names set.

    Raises:
        LookError: not an object, an unknown key, or a value that is not a string.
    """
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise LookError("'masks' must be an object such as {\"occluder\": \"xseg_1\"}", source)
    unknown = sorted(set(data) - set(MASK_KEYS))
    if unknown:
        raise LookError(f"unknown key(s) {unknown} in 'masks'; allowed: {sorted(MASK_KEYS)}", source)
    names = {}
    for key, value in data.items():
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise LookError(f"masks.{key} must be a model name (a string) or null, got {value!r}", source)
        names[key] = value
    return names


def available(key: str, weights_dir: str | Path | None = None) -> list[str]:
    """The manifest's models for ``masks.<key>`` ("parser" / "occluder") whose files are in the
    weights folder (found, not hashed: the hash is checked when a renderer builds one)."""
    from deage.weights import Manifest

    manifest = Manifest.load()
    return [e.name for e in manifest.entries.values()
            if e.kind == MASK_KEYS[key] and manifest.where(e.name, weights_dir).is_file()]


@dataclass
class LearnedMasks:
    """A render's parser and occluder (either may be None: then that stage uses the embedded default).

    Attributes:
        parser: a ``deage.face.protocols.Parser``.
        occluder: a ``deage.face.protocols.Occluder``.
        records: the provenance records (``deage.weights.Manifest.provenance``) of their files.
    """

    parser: Parser | None = None
    occluder: Occluder | None = None
    records: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def build(cls, masks: dict[str, Any] | None, *, device: str = "auto",
              weights_dir: str | Path | None = None) -> LearnedMasks:
        """Build the models a Look's ``masks`` section names (see ``validate_masks``).

        Raises:
            LookError: a bad section.
            WeightsError: a name that is not a model of the right kind, or its file missing or
                not matching the manifest (the message names the file and where to get it).
        """
        names = validate_masks(masks)
        if not names:
            return cls()
        from deage.face.backends import make_backend, pick_entry
        from deage.weights import Manifest

        manifest = Manifest.load()
        built: dict[str, Any] = {}
        records = []
        for key, name in names.items():
            entry = pick_entry(name, manifest, weights_dir)
            kind = MASK_KEYS[key]
            if entry.kind != kind:
                wanted = ", ".join(e.name for e in manifest.entries.values() if e.kind == kind)
                raise WeightsError(f"masks.{key} needs a model of kind '{kind}' ({wanted}); {name!r} is of kind "
                                   f"'{entry.kind}'", manifest.path)
            built[key] = make_backend(entry.name, weights_dir, manifest=manifest, device=device)
            records.append(manifest.provenance(entry.name, weights_dir))
        return cls(parser=built.get("parser"), occluder=built.get("occluder"), records=records)

    def edit(self, editor: Any, aligned: AlignedFace, params: Any, **kwargs: Any) -> EditResult:
        """``editor.edit(aligned, params, **kwargs)`` with the parser's masks (for an editor that
        takes ``parsing``) and its mask cut to where the face is seen (``occlude``)."""
        if self.parser is not None and _takes_parsing(editor):
            kwargs["parsing"] = self.parser.parse(aligned)
        return self.occlude(aligned, editor.edit(aligned, params, **kwargs))

    def occlude(self, aligned: AlignedFace, result: EditResult) -> EditResult:
        """``result`` with its mask (float32 (S, S)) multiplied by ``visible`` and, for a retouch
        with a shape warp, the warp stilled on and around what covers the face (``still_flow``);
        the result itself when there is no occluder (the input, which a preview may cache, is
        never modified)."""
        if self.occluder is None:
            return result
        seen = self.visible(aligned)
        occluded = copy.copy(result)
        occluded.mask = (np.asarray(result.mask, np.float32) * seen).astype(np.float32)
        retouch = result.retouch
        if retouch is not None and retouch.flow is not None and seen.min() < 1.0:
            flow = still_flow(retouch.flow, seen, _eye_distance(aligned))
            occluded = occluded.with_retouch(replace(retouch, flow=flow))
        return occluded

    def visible(self, aligned: AlignedFace) -> Mask:
        """Where the editor may act on the face of ``aligned``: float32 (S, S) in [0, 1], all 1
        without an occluder.

        Inside the face's outline (jaw line and forehead, from the crop's 68 landmarks; the whole
        crop when it has none) it is the occluder's answer. Beyond the outline it is 1: an
        occluder marks everything that is not face as covered, the neck and the background
        beside the jaw line included, where the makeup de-ager retouches the neck and moves the
        jaw line; there the editor's own mask stands.
        """
        size = aligned.size
        if self.occluder is None:
            return np.ones((size, size), np.float32)
        seen = np.asarray(self.occluder.visible(aligned), np.float32)
        if seen.shape != (size, size):
            seen = cv2.resize(seen, (size, size), interpolation=cv2.INTER_LINEAR)
        seen = np.clip(seen, 0.0, 1.0)
        inside = _inside_outline(aligned)
        return seen if inside is None else (1.0 - inside * (1.0 - seen)).astype(np.float32)

    def provenance(self) -> list[dict[str, Any]]:
        return list(self.records)


OUTLINE_INSET = 0.06
"""Eye distances inside the face's outline where the occluder starts to count (fully at twice
that): at the outline itself an occluder's face edge is soft and would dim the jaw line's edit."""


def _inside_outline(aligned: AlignedFace) -> Mask | None:
    """float32 (S, S): 1 well inside the face's outline, easing to 0 at it; None without landmarks.
    Drawn on a raster of at most 256 pixels (it is smooth) and resized."""
    if aligned.landmarks is None:
        return None
    from deage.face.masks import FaceFrame, face_outline

    size = aligned.size
    raster = min(size, 256)
    k = raster / float(size)
    fr = FaceFrame.from_landmarks(aligned.landmarks)
    canvas = np.zeros((raster, raster), np.uint8)
    outline = (face_outline(aligned.landmarks, fr) + 0.5) * k - 0.5  # the cv2.resize pixel-centre convention
    cv2.fillPoly(canvas, [np.round(outline * 16).astype(np.int32)], 1, shift=4)
    inset = OUTLINE_INSET * fr.eye_distance * k
    depth = cv2.distanceTransform(canvas, cv2.DIST_L2, 5)
    inside = np.clip((depth - inset) / max(inset, 1e-3), 0.0, 1.0).astype(np.float32)
    return inside if raster == size else cv2.resize(inside, (size, size), interpolation=cv2.INTER_LINEAR)


SHIELD = 0.45
"""Eye distances around what covers a face where a shape warp is stilled: as far as the makeup
de-ager's warp reaches beyond the face's outline (``deage.edit.makeup.shape.REACH_END``), so a
hand over the jaw is not bent by the jaw lift where it crosses the outline (inside the outline
the hand is out of the mask; beyond it, where the occluder cannot tell it from the neck, the warp
would move it)."""


def still_flow(flow: np.ndarray, seen: Mask, eye_distance: float, shield: float = SHIELD) -> np.ndarray:
    """``flow`` (float32 (G, G, 2), crop pixels, on an (S, S) crop) set to 0 where ``seen``
    (float32 (S, S)) is 0 and ``shield`` eye distances (``eye_distance``: pixels of ``seen``)
    around it, easing back to the full flow over a third of that."""
    grid, size = flow.shape[0], seen.shape[0]
    cells = shield * eye_distance * grid / float(size)
    still = cv2.resize(seen, (grid, grid), interpolation=cv2.INTER_AREA)
    radius = max(1, int(round(cells)))
    still = cv2.erode(still, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2),
                      borderType=cv2.BORDER_REPLICATE)
    still = cv2.GaussianBlur(still, (0, 0), max(0.5, cells / 6), borderType=cv2.BORDER_REPLICATE)
    return (flow * np.clip(still, 0.0, 1.0)[..., None]).astype(np.float32)


def _eye_distance(aligned: AlignedFace) -> float:
    """The crop's eye distance in crop pixels (a tenth of the crop without landmarks)."""
    if aligned.landmarks is None:
        return 0.1 * aligned.size
    from deage.face.masks import FaceFrame

    return FaceFrame.from_landmarks(aligned.landmarks).eye_distance


def _takes_parsing(editor: Any) -> bool:
    return _edit_takes_parsing(type(editor))


@functools.lru_cache(maxsize=None)
def _edit_takes_parsing(kind: type) -> bool:
    try:
        return "parsing" in inspect.signature(kind.edit).parameters
    except (AttributeError, TypeError, ValueError):
        return False
