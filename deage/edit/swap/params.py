"""The swap editor's parameters (the Look's ``edit`` section): sources, mappings, consent, controls.

Example ``edit`` section::

    {
      "sources": {
        "anna": {"photo": "anna.jpg",
                 "consent": {"name": "Anna K.", "reference": "release form 2024-117"}},
        "ben": {"clip": "ben_plate.mov", "frame": 120, "face": "largest",
                "consent": {"id": "talent-0042", "reference": "contract BK-9, clause 4"}}
      },
      "mappings": [
        {"source": "anna", "tracks": [1]},
        {"source": "ben", "reference": "ben_on_set.jpg"}
      ],
      "eyes": "source", "gaze": "target", "mouth": "auto", "shape": 0.5, "colour": 1.0
    }

A source is a face in a photo (``"photo"``) or in one frame of another clip (``"clip"`` +
``"frame"``, 0-based). Paths are plain paths (relative ones to the look file's folder) or
``"pkg:<package>/<path inside it>"`` for a file shipped in an installed package, e.g.
``"pkg:skimage/astronaut"`` (the extension may be left out) or
``"pkg:insightface/data/images/t1.jpg"``. When the image holds several faces, ``"face"`` picks
one: ``"largest"`` or an index counted left to right from 0.

Every source carries a consent record: the person's ``name`` or ``id`` and a ``reference`` to
where their consent is filed (other keys such as ``date`` or ``scope`` are kept as given). The
record may sit in the source (``"consent": {...}``) or in the Look's top-level ``consent`` list
with ``"source": "<name>"``. A render with a source that has no complete record stops with a
``ConsentError``; the records travel into the render's provenance sidecar with the Look.

A mapping puts a source onto target tracks: ``"tracks"`` is ``"all"``, ``"largest"``, a track id
or a list of ids; ``"reference"`` is a photo of the target person (their tracks are found by
descriptor distance). A track claimed by two mappings is an error, except that ``"all"`` only
takes the tracks no other mapping names. With one source and no mappings, it goes onto every
selected track.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from deage.errors import ConsentError, LookError

BACKENDS = ("embedded", "inswapper")
EYES = ("target", "source")
GAZES = ("target", "source")
MOUTHS = ("auto", "target", "interior", "source")
DETAILS = (1, 2, 4)
NO_RESTORE = "none"
_CONSENT_ID_KEYS = ("name", "id")

_RANGES: dict[str, tuple[float, float]] = {
    "colour": (0.0, 1.0),
    "shape": (0.0, 1.0),
    "symmetry": (0.0, 1.0),
    "light_scale": (0.1, 2.0),
    "folds": (0.0, 1.0),
    "focus": (0.0, 1.0),
    "shutter": (0.0, 360.0),
    "forehead": (0.0, 1.0),
    "silhouette": (0.0, 1.0),
    "glasses": (0.0, 1.0),
    "restore_amount": (0.0, 1.0),
    "restore_fidelity": (0.0, 1.0),
}


@dataclass(frozen=True)
class ConsentRecord:
    """Consent of the person whose identity a source carries.

    Attributes:
        name: the person's name (or leave empty and give ``id``).
        id: an identifier of the person (talent id, record number).
        reference: where the consent is filed (release form, contract clause, URL).
        extra: any further fields kept as given (``date``, ``scope``, ``expires``, ``notes``...).
    """

    name: str = ""
    id: str = ""
    reference: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """True when the record names the person (name or id) and a consent reference."""
        return bool((self.name.strip() or self.id.strip()) and self.reference.strip())

    @property
    def who(self) -> str:
        return self.name.strip() or self.id.strip()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConsentRecord:
        extra = {k: v for k, v in data.items() if k not in ("name", "id", "reference", "source")}
        return cls(name=_text(data.get("name")), id=_text(data.get("id")), reference=_text(data.get("reference")),
                   extra=extra)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.name:
            out["name"] = self.name
        if self.id:
            out["id"] = self.id
        out["reference"] = self.reference
        out.update(self.extra)
        return out


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


@dataclass(frozen=True)
class SourceSpec:
    """Where one source identity comes from (see the module docstring).

    Attributes:
        name: the key the mappings use.
        photo: image path (plain or ``pkg:``), or None when ``clip`` is given.
        clip: clip or image-sequence path, or None.
        frame: the frame of ``clip`` (0-based).
        face: which face of the image: None (there must be exactly one), ``"largest"``, or an index
            counted left to right from 0.
        consent: the raw consent record as written in the Look, or None.
    """

    name: str
    photo: str | None = None
    clip: str | None = None
    frame: int = 0
    face: str | int | None = None
    consent: dict[str, Any] | None = None

    @property
    def path(self) -> str:
        return self.photo if self.photo is not None else str(self.clip)

    @classmethod
    def from_dict(cls, name: str, data: Any) -> SourceSpec:
        where = f"swap: sources.{name}"
        if not isinstance(data, dict):
            raise LookError(f"{where} must be an object with \"photo\" or \"clip\", got {data!r}")
        known = ("photo", "clip", "frame", "face", "consent")
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise LookError(f"{where}: unknown key {unknown[0]!r}; known: {list(known)}")
        photo, clip = data.get("photo"), data.get("clip")
        if (photo is None) == (clip is None):
            raise LookError(f"{where} needs exactly one of \"photo\" (an image) or \"clip\" (+ \"frame\")")
        for key, value in (("photo", photo), ("clip", clip)):
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise LookError(f"{where}.{key} must be a path string, got {value!r}")
        frame = data.get("frame", 0)
        if photo is not None and "frame" in data:
            raise LookError(f"{where}: \"frame\" goes with \"clip\", not with \"photo\"")
        if isinstance(frame, bool) or not isinstance(frame, int) or frame < 0:
            raise LookError(f"{where}.frame must be a frame index >= 0, got {frame!r}")
        face = data.get("face")
        if face is not None and face != "largest" and (isinstance(face, bool) or not isinstance(face, int) or face < 0):
            raise LookError(f"{where}.face must be \"largest\" or a face index >= 0 (left to right), got {face!r}")
        consent = data.get("consent")
        if consent is not None and not isinstance(consent, dict):
            raise LookError(f"{where}.consent must be an object {{\"name\" or \"id\", \"reference\"}}, got {consent!r}")
        return cls(name=name, photo=photo, clip=clip, frame=int(frame), face=face,
                   consent=dict(consent) if consent is not None else None)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"photo": self.photo} if self.photo is not None else {"clip": self.clip,
                                                                                    "frame": self.frame}
        if self.face is not None:
            out["face"] = self.face
        if self.consent is not None:
            out["consent"] = dict(self.consent)
        return out


@dataclass(frozen=True)
class Mapping:
    """One source onto target tracks: by ``tracks`` ("all", "largest" or ids) or by a ``reference`` photo."""

    source: str
    tracks: str | tuple[int, ...] | None = "all"
    reference: str | None = None

    @classmethod
    def from_dict(cls, index: int, data: Any, sources: tuple[str, ...]) -> Mapping:
        where = f"swap: mappings[{index}]"
        if not isinstance(data, dict):
            raise LookError(f"{where} must be an object {{\"source\", \"tracks\" or \"reference\"}}, got {data!r}")
        unknown = sorted(set(data) - {"source", "tracks", "reference"})
        if unknown:
            raise LookError(f"{where}: unknown key {unknown[0]!r}; known: ['reference', 'source', 'tracks']")
        source = data.get("source")
        if source not in sources:
            raise LookError(f"{where}.source {source!r} is not one of the sources {list(sources)}")
        if "tracks" in data and "reference" in data:
            raise LookError(f"{where} takes \"tracks\" or \"reference\", not both")
        if "reference" in data:
            ref = data["reference"]
            if not isinstance(ref, str) or not ref.strip():
                raise LookError(f"{where}.reference must be the path of a photo of the target person, got {ref!r}")
            return cls(source=source, tracks=None, reference=ref)
        tracks = data.get("tracks", "all")
        if isinstance(tracks, int) and not isinstance(tracks, bool):
            tracks = [tracks]
        if tracks in ("all", "largest"):
            return cls(source=source, tracks=tracks)
        if isinstance(tracks, list) and tracks and all(isinstance(t, int) and not isinstance(t, bool) and t >= 1
                                                       for t in tracks):
            return cls(source=source, tracks=tuple(sorted(set(tracks))))
        raise LookError(f"{where}.tracks must be \"all\", \"largest\", a track id or a list of ids (>= 1), "
                        f"got {tracks!r}")

    def to_dict(self) -> dict[str, Any]:
        if self.reference is not None:
            return {"source": self.source, "reference": self.reference}
        return {"source": self.source, "tracks": self.tracks if isinstance(self.tracks, str) else list(self.tracks)}


@dataclass(frozen=True)
class SwapParams:
    """Parameters of the face-swap editor (the Look's ``edit`` section; see the module docstring).

    Attributes:
        sources: the source identities (``SourceSpec``), in the Look's order.
        mappings: which source goes onto which target tracks (``Mapping``).
        backend: ``"embedded"`` (mesh warp, no weights) or ``"inswapper"`` (inswapper_128 ONNX).
        eyes: ``"source"`` takes the eyes from the source (lids follow the target's, the irises
            are the source's); ``"target"`` keeps the target's eye openings (the plate's eyes).
        gaze: with the source's eyes, where they look: ``"target"`` moves the source's irises
            along the eyes to where the plate's irises are, frame by frame (the performance's
            gaze; ``deage.edit.swap.gaze``); ``"source"`` keeps the photo's gaze. Embedded
            backend only (a model swapper makes its own eyes).
        mouth: ``"auto"`` keeps the target's mouth interior (teeth, tongue), and also its lips and
            the skin around them as far as the two mouths differ in opening (a smiling source on
            a shouting target); ``"interior"`` always just the interior; ``"target"`` lips and
            interior; ``"source"`` nothing of the target's mouth.
        shape: 0..1, how far the target's face takes the source's proportions (nose, eye
            corners, brows, jaw width; never the lids' opening, nor the mouth: ``mesh.shape_offsets``):
            identity lives in shape as much as in texture (dlib identity margin over the 21 test
            pairs 0.07 / 0.10 / 0.14 / 0.18 at 0 / 0.25 / 0.5 / 1). 0 keeps the target's shape
            exactly. Embedded backend only.
        symmetry: 0..1; where the source photo is turned further than the target, the half of the
            source face foreshortened by the turn is filled that much from the mirror image of its
            other half (soft symmetry) instead of being stretched. 0 never mirrors (keeps
            asymmetric marks on their side). Embedded backend only.
        colour: 0..1, how far the source's skin tone and light are matched to the target's.
        light_scale: 0.1..2 eye distances; shading broader than this comes from the target (the
            skin's colour is matched at a quarter of an eye distance whatever this is).
        folds: 0..1; where the source photo and the plate smile differently, how far the
            swapped face takes the plate's shading of a smile's folds (from the nose's wings past
            the mouth's corners, ``deage.edit.swap.folds``): a smiling photo's folds on a straight
            face, or none on a grin, read as the wrong expression. Where the photo smiles more
            than the plate, it is warped with its folds smoothed (``SourceFace.unsmiling``) that
            far too: squeezed onto a narrower mouth they were sharp lines. Embedded backend only.
        focus: 0..1; how far the new face is softened to the plate's own face where the plate is
            softer (out of focus, a soft lens, compression; ``deage.blend.focus``): 1 matches the
            softness of their strongest edges, 0 keeps the face as sharp as its photo.
        shutter: 0..360 degrees, the plate camera's shutter angle: the new face is motion-blurred
            along the face's own movement (its tracked landmarks) by that fraction of the
            movement between frames (180: half, most cinema cameras; phones vary with the
            light). 0 adds none (a still photo's face on a moving head stays crisp).
        forehead: 0..1 eye distances; how far above the brows the replacement reaches.
        silhouette: 0..1; where the landmarks' jaw line runs past the face the plate shows (a
            turned or tilted head, hair over a cheek, someone in front), how far the side band of
            the replacement (its outer 0.35 eye distances) is given back to the plate
            (``deage.edit.swap.silhouette``). 0 keeps to the landmarks' outline.
        glasses: 0..1; how far the plate's glasses stay over the new face: frames with a dark
            bridge over the nose (``deage.face.glasses``), and dark lenses that hide the eyes
            (``deage.face.masks.hidden_eyes``); 0 takes them off with the face.
        wears_glasses: whether the plate's face wears glasses with frames: None looks for them on
            each frame; True looks more keenly (a fainter, thinner bridge also counts); False
            never looks (dark lenses are still kept). A render sets it per face track where it is
            None, from the track's best-seen frames (``deage.face.glasses.measure_tracks``).
        model: manifest name of the swapper model (inswapper backend).
        recognizer: manifest name of the ArcFace model that embeds the source (inswapper backend).
        detail: 1, 2 or 4: run the 128-pixel swapper on 1, 4 or 16 interleaved sub-images of a
            128, 256 or 512 crop (more detail, that many times slower).
        restore: ``"none"`` or the manifest name of a face restorer (a GFPGAN or CodeFormer ONNX).
        restore_amount: 0..1 blend of the restored face over the swapped one.
        restore_fidelity: 0..1, CodeFormer's fidelity weight w (1 = closest to its input).
    """

    sources: tuple[SourceSpec, ...] = ()
    mappings: tuple[Mapping, ...] = ()
    backend: str = "embedded"
    eyes: str = "source"
    gaze: str = "target"
    mouth: str = "auto"
    shape: float = 0.5
    symmetry: float = 1.0
    colour: float = 1.0
    light_scale: float = 0.5
    folds: float = 1.0
    focus: float = 1.0
    shutter: float = 0.0
    forehead: float = 0.3
    silhouette: float = 1.0
    glasses: float = 1.0
    wears_glasses: bool | None = None
    model: str = "inswapper_128"
    recognizer: str = "arcface_w600k_r50"
    detail: int = 1
    restore: str = NO_RESTORE
    restore_amount: float = 0.5
    restore_fidelity: float = 0.7

    KEYS = ("sources", "mappings", "backend", "eyes", "gaze", "mouth", "shape", "symmetry", "colour", "light_scale",
            "folds", "focus", "shutter", "forehead", "silhouette", "glasses", "wears_glasses", "model", "recognizer",
            "detail", "restore", "restore_amount", "restore_fidelity")

    def source(self, name: str) -> SourceSpec:
        for spec in self.sources:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def source_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.sources)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SwapParams:
        """Build from a Look's ``edit`` section.

        Raises:
            LookError: an unknown key, a missing or malformed source or mapping, or a value out of
                range; the message names the key.
        """
        if not isinstance(data, dict):
            raise LookError(f"swap: parameters must be an object, got {type(data).__name__}")
        unknown = sorted(set(data) - set(cls.KEYS))
        if unknown:
            raise LookError(f"swap: unknown parameter {unknown[0]!r}; known: {sorted(cls.KEYS)}")
        raw_sources = data.get("sources")
        if not isinstance(raw_sources, dict) or not raw_sources:
            raise LookError("swap: 'sources' must be an object naming at least one source face, e.g. "
                            "{\"anna\": {\"photo\": \"anna.jpg\", \"consent\": {\"name\": ..., \"reference\": ...}}}")
        sources = tuple(SourceSpec.from_dict(str(name), spec) for name, spec in raw_sources.items())
        names = tuple(s.name for s in sources)
        raw_maps = data.get("mappings")
        if raw_maps is None:
            if len(sources) > 1:
                raise LookError(f"swap: {len(sources)} sources {list(names)} and no 'mappings': say which source "
                                "goes onto which tracks, e.g. [{\"source\": \"anna\", \"tracks\": [1]}]")
            mappings: tuple[Mapping, ...] = (Mapping(source=names[0], tracks="all"),)
        elif not isinstance(raw_maps, list) or not raw_maps:
            raise LookError(f"swap: 'mappings' must be a non-empty list, got {raw_maps!r}")
        else:
            mappings = tuple(Mapping.from_dict(i, m, names) for i, m in enumerate(raw_maps))
        kwargs: dict[str, Any] = {}
        for key, choices in (("backend", BACKENDS), ("eyes", EYES), ("gaze", GAZES), ("mouth", MOUTHS)):
            if key in data:
                if data[key] not in choices:
                    raise LookError(f"swap: {key!r} must be one of {list(choices)}, got {data[key]!r}")
                kwargs[key] = data[key]
        for key in ("model", "recognizer", "restore"):
            if key in data:
                if not isinstance(data[key], str) or not data[key].strip():
                    raise LookError(f"swap: {key!r} must be a model name from weights/manifest.toml, got {data[key]!r}")
                kwargs[key] = data[key].strip()
        if "detail" in data:
            detail = data["detail"]
            if isinstance(detail, float) and detail.is_integer():
                detail = int(detail)
            if isinstance(detail, bool) or detail not in DETAILS:
                raise LookError(f"swap: 'detail' must be one of {list(DETAILS)}, got {detail!r}")
            kwargs["detail"] = int(detail)
        for key, (lo, hi) in _RANGES.items():
            if key in data:
                kwargs[key] = _number(key, data[key], lo, hi)
        if data.get("wears_glasses") is not None:
            if not isinstance(data["wears_glasses"], bool):
                raise LookError(f"swap: 'wears_glasses' must be true, false or null, got {data['wears_glasses']!r}")
            kwargs["wears_glasses"] = data["wears_glasses"]
        return cls(sources=sources, mappings=mappings, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict that ``from_dict`` reads back to an equal ``SwapParams``."""
        out: dict[str, Any] = {
            "sources": {s.name: s.to_dict() for s in self.sources},
            "mappings": [m.to_dict() for m in self.mappings],
        }
        defaults = SwapParams()
        for key in self.KEYS[2:]:
            value = getattr(self, key)
            if value != getattr(defaults, key):
                out[key] = value
        return out


def consent_for(spec: SourceSpec, look_consent: list[dict[str, Any]] | None = None) -> ConsentRecord:
    """The complete consent record of source ``spec``, from the source itself or the Look's ``consent`` list.

    Raises:
        ConsentError: no record, or one without the person's name/id or without a consent reference;
            the message names the source and its file.
    """
    found: list[dict[str, Any]] = []
    if spec.consent is not None:
        found.append(spec.consent)
    for entry in look_consent or []:
        if isinstance(entry, dict) and entry.get("source") == spec.name:
            found.append(entry)
    records = [ConsentRecord.from_dict(r) for r in found]
    for record in records:
        if record.complete:
            return record
    how = ("add \"consent\": {\"name\" (or \"id\"): ..., \"reference\": <where the signed consent is filed>} to it; "
           "a face may only be replaced with the consent of the person whose identity is used")
    if not records:
        raise ConsentError(f"swap source {spec.name!r} has no consent record: {how}", spec.path)
    missing = "a consent reference" if (records[0].name or records[0].id) else "the person's name or id"
    raise ConsentError(f"swap source {spec.name!r}: its consent record lacks {missing}: {how}", spec.path)


def _number(name: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise LookError(f"swap: {name!r} must be a number in {lo:g}..{hi:g}, got {value!r}")
    if not lo <= value <= hi:
        raise LookError(f"swap: {name!r} = {value:g} is out of range {lo:g}..{hi:g}")
    return float(value)
