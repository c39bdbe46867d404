"""The face-swap editor: a source identity onto each mapped target track.

Embedded backend (no weights): the source face is carried onto the target's geometry by a
piecewise-affine warp over a Delaunay mesh of both faces' landmarks (``mesh``), so pose and
expression follow the target frame by frame; its skin tone and light are matched to the target's
(``colour``), and where the two smile differently, the folds of a smile are the target's
(``folds``); the target's eye openings and mouth interior are kept or taken from the source by
option; the editor returns the swapped crop and a soft face mask, and compositing (the Look's
``blend`` section: multi-band or Poisson) pastes it into the frame.

Model backend: inswapper_128 with the source's ArcFace embedding (``inswapper``), optionally
over interleaved sub-images of a 256 or 512 crop for more detail. Either backend can be followed
by a GFPGAN / CodeFormer restorer (``restore``) blended in by an amount.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from deage.blend.focus import MIN_BLUR, smear, soften_to
from deage.edit.base import EditResult
from deage.edit.swap.colour import desaturate, light_gain, plate_colour
from deage.edit.swap.folds import smile, smile_mismatch, take_folds
from deage.edit.swap.gaze import redirect_gaze
from deage.edit.swap.mesh import (
    check_landmarks,
    mesh_points,
    mesh_triangles,
    midline_side,
    mirror_landmarks,
    piecewise_affine_maps,
    reshaped,
    turn,
    unfolded,
)
from deage.edit.swap.params import NO_RESTORE, SourceSpec, SwapParams, consent_for
from deage.edit.swap.regions import SwapRegions, skin_or_features, swap_regions
from deage.edit.swap.silhouette import beyond_the_face
from deage.edit.swap.source import SourceFace, SourceWarning, load_source
from deage.errors import DeageError, LookError
from deage.face.align import affine_scale, estimate_alignment
from deage.face.gaze import estimate_gaze
from deage.face.glasses import find_glasses, wear
from deage.face.masks import (EYES_HIDDEN, FaceFrame, FaceRegions, around_eyes, disk, eyes_seen, face_regions,
                               hidden_eyes, padded_box, smoothstep)
from deage.types import AlignedFace, Image, Mask
from deage.weights import Manifest

_COLOUR_GRID = 128
TEETH_BAND = (0.2, 0.06)
"""Eye distances along and across the target's lips' meeting line (within the lips) that
``clear_teeth_line`` clears."""
TEETH_MEDIAN = 0.06
"""Eye distances across the median filter ``clear_teeth_line`` compares each pixel with."""
TEETH_CONTRAST = (8.0, 20.0)
"""Levels (largest channel) off the neighbourhood's median over which a pixel turns from lip to
what is left of a tooth's edge."""
MOUTH_LINE = (0.07, 0.05)
"""Eye distances along and across the plate's closed lips' meeting line kept from the plate
beyond it when the source's mouth is open and the plate's is not (``mouth="auto"``,
``mouth_closing``): towards the corners, where the source's teeth were left, but little of the
lips' height, which carries identity (0.065 or more across tipped a swap pair's re-identification
in tests/test_swap.py)."""
MOUTH_CLOSING = (0.03, 0.1)
"""Eye distances by which a source's mouth is open wider than the plate's over which the plate's
lips' meeting line is kept, from not at all to fully (a smile showing teeth: 0.16; closed: 0-0.02)."""
EYES_RASTER = 128
"""Raster (pixels across the crop) at which the swap asks whether the plate's eyes are hidden
behind dark lenses (``deage.face.masks.eyes_seen``)."""
FOCUS_INSET = 0.15
"""Eye distances inside the face's outline within which the plate's and the new face's softness
are measured: their features, not the jaw's edge against the background."""


@dataclass
class _Prepared:
    params: SwapParams
    base_dir: Path | None
    look_consent: list[dict[str, Any]]
    assignments: dict[int, str]
    default: str | None


class SwapEditor:
    """Replaces faces with consented source identities (see the module docstring).

    Build it with no arguments (as the renderer does) or with:

    Args:
        base_dir: folder that relative source and reference paths are read from; None = the look
            file's folder when the Look knows it (``look.folder``), else the current folder.
        weights_dir, manifest: where the model backend's files are (see ``deage.weights``).
        device: "auto", "cpu", "cuda"... for the model backend.

    Use: ``prepare(look, analysis)`` once per shot (checks consent, loads the sources, resolves
    the mappings to track ids, loads models), then ``edit(aligned, params, track_id=...)`` per
    face and frame. ``edit`` is a pure function of its arguments and of what ``prepare`` loaded.
    """

    name = "swap"
    per_track = True
    uses_motion = True

    def __init__(self, base_dir: str | Path | None = None, *, weights_dir: str | Path | None = None,
                 manifest: Manifest | None = None, device: str = "auto") -> None:
        self.base_dir = Path(base_dir) if base_dir is not None else None
        self.weights_dir = weights_dir
        self.manifest = manifest
        self.device = device
        self._state: _Prepared | None = None
        self._analysis: Any = None
        self._sources: dict[str, SourceFace] = {}
        self._loaded: dict[str, tuple[SourceSpec, Path | None]] = {}
        self._rgba: dict[str, np.ndarray] = {}
        self._models: dict[tuple[str, str], Any] = {}
        self._latents: dict[tuple[str, str, str], np.ndarray] = {}
        self._masks: Any = None
        self._covered: dict[str, bool] = {}

    def use_masks(self, masks: Any) -> None:
        """Take a renderer's mask models (``deage.face.learned_masks.LearnedMasks``; called before
        ``prepare``). With an occluder, what covers a source photo's face (a hand, a microphone,
        hair) is never carried onto the target: the covered part is filled from the mirror image
        of the source's other half where that is seen, and left to the target elsewhere."""
        masks = masks if getattr(masks, "occluder", None) is not None else None
        if masks is not self._masks:
            self._masks = masks
            self._loaded.clear()  # the sources load again, with or without their covered parts

    # ---- preparation -------------------------------------------------------------------------
    def prepare(self, look: Any, analysis: Any | None = None) -> None:
        """Check consent, load the sources, resolve the mappings and load the models of ``look``.

        Args:
            look: a ``deage.look.Look`` whose ``edit`` section is swap parameters.
            analysis: the clip's ``deage.face.analysis.Analysis`` (needed to map by "largest"
                or by a reference photo; track-id mappings work without it).

        Raises:
            LookError: bad parameters. ConsentError: a source without a complete consent record.
            MediaError / NoFaceError / AmbiguousFaceError: a source or reference photo that is
                missing or unreadable, has no face, or several faces and no choice. WeightsError:
                the model backend's files are missing or wrong.
        """
        params = SwapParams.from_dict(look.at(0).edit if hasattr(look, "at") else look.edit)
        folder = getattr(look, "folder", None)
        base = self.base_dir if self.base_dir is not None else (Path(folder) if folder else None)
        self._analysis = analysis
        self._setup(params, base, list(getattr(look, "consent", None) or []))

    def _setup(self, params: SwapParams, base_dir: Path | None, look_consent: list[dict[str, Any]]) -> None:
        # Consent first: no identity is even read without a complete record.
        records = {spec.name: consent_for(spec, look_consent) for spec in params.sources}
        for spec in params.sources:
            key = (SourceSpec(**{**spec.__dict__, "consent": None}), base_dir)
            if self._loaded.get(spec.name) != key:
                self._sources[spec.name] = self._uncovered(load_source(spec, base_dir))
                for concern in self._sources[spec.name].concerns:
                    warnings.warn(f"swap source {spec.name!r} ({self._sources[spec.name].path.name}): {concern}",
                                  SourceWarning, stacklevel=3)
                self._loaded[spec.name] = key
                self._rgba.pop(spec.name, None)
                for k in [k for k in self._latents if k[2] == spec.name]:
                    del self._latents[k]
            self._sources[spec.name].consent = records[spec.name]
        for name in list(self._sources):
            if name not in records:
                del self._sources[name], self._loaded[name]
                self._rgba.pop(name, None)
        assignments, default = self._resolve_mappings(params, base_dir)
        self._state = _Prepared(params, base_dir, look_consent, assignments, default)
        if params.backend == "inswapper":
            self._swapper(params)
            for name in self._sources:
                self._latent(params, name)
        if params.restore != NO_RESTORE:
            self._restorer(params)

    def _uncovered(self, source: SourceFace) -> SourceFace:
        """``source`` with what covers its face taken out of its ``valid`` and ``skin`` (with an
        occluder; ``use_masks``); notes whether anything was."""
        self._covered[source.name] = False
        if self._masks is None:
            return source
        seen = self._masks.visible(source.aligned)
        # Grown by 2 % of the crop: an occluder's edge is soft, and its fringe would come along.
        r = max(1, round(0.02 * source.aligned.size))
        seen = cv2.erode(seen, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
        seen = np.clip(seen * 2.0 - 1.0, 0.0, 1.0)  # half seen is not seen
        source.valid = (source.valid * seen).astype(np.float32)
        source.skin = (source.skin * seen).astype(np.float32)
        self._covered[source.name] = bool((seen < 0.5).any())
        return source

    def _resolve_mappings(self, params: SwapParams, base_dir: Path | None) -> tuple[dict[int, str], str | None]:
        explicit: dict[int, str] = {}
        default: str | None = None
        everything: list[str] = []
        analysis = self._analysis
        for i, mapping in enumerate(params.mappings):
            if mapping.tracks == "all":
                everything.append(mapping.source)
                continue
            if analysis is None:
                how = "a reference photo" if mapping.reference is not None else "\"largest\""
                if mapping.reference is not None or mapping.tracks == "largest":
                    raise DeageError(f"swap: mappings[{i}] picks tracks by {how}, which needs the clip's face "
                                     "analysis; render through render_clip, or map by track ids")
                ids = list(mapping.tracks)
            else:
                from deage.face.select import select_tracks

                if mapping.reference is not None:
                    from deage.edit.swap.source import resolve_source_path

                    ids = select_tracks(analysis, resolve_source_path(mapping.reference, base_dir))
                else:
                    how_ = mapping.tracks if mapping.tracks == "largest" else list(mapping.tracks)
                    ids = select_tracks(analysis, how_)
            for track in ids:
                if track in explicit and explicit[track] != mapping.source:
                    raise LookError(f"swap: track {track} is mapped to both {explicit[track]!r} and "
                                    f"{mapping.source!r}; give each track one source")
                explicit[track] = mapping.source
        if len(set(everything)) > 1:
            raise LookError(f"swap: several mappings put different sources onto \"all\" tracks: "
                            f"{sorted(set(everything))}")
        if everything:
            default = everything[0]
        return explicit, default

    # ---- models ------------------------------------------------------------------------------
    def _swapper(self, params: SwapParams) -> Any:
        key = ("swapper", params.model)
        if key not in self._models:
            from deage.edit.swap.inswapper import load_swapper

            self._models[key] = load_swapper(params.model, self.weights_dir, manifest=self.manifest,
                                             device=self.device)
        return self._models[key]

    def _latent(self, params: SwapParams, name: str) -> np.ndarray:
        key = (params.model, params.recognizer, name)
        if key not in self._latents:
            rkey = ("recognizer", params.recognizer)
            if rkey not in self._models:
                from deage.edit.swap.inswapper import load_recognizer

                self._models[rkey] = load_recognizer(params.recognizer, self.weights_dir, manifest=self.manifest,
                                                     device=self.device)
            source = self._sources[name]
            embedding = self._models[rkey].describe(source.image, source.face)
            self._latents[key] = self._swapper(params).latent(embedding)
        return self._latents[key]

    def _restorer(self, params: SwapParams) -> Any:
        key = ("restorer", params.restore)
        if key not in self._models:
            from deage.edit.swap.restore import load_restorer

            self._models[key] = load_restorer(params.restore, self.weights_dir, manifest=self.manifest,
                                              device=self.device)
        return self._models[key]

    # ---- queries -----------------------------------------------------------------------------
    @property
    def sources(self) -> dict[str, SourceFace]:
        """The loaded sources by name (after ``prepare``)."""
        return dict(self._sources)

    @property
    def assignments(self) -> dict[int, str]:
        """Track id -> source name for the explicitly mapped tracks (after ``prepare``)."""
        return dict(self._state.assignments) if self._state else {}

    def source_for(self, track_id: int | None) -> SourceFace | None:
        """The source that goes onto ``track_id`` (None: not mapped). With ``track_id`` None: the
        only source, or the one mapped onto "all" tracks."""
        if self._state is None:
            raise DeageError("the swap editor is not prepared: call prepare(look, analysis) first")
        if track_id is None:
            if len(self._sources) == 1:
                return next(iter(self._sources.values()))
            if self._state.default is not None:
                return self._sources[self._state.default]
            raise DeageError(f"swap: {len(self._sources)} sources; pass the face's track_id to pick one")
        name = self._state.assignments.get(int(track_id), self._state.default)
        return self._sources[name] if name is not None else None

    def provenance(self) -> dict[str, Any]:
        """What a render's provenance should record: the sources (files, hashes, consent), the
        resolved mappings and the models used."""
        if self._state is None:
            return {}
        models = []
        manifest = self.manifest
        for (role, name) in self._models:
            try:
                manifest = manifest or Manifest.load()
                models.append({"role": role, **manifest.provenance(name, self.weights_dir)})
            except Exception:  # provenance must never fail a finished render
                models.append({"role": role, "name": name})
        return {
            "swap_sources": [s.record() for s in self._sources.values()],
            "swap_mappings": {str(k): v for k, v in sorted(self._state.assignments.items())}
            | ({"*": self._state.default} if self._state.default else {}),
            "models": models,
        }

    # ---- editing -----------------------------------------------------------------------------
    def edit(
        self,
        aligned: AlignedFace,
        params: SwapParams | dict[str, Any] | None = None,
        parsing: dict[str, Mask] | None = None,
        *,
        track_id: int | None = None,
        motion: np.ndarray | None = None,
    ) -> EditResult:
        """Replace the face of ``aligned`` with the source mapped onto ``track_id``.

        Args:
            aligned: the target face in an FFHQ-aligned crop (RGB uint8 (S, S, 3)) with 68
                landmarks in crop pixels.
            params: ``SwapParams`` (or its dict); None = the prepared ones. Sources and mappings
                different from the prepared ones are loaded (consent checked) first.
            parsing: accepted for the Editor protocol; not used.
            track_id: the target's track; a track no mapping names comes back untouched (zero mask).
            motion: float (2,) crop pixels the face moves a frame (``FrameRenderer`` passes it
                from the analysis), for the motion blur of ``params.shutter``; None: still.

        Returns:
            EditResult: the swapped crop and its mask (float32 (S, S), 1 inside the face); review
            layers "face", "skin", "eyes", "mouth".
        """
        params = self._params(params)
        source = self.source_for(track_id)
        image = _check_crop(aligned)
        if source is None:
            return EditResult(image=image.copy(), mask=np.zeros(image.shape[:2], np.float32))
        return self.swap(aligned, source, params, motion)

    def _params(self, params: SwapParams | dict[str, Any] | None) -> SwapParams:
        if params is None:
            if self._state is None:
                raise DeageError("the swap editor is not prepared: call prepare(look, analysis) or pass params")
            return self._state.params
        if isinstance(params, dict):
            params = SwapParams.from_dict(params)
        elif not isinstance(params, SwapParams):
            raise LookError(f"swap: expected SwapParams, got {type(params).__name__}")
        state = self._state
        if state is None or (params.sources, params.mappings) != (state.params.sources, state.params.mappings):
            self._setup(params, state.base_dir if state else self.base_dir, state.look_consent if state else [])
        return params

    def swap(self, aligned: AlignedFace, source: SourceFace, params: SwapParams,
             motion: np.ndarray | None = None) -> EditResult:
        """Put ``source`` onto the face of ``aligned`` (no mapping involved); ``motion`` as in ``edit``."""
        image = _check_crop(aligned)
        landmarks = check_landmarks(aligned.landmarks, "the swap editor")
        size = image.shape[0]
        raster = min(size, max(128, size // 4))
        regions = swap_regions(landmarks, size, raster, forehead=params.forehead)
        teeth: Mask | None = None
        if params.backend == "inswapper":
            swapped, support = self._model_swap(aligned, source, params, regions)
            shows_face = np.ones((raster, raster), np.float32)
        else:
            core = _dilate_soft(regions.face, -0.3 * regions.eye_distance)
            gaze = estimate_gaze(image, landmarks).both() if params.eyes == "source" and params.gaze == "target" \
                else None
            # A broader smile than the plate's is warped from the photo with its folds smoothed.
            unsmile = params.folds * max(0.0, smile(source.landmarks) - smile(landmarks))
            swapped, shows_face, has_pixels, teeth = self._mesh_warp(aligned, source, raster, params.shape,
                                                                     params.symmetry, core, gaze, unsmile)
            support = regions.face * has_pixels
        # Over the forehead, keep to where both faces show skin: no source fringe pasted onto the
        # target, no target fringe painted over.
        plate = face_regions(image, landmarks, max(64, raster // 2))
        shows_face = shows_face * _up(skin_or_features(image, landmarks, plate.size, plate), raster)
        gate = 1.0 - regions.upper * (1.0 - np.clip(shows_face * 1.5 - 0.25, 0.0, 1.0))
        gate = cv2.GaussianBlur(gate, (0, 0), max(0.5, 0.03 * regions.eye_distance))
        if params.silhouette > 0:
            # Nor where the jaw line runs past the face the plate shows (hair, background).
            beyond = beyond_the_face(image, landmarks, regions.outline) * (1.0 - regions.upper)
            gate = gate * (1.0 - np.float32(params.silhouette) * beyond)
        support = (support * gate).astype(np.float32)
        swapped = _match_colour(image, swapped, regions.skin * shows_face, regions, params)
        if params.backend != "inswapper" and params.folds > 0:
            # A smile's folds follow the plate's expression, on the plate's skin (not its beard).
            amount = params.folds * smile_mismatch(source.landmarks, landmarks)
            if amount > 0:
                swapped = take_folds(image, swapped, landmarks, amount, _up(plate.skin, size))
        # The crop holds the swap over the face and a margin beyond its mask (the blend reaches
        # there), and the target elsewhere (so multi-band's low bands see the plate's colours).
        # Not above the forehead's gate, though: there the source shows hair (a fringe), whose
        # colour the blend's low bands would carry onto the plate's forehead.
        wide = _dilate_soft(support, 0.2 * regions.eye_distance) * gate
        keep = np.zeros((raster, raster), np.float32)
        if teeth is not None and params.mouth != "source":
            # The source's teeth are taken with its mouth's inside, never put on the plate's lips
            # (a broad smile's teeth squeezed into the corners of a narrower mouth: pale streaks).
            np.maximum(keep, np.clip(teeth * 1.5, 0.0, 1.0), out=keep)
        if params.eyes == "target":
            np.maximum(keep, regions.eyes, out=keep)
        glasses = (find_glasses(image, landmarks, worn=bool(params.wears_glasses))
                   if params.glasses > 0 and params.wears_glasses is not False else None)
        if params.glasses > 0:
            # Eyes behind dark lenses: the lenses stay, not the source's eyes painted over them.
            np.maximum(keep, dark_lenses(image, landmarks, raster, plate) * np.float32(params.glasses), out=keep)
        mouth = "interior" if params.mouth == "auto" and params.backend == "inswapper" else params.mouth
        if mouth == "auto":
            source_lm = source.landmarks * (size / source.aligned.size)
            lips = mouth_mismatch(source_lm, landmarks)
            np.maximum(keep, np.maximum(regions.mouth, regions.around_mouth * np.float32(lips)), out=keep)
            # A source's open mouth (a smile's teeth) closed by the warp left a line of its teeth
            # between the plate's closed lips: there the lips meet as the plate's do.
            closing = mouth_closing(source_lm, landmarks)
            if closing > 0:
                np.maximum(keep, _lips_meeting(regions) * np.float32(closing), out=keep)
                # What is left of the teeth beside that line: a filigree of thin lines, cleared.
                swapped = clear_teeth_line(swapped, regions, closing)
        elif mouth != "source":
            np.maximum(keep, regions.lips if mouth == "target" else regions.mouth, out=keep)
        take = np.clip(wide * (1.0 - keep), 0.0, 1.0)
        out = _mix(image, swapped, _up(take, size))
        if params.restore != NO_RESTORE and params.restore_amount > 0:
            restored = self._restorer(params).restore(out, params.restore_fidelity)
            out = _mix(out, restored, _up(take * np.float32(params.restore_amount), size))
        if params.shutter > 0 and motion is not None:
            out = _match_motion(image, out, take, np.asarray(motion, np.float64) * (params.shutter / 360.0))
        if params.focus > 0:  # after the motion blur: a moving plate's softness is partly that
            out = _match_focus(image, out, take, regions, params.focus)
        if glasses is not None and glasses.present > 0:
            # The plate's glasses stay on the new face (their arms beyond it are the plate's anyway).
            over = cv2.resize(glasses.frames, (size, size), interpolation=cv2.INTER_LINEAR) * _up(take, size)
            out = wear(out, image, over * np.float32(params.glasses), regions.eye_distance * size / raster,
                       by_colour=glasses.by_colour)
        mask = np.clip(_up(support, size), 0.0, 1.0)
        layers = {"face": support, "skin": regions.skin, "eyes": regions.eyes, "mouth": regions.mouth}
        return EditResult(image=out, mask=mask.astype(np.float32), layers=layers, content=swapped)

    def _mesh_warp(self, aligned: AlignedFace, source: SourceFace, raster: int, shape: float = 0.0,
                   symmetry: float = 0.0, core: Mask | None = None,
                   gaze: np.ndarray | None = None, unsmile: float = 0.0) -> tuple[Image, Mask, Mask, Mask]:
        """The source warped onto the target's landmarks (RGB uint8 (S, S, 3)) and, at ``raster``,
        where the warped source shows skin or features, where it has the photo's own pixels and
        where its teeth landed (``SourceFace.teeth``; float32 each).

        ``shape`` (0..1) moves the target's landmarks that far towards the source's face
        proportions (``mesh.reshaped``). ``symmetry`` (0..1): where the source is turned further
        than the target, the half of its face that is foreshortened is filled, that much, from the
        mirror image of its other half (soft symmetry), instead of being stretched, within ``core``
        (float32 at ``raster``; default everywhere): the face's outline keeps the source's own side.
        ``gaze`` (float (2,), ``deage.face.gaze.Gaze.u``): where the warped source's irises are
        moved to along its eyes (``deage.edit.swap.gaze``); None keeps the photo's gaze.
        ``unsmile`` (0..1): how far the photo's smile folds are smoothed first (``SourceFace.unsmiling``).
        """
        size = aligned.size
        packed = self._rgba.get(source.name)
        if packed is None:
            alpha = np.clip(source.skin * 255.0 + 0.5, 0, 255).astype(np.uint8)
            valid = np.clip(source.valid * 255.0 + 0.5, 0, 255).astype(np.uint8)
            teeth = np.clip(source.teeth * 255.0 + 0.5, 0, 255).astype(np.uint8)
            packed = self._rgba[source.name] = np.dstack([source.image, alpha, valid, teeth])
        if unsmile > 0:
            packed = packed.copy()
            packed[..., :3] = cv2.addWeighted(source.image, 1.0 - unsmile, source.unsmiling, unsmile, 0.0)
        target_lm = np.asarray(aligned.landmarks, np.float64)
        lm = reshaped(source.landmarks * (size / source.aligned.size), target_lm, shape)
        src_points = mesh_points(source.landmarks, source.aligned.size)
        dst_points = unfolded(mesh_points(lm, size), src_points, mesh_triangles())
        warped = self._remap(packed, src_points, dst_points, size)
        own = turn(source.landmarks)  # > 0: the source's image-right half is foreshortened in the photo
        excess = own - turn(target_lm)  # > 0: the source's image-right half is narrower than the target's
        # Only a half the photo itself foreshortens is worth filling from its other half: a frontal
        # photo's halves are alike, and the mirror image only brought its light from the wrong side
        # (grey patches on the far cheek of a turned plate).
        foreshortened = min(abs(excess), max(0.0, own * float(np.sign(excess))))
        amount = symmetry * float(np.clip((foreshortened - 0.15) / 0.3, 0.0, 1.0))
        covered = self._covered.get(source.name, False)
        if amount > 0 or covered:
            mirrored = self._remap(np.ascontiguousarray(packed[:, ::-1]),
                                   mesh_points(mirror_landmarks(source.landmarks, source.aligned.size),
                                               source.aligned.size), dst_points, size)
            # Only where the mirror image has the photo's own pixels.
            has_mirror = mirrored[..., 4].astype(np.float32) / np.float32(255.0)
            weight = np.zeros((size, size), np.float32)
            if amount > 0:
                side = midline_side(target_lm, size, 0.3 * FaceFrame.from_landmarks(target_lm).eye_distance)
                weight = (side if excess > 0 else 1.0 - side) * np.float32(amount) * has_mirror
                if core is not None:
                    weight = weight * _up(core, size)
            if covered:  # what covered the source's face: its other half, mirrored, where that is seen
                holes = np.float32(1.0) - warped[..., 4].astype(np.float32) / np.float32(255.0)
                weight = np.maximum(weight, holes * has_mirror)
            warped = _mix(warped, mirrored, weight)

        def small(channel: np.ndarray) -> Mask:
            return cv2.resize(channel, (raster, raster), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0

        rgb = np.ascontiguousarray(warped[..., :3])
        if gaze is not None and np.isfinite(gaze).any():
            rgb = redirect_gaze(rgb, lm, source.gaze.both(), gaze)
        return rgb, small(warped[..., 3]), small(warped[..., 4]), small(warped[..., 5])

    @staticmethod
    def _remap(packed: np.ndarray, src_points: np.ndarray, dst_points: np.ndarray, size: int) -> np.ndarray:
        """The 6-channel source (RGB, skin, valid, teeth) warped so its control points
        (``mesh_points`` in its pixels) land on ``dst_points``."""
        map_x, map_y = piecewise_affine_maps(dst_points, src_points, mesh_triangles(), size)
        colour = cv2.remap(np.ascontiguousarray(packed[..., :4]), map_x, map_y, cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REFLECT_101)
        marks = cv2.remap(np.ascontiguousarray(packed[..., 4:6]), map_x, map_y, cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        return np.dstack([colour, marks])

    def _model_swap(self, aligned: AlignedFace, source: SourceFace, params: SwapParams,
                    regions: SwapRegions) -> tuple[Image, Mask]:
        swapper = self._swapper(params)
        latent = self._latent(params, source.name)
        image, size = aligned.image, aligned.size
        n = 128 * params.detail
        to_arc = estimate_alignment(aligned.keypoints5, "arcface", n)
        arc_in = _warp_down(image, to_arc, n)
        arc_out = swapper.swap(arc_in, latent)
        back = cv2.warpAffine(arc_out, to_arc, (size, size), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)
        # Support: the model's crop with its edge pulled in by a tenth and softened (as insightface
        # does), kept to the face (hull with the forehead, widened) so hair and background stay the plate's.
        box = np.zeros((n, n), np.float32)
        e = max(2, n // 10)
        box[e:-e, e:-e] = 1.0
        box = cv2.GaussianBlur(box, (0, 0), n / 30.0, borderType=cv2.BORDER_CONSTANT)
        raster = regions.size
        f = raster / float(size)
        # raster pixel r -> crop pixel (r + 0.5) / f - 0.5 -> arcface crop pixel
        pre = np.array([[1.0 / f, 0.0, 0.5 / f - 0.5], [0.0, 1.0 / f, 0.5 / f - 0.5], [0.0, 0.0, 1.0]])
        raster_to_arc = np.asarray(to_arc, np.float64) @ pre
        support = cv2.warpAffine(box, raster_to_arc, (raster, raster), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        face = _dilate_soft(regions.face, 0.12 * regions.eye_distance)
        return back, np.clip(support * face, 0.0, 1.0).astype(np.float32)


# ---- helpers ------------------------------------------------------------------------------------
def dark_lenses(image: Image, landmarks: np.ndarray, raster: int, plate: FaceRegions | None = None) -> Mask:
    """float32 (raster, raster) in [0, 1]: the surroundings of each eye of the plate crop
    ``image`` (RGB uint8, 68 ``landmarks`` in its pixels) that a dark lens hides
    (``masks.hidden_eyes``), measured at ``EYES_RASTER`` (at the plate's 64 pixels a lens passed
    for skin; ``plate``, its ``face_regions`` already made, is used when made at that size).
    Where both eyes read as doubtful, they are a pair of lenses as dark as the darker."""
    around = plate if plate is not None and plate.size == EYES_RASTER else face_regions(image, landmarks, EYES_RASTER)
    seen = eyes_seen(around, landmarks)
    hidden = hidden_eyes(seen)
    if max(seen) < EYES_HIDDEN[0]:
        hidden = (max(hidden),) * 2
    if max(hidden) <= 0:
        return np.zeros((raster, raster), np.float32)
    lenses = np.maximum(*(side * np.float32(h) for side, h in zip(around_eyes(around, landmarks), hidden)))
    return cv2.resize(lenses, (raster, raster), interpolation=cv2.INTER_LINEAR).astype(np.float32)


def mouth_mismatch(source: np.ndarray, target: np.ndarray) -> float:
    """0..1: how much wider the target's mouth is open than the source's (0 = no wider, 1 = the
    target's wide open and the source's closed). Both are 68 landmarks in crops of the same size.

    Closed or smiling lips stretched over an open mouth look wrong (and carry the source's
    expression lines onto the target), so ``mouth="auto"`` keeps that much of the target's lips
    and the skin around them. The reverse, an open source mouth closed by the warp, keeps only
    the target's lips' meeting line (``mouth_closing``).
    """
    t = np.clip((mouth_opening(target) - mouth_opening(source) - 0.08) / 0.17, 0.0, 1.0)
    return float(t * t * (3.0 - 2.0 * t))


def mouth_closing(source: np.ndarray, target: np.ndarray) -> float:
    """0..1: how much wider the source's mouth is open than the target's (0 = no wider, 1 = by
    ``MOUTH_CLOSING[1]`` eye distances or more). The warp closes an open source mouth onto the
    target's closed one, but the source's teeth stay as a line between the lips: ``mouth="auto"``
    keeps that much of the target's lips' meeting line. Both are 68 landmarks, each in any
    crop (the openings are in eye distances)."""
    t = np.clip((mouth_opening(source) - mouth_opening(target) - MOUTH_CLOSING[0])
                / (MOUTH_CLOSING[1] - MOUTH_CLOSING[0]), 0.0, 1.0)
    return float(t * t * (3.0 - 2.0 * t))


def mouth_opening(landmarks: np.ndarray) -> float:
    """The gap between the inner lips (landmarks 61-63 and 65-67), in eye distances."""
    lm = np.asarray(landmarks, np.float64)
    d = float(np.linalg.norm(lm[42:48].mean(0) - lm[36:42].mean(0)))
    gap = np.linalg.norm(lm[[61, 62, 63]] - lm[[67, 66, 65]], axis=1).mean()
    return float(gap) / max(d, 1e-6)


def _lips_meeting(regions: SwapRegions, extent: tuple[float, float] = MOUTH_LINE) -> Mask:
    """The target's mouth opening (``regions.mouth``; a line for closed lips) grown ``extent`` eye
    distances along and across (the crop is upright: the mouth runs along its rows), softened."""
    along, across = (max(1, int(round(k * regions.eye_distance))) for k in extent)
    return _dilate_soft(regions.mouth, along, across)


def clear_teeth_line(swapped: Image, regions: SwapRegions, amount: float = 1.0) -> Image:
    """The swapped crop (RGB uint8 (S, S, 3)) with thin structure cleared from the band around
    where the target's lips meet (``TEETH_BAND`` eye distances along and across, within the lips):
    pixels ``TEETH_CONTRAST`` levels off their neighbourhood's median take that median, ``amount``
    (0..1) of the way (``mouth_closing``: how much wider the source's mouth is open). A smiling
    source's teeth closed by the warp onto closed lips leave a filigree of pale and dark lines
    there, one or two pixels wide; the lips' own colour and shading are wider and stay."""
    size = swapped.shape[0]
    lips = _dilate_soft(regions.lips, 0.03 * regions.eye_distance)
    band = _up(_lips_meeting(regions, TEETH_BAND) * lips, size)
    k = max(3, int(round(TEETH_MEDIAN * regions.eye_distance * size / regions.size)) | 1)
    box = padded_box(band, 0.02, k)
    if box is None:
        return swapped
    part = np.ascontiguousarray(swapped[box])
    median = cv2.medianBlur(part, k)
    off = np.abs(part.astype(np.int16) - median).max(-1).astype(np.float32)
    thin = cv2.GaussianBlur(cv2.dilate(smoothstep(off, *TEETH_CONTRAST), disk(1)), (0, 0), 0.7)
    out = swapped.copy()
    out[box] = _mix(part, median, np.clip(thin, 0.0, 1.0) * band[box] * np.float32(amount))
    return out


def _match_focus(plate: Image, out: Image, take: Mask, regions: SwapRegions, amount: float) -> Image:
    """``out`` (the crop with the new face, RGB uint8 (S, S, 3)) softened where it took the new face
    (``take``, float32 at the regions' raster) to the softness of ``plate``'s face, both measured
    within the face less a margin (``FOCUS_INSET``): ``deage.blend.focus``. The edge of what was
    taken (the forehead's gate, the plate's mouth kept) is softened as much, so no sharp seam is
    left in a soft face. The crop is returned as it is where the plate is as sharp as the new face."""
    size = plate.shape[0]
    inner = _up(_dilate_soft(regions.face, -FOCUS_INSET * regions.eye_distance), size) > 0.5
    soft, sigma = soften_to(out, plate, inner & (_up(take, size) > 0.9), inner, amount)
    if soft is out:
        return out
    return _taken(plate, soft, take, cv2.GaussianBlur(take, (0, 0), sigma * take.shape[0] / size))


def _match_motion(plate: Image, out: Image, take: Mask, travel: np.ndarray) -> Image:
    """``out`` (RGB uint8 (S, S, 3)) motion-blurred where it took the new face (``take``, float32 at
    the regions' raster) along ``travel`` (float (2,) crop pixels the face moved while the
    shutter was open), the edge of what it took smeared as much; as it is under ``MIN_BLUR``."""
    if float(np.hypot(*travel)) < MIN_BLUR:
        return out
    return _taken(plate, smear(out, travel), take, smear(take, travel * (take.shape[0] / plate.shape[0])))


def _taken(plate: Image, soft: Image, take: Mask, spread: Mask) -> Image:
    """``soft`` (the crop with the new face, blurred) where the face was taken (``take``) or the
    blur spread it (``spread``, both float32 at the regions' raster), ``plate`` elsewhere."""
    return _mix(plate, soft, _up(np.maximum(take, spread), plate.shape[0]))


def _check_crop(aligned: AlignedFace) -> Image:
    image = aligned.image
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 \
            or image.shape[0] != image.shape[1] or image.shape[0] < 64:
        raise DeageError(f"the swap editor needs a square RGB uint8 crop of at least 64 px, got "
                         f"{getattr(image, 'shape', None)} {getattr(image, 'dtype', None)}")
    return image


def _up(mask: Mask, size: int) -> Mask:
    if mask.shape[0] == size:
        return mask
    return cv2.resize(mask, (size, size), interpolation=cv2.INTER_LINEAR)


def _mix(base: Image, top: Image, alpha: Mask) -> Image:
    a = alpha.astype(np.float32)[..., None]
    out = base.astype(np.float32) + (top.astype(np.float32) - base.astype(np.float32)) * a
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _dilate_soft(mask: Mask, radius: float, across: float | None = None) -> Mask:
    """Grow (``radius`` > 0) or shrink (< 0) a soft mask by ``|radius|`` pixels (by ``|across|``
    down the columns when given: an ellipse), then soften it by a third of the distance across."""
    r = int(round(abs(radius)))
    if r < 1:
        return mask
    a = r if across is None else int(round(abs(across)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * a + 1))
    op = cv2.dilate if radius > 0 else cv2.erode
    moved = op(mask, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    sigma = abs(radius if across is None else across) / 3.0
    return cv2.GaussianBlur(moved, (0, 0), max(0.5, sigma), borderType=cv2.BORDER_CONSTANT)


def _match_colour(target: Image, swapped: Image, skin: Mask, regions: SwapRegions, params: SwapParams) -> Image:
    """``swapped`` with its skin tone and light matched to ``target``'s (``params.colour``), measured
    where ``skin`` (float32 at the regions' raster) is high; on a plate without colour, its
    features' colour taken away too (``deage.edit.swap.colour.desaturate``)."""
    if params.colour <= 0:
        return swapped
    size = target.shape[0]
    grid = min(_COLOUR_GRID, size)
    t = cv2.resize(target, (grid, grid), interpolation=cv2.INTER_AREA).astype(np.float32)
    s = cv2.resize(swapped, (grid, grid), interpolation=cv2.INTER_AREA).astype(np.float32)
    skin = cv2.resize(skin, (grid, grid), interpolation=cv2.INTER_AREA)
    eye = regions.eye_distance * grid / float(regions.size)  # eye distance in grid pixels
    light = max(params.light_scale * eye, 0.5)
    # The skin's tint at a quarter of an eye distance: finer, it printed the plate's own colour
    # patches onto the new face (a grey nose where the plate's was lit white, the amber of a pair
    # of glasses round the eyes).
    gain = light_gain(t, s, skin, light, min(0.25 * eye, light), params.colour)
    gain = cv2.resize(gain, (size, size), interpolation=cv2.INTER_LINEAR)
    matched = np.clip(swapped.astype(np.float32) * gain + 0.5, 0, 255).astype(np.uint8)
    # A plate without colour takes the lips' and eyes' colour too, not just the skin's.
    keep = 1.0 - params.colour * (1.0 - plate_colour(t))
    return desaturate(matched, skin, keep, max(0.5, 0.3 * eye), plate=t)


def _warp_down(image: Image, matrix: np.ndarray, n: int) -> Image:
    """``cv2.warpAffine`` of ``image`` into an (n, n) crop, pre-shrinking with area averaging when
    the matrix shrinks by more than 1.5x (a plain bilinear warp would alias)."""
    scale = affine_scale(matrix)
    m = np.asarray(matrix, np.float64)
    src = image
    if scale < 1.0 / 1.5:
        size = image.shape[0]
        small = max(n, int(round(size * scale * 1.25)))
        f = small / float(size)
        src = cv2.resize(image, (small, small), interpolation=cv2.INTER_AREA)
        # small pixel x' = (x + 0.5) f - 0.5  ->  x = (x' + 0.5) / f - 0.5
        pre = np.array([[1.0 / f, 0.0, 0.5 / f - 0.5], [0.0, 1.0 / f, 0.5 / f - 0.5], [0.0, 0.0, 1.0]])
        m = m @ pre
    return cv2.warpAffine(src, m, (n, n), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
