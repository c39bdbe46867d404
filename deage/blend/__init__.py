"""Compositing an edited face back into its frame: feather, multi-band and Poisson blending,
colour transfer, erode/dilate/feather of the matte. ``composite`` is the entry point."""

from deage.blend.composite import composite
from deage.blend.params import BlendParams

__all__ = ["BlendParams", "composite"]
