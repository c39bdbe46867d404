"""Faces: detect, landmark, align, track, smooth, select and mask them.

The analysis pass (``analyse_clip``) runs once per clip and is cached; see ``deage.face.analysis``.
"""

from deage.face.analysis import Analysis, AnalysisSettings, analyse_clip, analyse_frames
from deage.face.select import select_tracks

__all__ = ["Analysis", "AnalysisSettings", "analyse_clip", "analyse_frames", "select_tracks"]
