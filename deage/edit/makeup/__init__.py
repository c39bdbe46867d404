"""The embedded digital-makeup de-ager (no weights): texture, tone and shape operations.

``MakeupEditor().edit(aligned, MakeupParams(years=15))`` -> ``EditResult``.
"""

from deage.edit.makeup.editor import MakeupEditor
from deage.edit.makeup.params import MakeupParams, MakeupSettings

__all__ = ["MakeupEditor", "MakeupParams", "MakeupSettings"]
