"""The Look: every artistic parameter of a shot, validated on load, saved as JSON, with keyframes.

A Look names an editor (``"identity"``, ``"makeup"``, a learned editor, ``"swap"``), holds one
section of parameters per stage (``edit``, ``blend``), says which faces to touch, and may carry
keyframes: ``{"edit.years": [[0, 0.0], [48, 20.0]]}`` means the value at frame 0 is 0, at 48 is 20,
linearly interpolated in between and held before the first / after the last key.

Renders are a pure function of (clip, analysis, Look): the same inputs give the same pixels.
"""

from __future__ import annotations

import copy
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deage.errors import LookError
from deage.face.learned_masks import validate_masks
from deage.safe_write import atomic_output

LOOK_VERSION = 1
_SECTIONS = ("edit", "blend")
IDENTITY = "identity"
"""The editor name (and the CLI's ``--look`` word) for a pass-through render that changes nothing."""
_TOP_KEYS = {"version", "name", "editor", "faces", "edit", "blend", "masks", "keyframes", "notes", "consent", "burn_in"}


@dataclass
class Look:
    """Artistic parameters of a shot.

    Attributes:
        editor: editor name (see ``deage.edit.registry.EDITORS``).
        edit: the editor's parameters (validated by the editor's own params class).
        blend: compositing parameters (``deage.blend`` ``BlendParams`` fields).
        faces: which tracks to edit: ``"all"``, ``"largest"``, a list of track ids, or
            ``{"reference": "photo.jpg"}`` (the person closest to that photo).
        masks: the mask stage's model backends, ``{"parser": NAME, "occluder": NAME}`` (either
            may be left out; ``deage.face.learned_masks``); empty: the embedded skin-colour model.
        keyframes: ``"section.key"`` -> list of ``[frame, value]`` pairs, frames ascending.
        burn_in: draw a visible "AI-altered" label on every output frame.
    """

    editor: str = IDENTITY
    edit: dict[str, Any] = field(default_factory=dict)
    blend: dict[str, Any] = field(default_factory=dict)
    faces: Any = "all"
    masks: dict[str, Any] = field(default_factory=dict)
    keyframes: dict[str, list[list[float]]] = field(default_factory=dict)
    name: str = ""
    notes: str = ""
    consent: list[dict[str, Any]] = field(default_factory=list)
    burn_in: bool = False
    folder: Path | None = field(default=None, compare=False, repr=False)
    """The folder of the look file it was loaded from: relative paths in the look resolve against it."""

    def resolve_path(self, path: str | Path) -> Path:
        """``path`` as written in the look, made absolute against the look file's folder."""
        p = Path(path).expanduser()
        return p if p.is_absolute() or self.folder is None else self.folder / p

    # ---- serialisation -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "version": LOOK_VERSION,
            "name": self.name,
            "editor": self.editor,
            "faces": copy.deepcopy(self.faces),
            "edit": copy.deepcopy(self.edit),
            "blend": copy.deepcopy(self.blend),
            **({"masks": dict(self.masks)} if self.masks else {}),
            "keyframes": copy.deepcopy(self.keyframes),
            "consent": copy.deepcopy(self.consent),
            "burn_in": self.burn_in,
            "notes": self.notes,
        }

    @classmethod
    def from_dict(cls, data: Any, source: str | Path | None = None) -> Look:
        """Build and validate a Look from parsed JSON; raises LookError naming the bad key."""
        if not isinstance(data, dict):
            raise LookError("a look must be a JSON object", source)
        unknown = set(data) - _TOP_KEYS
        if unknown:
            raise LookError(f"unknown key(s) {sorted(unknown)}; allowed: {sorted(_TOP_KEYS)}", source)
        version = data.get("version", LOOK_VERSION)
        if version != LOOK_VERSION:
            raise LookError(f"look version {version!r} is not supported (this deage reads version {LOOK_VERSION})", source)
        for section in _SECTIONS:
            if not isinstance(data.get(section, {}), dict):
                raise LookError(f"'{section}' must be an object", source)
        look = cls(
            editor=str(data.get("editor", IDENTITY)),
            edit=dict(data.get("edit", {})),
            blend=dict(data.get("blend", {})),
            faces=data.get("faces", "all"),
            masks=validate_masks(data.get("masks"), source),
            keyframes=_validate_keyframes(data.get("keyframes", {}), source),
            name=str(data.get("name", "")),
            notes=str(data.get("notes", "")),
            consent=list(data.get("consent", [])),
            burn_in=bool(data.get("burn_in", False)),
        )
        _validate_faces(look.faces, source)
        look.validate(source)
        return look

    def validate(self, source: str | Path | None = None) -> None:
        """Check the editor name and every section against the stage's own parameter classes (and
        the ``masks`` section's form; its model names are checked when a renderer builds them)."""
        from deage.blend.params import BlendParams
        from deage.edit.registry import editor_spec

        try:
            spec = editor_spec(self.editor)
        except KeyError as exc:
            raise LookError(str(exc.args[0]), source) from None
        try:
            spec.params_from_dict(self.at(0).edit)
            BlendParams.from_dict(self.at(0).blend)
        except LookError as exc:
            raise LookError(str(exc), source) from None
        validate_masks(self.masks, source)

    def set_mask(self, key: str, name: str | None) -> None:
        """Name the model of ``masks.<key>`` ("parser" / "occluder"); None or "" removes it."""
        self.masks = {k: v for k, v in self.masks.items() if k != key}
        if name:
            self.masks[key] = name
        validate_masks(self.masks)

    # ---- keyframes -----------------------------------------------------------------------------
    def at(self, frame: int) -> Look:
        """This look with every keyframed value resolved at ``frame`` (a new Look, keyframes kept)."""
        resolved = copy.deepcopy(self)
        for key, keys in self.keyframes.items():
            section, _, name = key.partition(".")
            getattr(resolved, section)[name] = interpolate(keys, frame)
        return resolved

    def set_key(self, key: str, frame: int, value: float) -> None:
        """Set (or replace) the key of ``key`` ("edit.years") at ``frame``."""
        keys = [k for k in self.keyframes.get(key, []) if int(k[0]) != int(frame)]
        keys.append([int(frame), float(value)])
        self.keyframes[key] = sorted(keys, key=lambda k: k[0])

    def remove_key(self, key: str, frame: int) -> None:
        keys = [k for k in self.keyframes.get(key, []) if int(k[0]) != int(frame)]
        if keys:
            self.keyframes[key] = keys
        else:
            self.keyframes.pop(key, None)

    def keyed_frames(self) -> list[int]:
        """Every frame that holds a key, ascending (for the scrubber's marks)."""
        return sorted({int(k[0]) for keys in self.keyframes.values() for k in keys})


def interpolate(keys: list[list[float]], frame: float) -> float:
    """Linear interpolation of ``[[frame, value], ...]`` (ascending) at ``frame``; held outside."""
    if frame <= keys[0][0]:
        return float(keys[0][1])
    for (f0, v0), (f1, v1) in zip(keys, keys[1:]):
        if frame <= f1:
            t = (frame - f0) / (f1 - f0)
            return float(v0 + (v1 - v0) * t)
    return float(keys[-1][1])


def _validate_keyframes(data: Any, source: str | Path | None) -> dict[str, list[list[float]]]:
    if not isinstance(data, dict):
        raise LookError("'keyframes' must be an object of 'section.param': [[frame, value], ...]", source)
    out: dict[str, list[list[float]]] = {}
    for key, keys in data.items():
        section, _, name = str(key).partition(".")
        if section not in _SECTIONS or not name:
            raise LookError(f"keyframe key {key!r} must be 'edit.<param>' or 'blend.<param>'", source)
        if not isinstance(keys, list) or not keys:
            raise LookError(f"keyframes {key!r} must be a non-empty list of [frame, value]", source)
        clean = []
        for k in keys:
            if (
                not isinstance(k, (list, tuple))
                or len(k) != 2
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in k)
                or not all(math.isfinite(x) for x in k)
            ):
                raise LookError(f"keyframes {key!r}: {k!r} is not a [frame, value] pair of numbers", source)
            clean.append([int(k[0]), float(k[1])])
        frames = [k[0] for k in clean]
        if frames != sorted(set(frames)):
            raise LookError(f"keyframes {key!r}: frames must be ascending and unique, got {frames}", source)
        out[str(key)] = clean
    return out


def _validate_faces(faces: Any, source: str | Path | None) -> None:
    if faces in ("all", "largest"):
        return
    if isinstance(faces, list) and faces and all(isinstance(t, int) and not isinstance(t, bool) for t in faces):
        return
    if isinstance(faces, dict) and set(faces) == {"reference"} and isinstance(faces["reference"], str):
        return
    raise LookError(
        f"'faces' must be \"all\", \"largest\", a list of track ids or {{\"reference\": \"photo.jpg\"}}, got {faces!r}",
        source,
    )


def default_look() -> Look:
    """The look used where none is given (CLI, ``render_clip``, ``render_image``, the studio): the
    embedded de-ager, ten years younger; the same as ``examples/looks/young10.json``."""
    return Look(editor="makeup", edit={"years": 10}, blend={"mode": "multiband", "feather": 8},
                name="10 years younger",
                notes="The default look: ten years off through the preset curve (texture, tone and a touch of shape).")


_YEARS_NAME = re.compile(r"\d+(\.\d+)? years younger")
"""A look name that only states its years (the presets' and ``with_years``' own)."""


def with_years(look: Look, years: float) -> Look:
    """A copy of a makeup ``look`` at ``years`` younger (0-30): ``edit.years`` replaced, every other
    setting kept; named "N years younger" (a look named for its own years is renamed, any other
    name is kept in front).

    Raises:
        LookError: the look uses another editor, keyframes ``edit.years``, or ``years`` is out of range.
    """
    return _with_makeup_value(look, "years", years, "years apply", f"{years:g} years younger")


def with_target_age(look: Look, age: float) -> Look:
    """A copy of a makeup ``look`` making every face look ``age`` years old (1-80): ``edit.target_age``
    set (each face then gets as many years as it looks older than that, see ``MakeupParams``),
    every other setting kept; named "looks N" as ``with_years`` names its looks.

    Raises:
        LookError: the look uses another editor, keyframes ``edit.target_age``, or ``age`` is out of range.
    """
    return _with_makeup_value(look, "target_age", age, "a target age applies", f"looks {age:g}")


def _with_makeup_value(look: Look, key: str, value: float, what: str, label: str) -> Look:
    if look.editor != "makeup":
        raise LookError(f"{what} to the makeup editor; this look uses the {look.editor!r} editor")
    if f"edit.{key}" in look.keyframes:
        raise LookError(f"this look keyframes edit.{key}; change its keyframes instead of overriding them")
    out = copy.deepcopy(look)
    out.edit[key] = value
    out.name = label if not look.name or _YEARS_NAME.fullmatch(look.name) else f"{look.name}, {label}"
    out.validate()
    return out


def load_look(path: str | Path) -> Look:
    """Read and validate a Look JSON file.

    Raises:
        LookError: missing or unreadable file, invalid JSON, unknown keys or invalid values.
    """
    p = Path(path)
    if not p.is_file():
        raise LookError("look file not found", p)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise LookError(f"cannot read look file ({exc.__class__.__name__})", p) from None
    except json.JSONDecodeError as exc:
        raise LookError(f"corrupt look file: invalid JSON at line {exc.lineno} column {exc.colno}", p) from None
    look = Look.from_dict(data, source=p)
    look.folder = p.parent.resolve()
    return look


def save_look(look: Look, path: str | Path) -> Path:
    """Validate and write a Look as pretty JSON (atomically); returns the path."""
    look.validate(path)
    p = Path(path)
    with atomic_output(p) as tmp:
        tmp.write_text(json.dumps(look.to_dict(), indent=2) + "\n", encoding="utf-8")
    return p
