"""deage: de-age and replace faces in video clips, driven from Jupyter notebooks.

Pipeline stages, one sub-package each: video (read/write clips), face (detect, align, track,
masks), edit (editors), blend (compositing), render (whole clips), review (metrics, reports),
studio (notebook widgets).

Public API (imported on first use, so ``import deage`` stays light)::

    import deage
    look = deage.load_look("examples/looks/young10.json")
    young = deage.render_image(rgb_photo, look)                       # RGB uint8 (H, W, 3) in and out
    result = deage.render_clip("shot.mp4", "young.mp4", look)          # -> RenderResult
    with deage.open_clip("shot.mp4") as clip: ...                      # frames: RGB uint8 (H, W, 3)
    analysis = deage.analyse_clip("shot.mp4")                          # tracks, cached on disk
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "open_clip": "deage.video",
    "ClipWriter": "deage.video",
    "analyse_clip": "deage.face.analysis",
    "analyse_frames": "deage.face.analysis",
    "Analysis": "deage.face.analysis",
    "AnalysisSettings": "deage.face.analysis",
    "select_tracks": "deage.face.select",
    "Look": "deage.look",
    "load_look": "deage.look",
    "default_look": "deage.look",
    "save_look": "deage.look",
    "render_clip": "deage.render",
    "render_image": "deage.render",
    "FrameRenderer": "deage.render",
    "RenderResult": "deage.render",
    "read_provenance": "deage.provenance",
    "check_provenance": "deage.provenance",
    "DeageError": "deage.errors",
    "MediaError": "deage.errors",
    "OutputError": "deage.errors",
    "NoFaceError": "deage.errors",
    "LookError": "deage.errors",
    "WeightsError": "deage.errors",
    "ConsentError": "deage.errors",
}
__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'deage' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
