"""Editors by name, as a Look names them: each entry knows how to validate its parameters and
how to build the editor. Learned editors need weights and are built on demand."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

from deage.errors import LookError


@dataclass(frozen=True)
class EditorSpec:
    """How to build one editor: ``module:Class`` of the editor and of its parameters."""

    name: str
    editor: str  # "package.module:Class"
    params: str  # "package.module:Class" with from_dict / to_dict
    description: str
    needs_faces: bool = True

    def params_class(self) -> Any:
        """The editor's parameters class (imported on first use)."""
        return _load(self.params)

    def params_from_dict(self, data: dict[str, Any]) -> Any:
        return self.params_class().from_dict(data)

    def build(self, **kwargs: Any) -> Any:
        return _load(self.editor)(**kwargs)


def _load(ref: str) -> Callable[..., Any]:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


EDITORS: dict[str, EditorSpec] = {
    spec.name: spec
    for spec in (
        EditorSpec("identity", "deage.edit.identity:IdentityEditor", "deage.edit.identity:IdentityParams",
                   "changes nothing: the output equals the input frame for frame", needs_faces=False),
        EditorSpec("makeup", "deage.edit.makeup:MakeupEditor", "deage.edit.makeup:MakeupParams",
                   "embedded digital-makeup de-ager (no weights)"),
        EditorSpec("fran", "deage.edit.learned.fran:load_editor", "deage.edit.learned.fran:FranParams",
                   "FRAN-style learned re-aging (user-supplied fran_1024.onnx, see weights/README.md)"),
        EditorSpec("stylegan_age", "deage.edit.learned.stylegan_onnx:load_editor",
                   "deage.edit.learned.stylegan_onnx:StyleganAgeParams",
                   "StyleGAN-family ONNX age editor (user-supplied stylegan_age.onnx)"),
        EditorSpec("swap", "deage.edit.swap:SwapEditor", "deage.edit.swap:SwapParams",
                   "face replacement with a consented source identity (embedded mesh or inswapper)"),
    )
}


def editor_spec(name: str) -> EditorSpec:
    """The spec of editor ``name``; KeyError with the list of known editors otherwise."""
    if name not in EDITORS:
        raise KeyError(f"unknown editor {name!r}; choose from {sorted(EDITORS)}")
    return EDITORS[name]


def validate_params(name: str, data: dict[str, Any]) -> Any:
    try:
        return editor_spec(name).params_from_dict(data)
    except KeyError as exc:
        raise LookError(str(exc.args[0])) from None
