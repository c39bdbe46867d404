"""deage: de-age and replace faces in video clips, driven from Jupyter notebooks.

Pipeline stages, one sub-package each: video (read/write clips), face (detect, align, track,
masks), edit (editors), blend (compositing), render (whole clips), review (metrics, reports),
studio (notebook widgets).
"""

__version__ = "0.1.0"
