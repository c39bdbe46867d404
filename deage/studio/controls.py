"""Which controls a Look's parameters get, found by introspecting the parameter dataclasses.

Every field of an editor's params class (``EditorSpec.params``) and of ``BlendParams`` becomes a
``Control``: a slider for a number, a drop-down for a string with choices, a check box for a bool,
a text box for a free string, one slider per key for a ``dict[str, float]`` (the makeup editor's
per-region ``wrinkles``). A field typed ``X | None`` is optional: its slider has an "auto" box
(None = follow the editor's preset). Fields of other types (a swap's ``sources``, ``mappings``)
get no control: they stay as written in the Look.

What a control's range, step, unit, label and choices are comes, in this order, from:

1. the field's ``metadata`` (``dataclasses.field(metadata={...})``) with the keys ``range``
   (low, high), ``step``, ``unit``, ``label``, ``choices``, ``keys`` (for dict fields), ``help``;
2. the table ``HINTS`` below, for the parameter classes that do not carry metadata yet;
3. a ``_RANGES`` name -> (low, high) table in the params class's module (the makeup and swap
   params modules keep their validation ranges there);
4. the default value (a default in 0..1 gives 0..1; otherwise 0..2x the default).

Help text comes from the class docstring's ``Attributes:`` section. So a new parameter gets a
control, with its docstring as the tooltip, without touching the studio. No widgets here.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import math
import re
import sys
from dataclasses import dataclass
from typing import Any

from deage.look import Look

# Hints for fields whose classes carry no metadata (see the module docstring). Keys are
# "ParamsClass.field"; values as in a field's metadata, with "choices_from" naming a tuple constant
# of the params class's module (looked up when the control is built, so it follows the code).
HINTS: dict[str, dict[str, Any]] = {
    "MakeupParams.years": {"range": (0.0, 30.0), "step": 0.1, "unit": "years", "label": "years younger"},
    "MakeupParams.wrinkles": {"keys_from": ("deage.face.masks", "WRINKLE_REGIONS"), "range": (0.0, 1.0),
                              "label": "wrinkles"},
    "MakeupParams.texture_keep": {"unit": "x", "label": "texture kept"},
    "MakeupParams.under_eye": {"label": "under-eye lift"},
    "MakeupParams.hollows": {"label": "hollows filled"},
    "MakeupParams.target_age": {"step": 1.0, "unit": "years", "label": "target age", "group": "look"},
    "MakeupParams.cheek_fullness": {"label": "cheek fullness"},
    "MakeupParams.eye_aperture": {"label": "eye opening"},
    "MakeupParams.lip_fullness": {"label": "lip fullness"},
    "MakeupParams.lip_contrast": {"label": "lip contrast"},
    "MakeupParams.eye_whites": {"label": "whites of the eyes"},
    "MakeupParams.teeth": {"label": "teeth whitening"},
    "MakeupParams.wears_glasses": {"label": "wears glasses", "choices": (True, False)},
    "BlendParams.mode": {"choices_from": "MODES", "label": "blend"},
    "BlendParams.colour_match": {"choices_from": "COLOUR_MATCHES", "label": "colour match"},
    "BlendParams.erode": {"range": (0.0, 64.0), "step": 0.5, "unit": "px@512"},
    "BlendParams.dilate": {"range": (0.0, 64.0), "step": 0.5, "unit": "px@512"},
    "BlendParams.feather": {"range": (0.0, 64.0), "step": 0.5, "unit": "px@512"},
    "BlendParams.amount": {"range": (0.0, 1.0), "step": 0.01, "label": "opacity"},
    "BlendParams.fade": {"range": (0.0, 48.0), "step": 1.0, "unit": "frames", "label": "fade in/out"},
    "BlendParams.grain": {"range": (0.0, 1.0), "step": 0.05, "label": "plate grain"},
    "SwapParams.backend": {"choices_from": "BACKENDS"},
    "SwapParams.eyes": {"choices_from": "EYES"},
    "SwapParams.gaze": {"choices_from": "GAZES"},
    "SwapParams.mouth": {"choices_from": "MOUTHS"},
    "SwapParams.detail": {"choices_from": "DETAILS"},
    "SwapParams.light_scale": {"unit": "eye dist."},
    "SwapParams.forehead": {"unit": "eye dist."},
    "SwapParams.silhouette": {"label": "keep to the face's outline"},
    "SwapParams.glasses": {"label": "keep the plate's glasses"},
    "SwapParams.wears_glasses": {"label": "plate face wears glasses", "choices": (True, False)},
    "SwapParams.focus": {"label": "plate focus"},
    "SwapParams.shutter": {"step": 1.0, "unit": "degrees", "label": "shutter angle"},
}

_SCALARS = {"float": "float", "int": "int", "bool": "bool", "str": "text"}


@dataclass(frozen=True)
class Control:
    """One control bound to one Look parameter.

    Attributes:
        key: ``"edit.years"``, ``"blend.feather"``, ``"edit.wrinkles.forehead"``; also the
            Look's keyframe key for this parameter.
        label: short human label.
        kind: ``"float"``, ``"int"``, ``"choice"``, ``"bool"`` or ``"text"``.
        default: the params class's default (None for an optional "auto" parameter).
        low, high, step: slider range and step (numbers only).
        unit: shown after the value ("years", "px@512"...).
        choices: allowed values (kind ``"choice"``).
        optional: None is a valid value ("auto": follow the editor's preset).
        help: the parameter's docstring text.
        group: the studio tab it belongs in ("" = by its kind: see ``deage.studio.panels``).
    """

    key: str
    label: str
    kind: str
    default: Any = None
    low: float | None = None
    high: float | None = None
    step: float | None = None
    unit: str = ""
    choices: tuple[Any, ...] = ()
    optional: bool = False
    help: str = ""
    group: str = ""

    @property
    def section(self) -> str:
        return self.key.partition(".")[0]

    @property
    def name(self) -> str:
        """The key inside its section (``"years"``, ``"wrinkles.forehead"``)."""
        return self.key.partition(".")[2]

    @property
    def keyable(self) -> bool:
        """Numbers can be keyframed (the Look interpolates them linearly)."""
        return self.kind in ("float", "int")

    def clamp(self, value: float) -> float:
        """``value`` limited to the slider's range."""
        lo = -math.inf if self.low is None else self.low
        hi = math.inf if self.high is None else self.high
        return min(max(float(value), lo), hi)


def _parse_type(annotation: Any) -> tuple[str, bool]:
    """(base type name, optional) from a field annotation (string or type)."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    text = text.replace("typing.", "").strip()
    optional = False
    match = re.fullmatch(r"Optional\[(.+)\]", text)
    if match:
        text, optional = match.group(1), True
    parts = [p.strip() for p in re.split(r"\|(?![^\[]*\])", text)]
    if "None" in parts:
        optional = True
        parts = [p for p in parts if p != "None"]
    return (parts[0] if len(parts) == 1 else " | ".join(parts)), optional


def attribute_help(cls: type) -> dict[str, str]:
    """Field name -> its text in the class docstring's ``Attributes:`` section (one line each)."""
    doc = inspect.getdoc(cls) or ""
    out: dict[str, str] = {}
    in_section, current = False, None
    for line in doc.splitlines():
        if line.strip() == "Attributes:":
            in_section = True
            continue
        if not in_section:
            continue
        if line and not line.startswith(" "):
            break  # next section
        match = re.match(r"^ {4}(\w+(?:, \w+)*)(?: \([^)]*\))?: (.*)$", line)
        if match:
            names = [n.strip() for n in match.group(1).split(",")]
            for name in names:
                out[name] = match.group(2).strip()
            current = names
        elif current and line.strip():
            for name in current:
                out[name] += " " + line.strip()
    return out


def _hints(cls: type, f: dataclasses.Field) -> dict[str, Any]:
    hints = dict(HINTS.get(f"{cls.__name__}.{f.name}", {}))
    hints.update(dict(f.metadata or {}))
    module = sys.modules.get(cls.__module__)
    if "choices_from" in hints and "choices" not in hints and module is not None:
        hints["choices"] = tuple(getattr(module, hints["choices_from"], ()))
    if "keys_from" in hints and "keys" not in hints:
        mod, attr = hints["keys_from"]
        hints["keys"] = tuple(getattr(importlib.import_module(mod), attr, ()))
    if "range" not in hints and module is not None:
        ranges = getattr(module, "_RANGES", None) or getattr(module, "RANGES", None) or {}
        if f.name in ranges:
            hints["range"] = tuple(ranges[f.name])
    return hints


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return None


def _number_control(key: str, label: str, kind: str, default: Any, optional: bool, hints: dict[str, Any],
                    help_text: str) -> Control:
    if "range" in hints:
        low, high = (float(v) for v in hints["range"])
    elif isinstance(default, (int, float)) and not isinstance(default, bool) and 0.0 <= default <= 1.0:
        low, high = 0.0, 1.0
    elif isinstance(default, (int, float)) and not isinstance(default, bool) and default > 0:
        low, high = 0.0, float(default) * 2.0
    else:
        low, high = 0.0, 1.0
    step = hints.get("step")
    if step is None:
        step = 1.0 if kind == "int" else (0.01 if high - low <= 2.0 else 0.1 if high - low <= 20 else 0.5)
    return Control(key=key, label=hints.get("label", label), kind=kind, default=default, low=low, high=high,
                   step=float(step), unit=hints.get("unit", ""), optional=optional, help=help_text,
                   group=hints.get("group", ""))


def controls_for(cls: type, section: str) -> list[Control]:
    """The controls of a parameters dataclass, in field order, keyed ``"<section>.<field>"``."""
    if not dataclasses.is_dataclass(cls):
        return []
    helps = attribute_help(cls)
    out: list[Control] = []
    for f in dataclasses.fields(cls):
        if f.name.startswith("_") or not f.init:
            continue
        base, optional = _parse_type(f.type)
        hints = _hints(cls, f)
        default = _default(f)
        label = f.name.replace("_", " ")
        key = f"{section}.{f.name}"
        help_text = hints.get("help", helps.get(f.name, ""))
        if "choices" in hints and hints["choices"]:
            out.append(Control(key=key, label=hints.get("label", label), kind="choice", default=default,
                               choices=tuple(hints["choices"]), optional=optional, help=help_text))
        elif base in ("float", "int"):
            out.append(_number_control(key, label, base, default, optional, hints, help_text))
        elif base == "bool":
            out.append(Control(key=key, label=hints.get("label", label), kind="bool", default=default,
                               optional=optional, help=help_text))
        elif base == "str":
            out.append(Control(key=key, label=hints.get("label", label), kind="text", default=default,
                               optional=optional, help=help_text))
        elif re.fullmatch(r"dict\[str, ?(float|int)\]", base) and hints.get("keys"):
            for sub in hints["keys"]:
                sub_hints = {k: v for k, v in hints.items() if k in ("range", "step", "unit")}
                out.append(_number_control(f"{key}.{sub}", str(sub).replace("_", " "), "float",
                                           None, True, sub_hints, help_text))
        # other types (tuples of sources, mappings...) get no control: they stay as written
    return out


def editor_controls(editor: str) -> list[Control]:
    """Controls of editor ``editor``'s parameters (section ``edit``); [] for an unknown editor."""
    from deage.edit.registry import EDITORS

    spec = EDITORS.get(editor)
    if spec is None:
        return []
    try:
        cls = spec.params_class()
    except (ImportError, AttributeError):
        return []
    return controls_for(cls, "edit")


def blend_controls() -> list[Control]:
    """Controls of ``BlendParams`` (section ``blend``)."""
    from deage.blend.params import BlendParams

    return controls_for(BlendParams, "blend")


# ---- reading and writing a Look -----------------------------------------------------------------


def get_value(look: Look, control: Control) -> Any:
    """The value the Look holds for ``control`` (resolve keyframes first with ``look.at(frame)``);
    None when unset (the editor's default or "auto")."""
    section = getattr(look, control.section)
    name = control.name
    if name in section:
        return section[name]
    head, _, sub = name.partition(".")
    if sub and isinstance(section.get(head), dict):
        return section[head].get(sub)
    return None


def set_value(look: Look, control: Control, value: Any) -> None:
    """Write ``value`` for ``control`` into ``look`` (in place); None removes it (back to default/auto).

    Nested keys (``edit.wrinkles.forehead``) are written in the nested form the params classes
    write (``"wrinkles": {"forehead": 0.8}``), replacing a flat ``"wrinkles.forehead"`` entry.
    """
    section = getattr(look, control.section)
    name = control.name
    head, _, sub = name.partition(".")
    if not sub:
        if value is None:
            section.pop(name, None)
        else:
            section[name] = value
        return
    section.pop(name, None)
    nested = section.get(head)
    nested = dict(nested) if isinstance(nested, dict) else {}
    if value is None:
        nested.pop(sub, None)
    else:
        nested[sub] = value
    if nested:
        section[head] = nested
    else:
        section.pop(head, None)


def resolved_value(look: Look, control: Control, apparent_age: float | None = None) -> Any:
    """The value the editor will actually use for ``control`` in ``look`` (already resolved at a
    frame): the set value, else what the params class resolves "auto" to (``resolve()``, when it
    has one, e.g. the makeup editor's preset curve), else the default.

    ``apparent_age``: how old the face looks, in years (``Analysis.apparent_ages``), for a params
    class whose preset follows it (``for_apparent_age``: the makeup preset's hollows, a child's
    shape work); None shows the values for an adult face of unknown age."""
    value = get_value(look, control)
    if value is not None:
        return value
    if control.section == "edit":
        from deage.edit.registry import EDITORS

        spec = EDITORS.get(look.editor)
        if spec is not None:
            try:
                params = spec.params_from_dict(look.edit)
            except Exception:  # an invalid section: the caller reports it; show the default
                return control.default
            if apparent_age is not None and callable(getattr(params, "for_apparent_age", None)):
                params = params.for_apparent_age(float(apparent_age))
            resolve = getattr(params, "resolve", None)
            settings = resolve() if callable(resolve) else params
            head, _, sub = control.name.partition(".")
            found = getattr(settings, head, None)
            if sub and isinstance(found, dict):
                found = found.get(sub)
            if found is not None and not isinstance(found, dict):
                return found
    return control.default
