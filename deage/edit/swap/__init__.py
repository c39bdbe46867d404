"""Face replacement: a consented source identity onto selected target faces.

``SwapEditor`` (the editor the Look names ``"swap"``) and ``SwapParams`` (its ``edit`` section)
are the entry points; see ``deage.edit.swap.params`` for the Look format (sources, mappings,
consent) and ``deage.edit.swap.editor`` for the two backends (embedded mesh warp, inswapper).

Example::

    from deage.edit.swap import SwapEditor, SwapParams
    editor = SwapEditor()
    editor.prepare(look, analysis)                       # consent, sources, mappings, models
    result = editor.edit(aligned, SwapParams.from_dict(look.edit), track_id=1)
"""

from deage.edit.swap.editor import SwapEditor
from deage.edit.swap.params import ConsentRecord, Mapping, SourceSpec, SwapParams, consent_for
from deage.edit.swap.source import SourceFace, load_source, resolve_source_path

__all__ = [
    "ConsentRecord",
    "Mapping",
    "SourceFace",
    "SourceSpec",
    "SwapEditor",
    "SwapParams",
    "consent_for",
    "load_source",
    "resolve_source_path",
]
