"""ipywidgets panels for the notebooks. They wire widgets to the library; no pipeline logic here.

- ``Studio``: shape a Look on a shot — preview (before/after, wipe, difference, overlays), sliders
  for every parameter of the chosen editor and blend, keyframes, face picker, look save/load, render
  with progress and an inline player.
- ``ComparePanel``: scrub a render against its source (review).
- ``controls``: which control each Look parameter gets (introspected from the params dataclasses).
- ``views``: the pictures (before/after views, overlays, timeline, timecode), plain functions.
"""

from deage.studio.app import Studio, ViewOptions
from deage.studio.compare import ComparePanel

__all__ = ["ComparePanel", "Studio", "ViewOptions"]
