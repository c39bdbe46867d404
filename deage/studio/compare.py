"""``ComparePanel``: scrub a render against its source clip, frame for frame (the reviewer's view).

Example::

    from deage.studio import ComparePanel
    ComparePanel("shot.mp4", "young.mp4")      # frame range read from young.mp4.provenance.json

Views as in the studio (render, source, side by side, wipe, difference heat map), zoom to the
faces (with an analysis), and per frame the mean and largest change and the share of changed
pixels on the status line. Frames are read and drawn in a worker thread, latest request wins.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import ipywidgets as w
import numpy as np

from deage.arrays import largest_difference
from deage.errors import DeageError
from deage.preview import LRU, Done, LatestWins
from deage.studio import views
from deage.studio.panels import Scrubber


def frame_offset(render: str | Path) -> int:
    """First source frame of a render, from its provenance sidecar (0 when there is none)."""
    from deage.provenance import read_provenance, sidecar_path

    if not sidecar_path(render).is_file():
        return 0
    try:
        return int(read_provenance(render).get("frame_range", [0])[0])
    except (DeageError, ValueError, TypeError, IndexError):
        return 0


def frame_stats(source: np.ndarray, render: np.ndarray, threshold: int = 2) -> dict[str, float]:
    """Mean and largest absolute difference (8-bit levels, largest channel) and the percentage of
    pixels that changed by more than ``threshold`` levels."""
    diff = largest_difference(source, render)
    return {"mean": float(diff.mean()), "max": float(diff.max()), "changed_pct": float((diff > threshold).mean() * 100)}


class ComparePanel:
    """Source and render side by side (or wiped, or differenced), on one scrubber.

    Args:
        source: the source clip.
        render: the rendered clip (same frame size).
        offset: source frame of the render's first frame (default: from the render's provenance).
        analysis: the source's ``Analysis`` (enables the face zoom and face boxes).
        display_width: the picture is scaled down to at most this many pixels wide.

    Raises:
        MediaError: a clip cannot be opened. DeageError: the frame sizes differ, or the render
            runs past the end of the source.
    """

    def __init__(self, source: str | Path, render: str | Path, *, offset: int | None = None,
                 analysis: Any | None = None, display_width: int = 1280) -> None:
        from deage.video import open_clip

        self.source_path, self.render_path = Path(source), Path(render)
        self._source = open_clip(self.source_path)
        self._render = open_clip(self.render_path)
        s, r = self._source.info, self._render.info
        if (s.width, s.height) != (r.width, r.height):
            raise DeageError(f"the render is {r.width}x{r.height} but the source is {s.width}x{s.height}", render)
        self.offset = frame_offset(render) if offset is None else int(offset)
        if self.offset + len(self._render) > len(self._source):
            raise DeageError(f"the render's {len(self._render)} frames from source frame {self.offset} run past "
                             f"the source's {len(self._source)} frames", render)
        self.analysis = analysis
        self.display_width = int(display_width)
        self._lock = threading.Lock()
        self._cache: LRU[tuple[str, int], np.ndarray] = LRU(16)
        self.stats: dict[str, float] = {}
        self.image = w.Image(format="jpeg", layout=w.Layout(width="100%", max_width=f"{self.display_width}px"))
        self.image.add_class("deage-compare-image")
        self.view = w.ToggleButtons(options=["render", "source", "side by side", "wipe", "difference"],
                                    value="wipe", style={"button_width": "92px"})
        self.split = w.FloatSlider(value=0.5, min=0, max=1, step=0.01, description="wipe", readout=False)
        self.gain = w.FloatLogSlider(value=8.0, base=2, min=0, max=6, step=0.5, description="gain")
        self.zoom = w.ToggleButtons(options=["frame", "face"], value="frame", style={"button_width": "56px"},
                                    disabled=analysis is None)
        self.ids = w.ToggleButton(value=False, description="ids", disabled=analysis is None,
                                  layout=w.Layout(width="54px"))
        self.status = w.HTML(views.status_html("ready"))
        self.scrubber = Scrubber(len(self._render), r.fps, lambda _i: self.refresh(wait=False))
        for widget in (self.view, self.split, self.gain, self.zoom, self.ids):
            widget.observe(lambda _c: self.refresh(wait=False), "value")
        header = w.HTML(f"<b>{self.render_path.name}</b> vs <b>{self.source_path.name}</b> "
                        f'<span style="color:#888">· {r.width}x{r.height} · {len(self._render)} frames from source '
                        f"frame {self.offset}</span>")
        self.widget = w.VBox([header, self.image,
                              w.HBox([self.view, self.split, self.gain, self.zoom, self.ids],
                                     layout=w.Layout(flex_flow="row wrap", align_items="center")),
                              self.scrubber.widget, self.status])
        self.widget.add_class("deage-compare")
        self._worker: LatestWins[tuple, tuple[bytes, dict[str, float]]] = LatestWins(self._work, self._done,
                                                                                    name="deage-compare")
        self.refresh(wait=False)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def frames(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(source frame, render frame) at render frame ``index``, RGB uint8."""
        with self._lock:
            return self._read("source", self.offset + index), self._read("render", index)

    def _read(self, which: str, index: int) -> np.ndarray:
        cached = self._cache.get((which, index))
        if cached is None:
            clip = self._source if which == "source" else self._render
            cached = self._cache.put((which, index), clip.read(index))
        return cached

    def picture(self, index: int, view: str, split: float = 0.5, gain: float = 8.0, zoom: str = "frame",
                ids: bool = False) -> tuple[np.ndarray, dict[str, float]]:
        """The picture (RGB uint8) of render frame ``index`` and that frame's ``frame_stats``."""
        source, render = self.frames(index)
        stats = frame_stats(source, render)
        faces = self.analysis.faces_at(self.offset + index) if self.analysis is not None else {}
        if ids and faces:
            source = views.draw_overlays(source, faces, faces)
            render = views.draw_overlays(render, faces, faces)
        if zoom == "face" and faces:
            region = views.face_region(list(faces.values()), source.shape)
            if region is not None:
                x0, y0, x1, y1 = region
                source, render = source[y0:y1, x0:x1], render[y0:y1, x0:x1]
        name = {"render": "after", "source": "before"}.get(view, view)
        picture = views.compose(name, source, render, split=split, gain=gain)
        return views.fit_width(picture, self.display_width, self._source.info.pixel_aspect), stats

    def refresh(self, wait: bool = True, timeout: float = 60.0) -> dict[str, float]:
        """Redraw; with ``wait``, block until drawn and return the frame's stats."""
        self.split.layout.display = "" if self.view.value == "wipe" else "none"
        self.gain.layout.display = "" if self.view.value == "difference" else "none"
        self._worker.submit((self.scrubber.value, self.view.value, float(self.split.value), float(self.gain.value),
                             self.zoom.value, bool(self.ids.value)))
        if wait:
            self._worker.wait(timeout)
            done = self._worker.last
            if done is not None and done.error is not None:
                raise done.error
        return self.stats

    def _work(self, request: tuple) -> tuple[bytes, dict[str, float]]:
        picture, stats = self.picture(*request)
        return views.encode_jpeg(picture), stats

    def _done(self, done: Done) -> None:
        if done.error is not None:
            self.status.value = views.status_html(str(done.error), "error")
            return
        data, stats = done.result
        self.image.value = data
        self.stats = stats
        index = done.request[0]
        self.status.value = views.status_html(
            f"frame {index} (source {self.offset + index}) · "
            f"{views.timecode(self.offset + index, self._source.info.fps)}"
            f" · mean change {stats['mean']:.2f} levels · largest {stats['max']:.0f} · "
            f"{stats['changed_pct']:.1f} % of pixels changed by more than 2 levels")

    def close(self) -> None:
        self._worker.close()
        self._source.close()
        self._render.close()
