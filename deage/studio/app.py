"""``Studio``: the notebook panel that shapes a Look on a shot, previews it and renders it.

Example (a notebook cell per line)::

    from deage.studio import Studio
    studio = Studio("shot.mp4", look="examples/looks/young10.json", output_dir="out")
    studio.analyse()          # detect, landmark and track the faces (cached), with a status line
    studio                    # the panel: preview, sliders, scrubber, faces, look file, render
    studio.set("edit.years", 20); studio.refresh()     # the same from code
    studio.render()           # the whole shot, with a progress bar and an inline player

The panel only wires widgets to the library: previews come from ``deage.preview.PreviewEngine``
(cached analysis, decoded frames and aligned crops; a slider change redraws only edit, mask and
blend of the frame on screen) through ``deage.preview.LatestWins`` (rapid changes collapse to the
latest one, in a worker thread); renders from ``deage.render.render_clip``.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ipywidgets as w
import numpy as np

from deage.errors import DeageError
from deage.look import Look, default_look, load_look, save_look
from deage.preview import Done, LatestWins, PreviewEngine, PreviewResult
from deage.studio import views
from deage.studio.panels import ROW, ControlPanel, FacePicker, LookFile, RenderPanel, Scrubber

INLINE_VIDEO_LIMIT = 64 * 2**20
"""Largest rendered file (bytes) shown in the inline player; bigger ones are only linked by path."""


@dataclass(frozen=True)
class ViewOptions:
    """How the preview is drawn (no effect on the render).

    Attributes:
        view: one of ``deage.studio.views.VIEWS``.
        split: wipe position, 0..1 of the width.
        gain: difference heat-map gain.
        landmarks, masks, ids: overlays.
        zoom: ``"frame"`` (whole frame) or ``"face"`` (the selected faces at full resolution).
    """

    view: str = "side by side"
    split: float = 0.5
    gain: float = 8.0
    landmarks: bool = False
    masks: bool = False
    ids: bool = False
    zoom: str = "frame"


@dataclass(frozen=True)
class _Request:
    index: int
    look: Look
    options: ViewOptions


_Shown = tuple[PreviewResult, bytes, float, bool, list[tuple[float, float]]]
"""What a preview job hands the panel: the frame, its JPEG, milliseconds, whether it was rendered
(not just redrawn), and (before, after) apparent ages of its edited faces when asked for."""


class Studio:
    """Shape, preview and render a Look on one clip, in a notebook.

    Args:
        clip: the clip (a path ``deage.video.open_clip`` accepts).
        look: a ``Look``, the path of a look JSON, or None (``default_look()``: ten years younger).
        analysis: the clip's ``Analysis`` when already computed (else call ``analyse()``).
        output_dir: where renders and the look file go by default (default: ``renders/`` beside the clip).
        display_width: the preview picture is scaled down to at most this many pixels wide.
        quality: JPEG quality of the preview picture.
        analysis_settings, cache_dir: passed to ``deage.face.analysis.analyse_clip``.

    Raises:
        MediaError: the clip cannot be opened. LookError: the look file is invalid.
    """

    def __init__(
        self,
        clip: str | Path,
        look: Look | str | Path | None = None,
        analysis: Any | None = None,
        *,
        output_dir: str | Path | None = None,
        display_width: int = 1280,
        quality: int = 88,
        analysis_settings: Any | None = None,
        cache_dir: str | Path | None = None,
    ) -> None:
        from deage.edit.registry import EDITORS
        from deage.video import open_clip

        self.path = Path(clip)
        self._clip = open_clip(self.path)
        info = self._clip.info
        self.fps = info.fps
        self.display_width = int(display_width)
        self.quality = int(quality)
        self._settings = analysis_settings
        self._cache_dir = cache_dir
        if isinstance(look, (str, Path)):
            look_path: Path | None = Path(look)
            look = load_look(look_path)
        else:
            look_path = None
        self._look = copy.deepcopy(look) if look is not None else default_look()
        self.output_dir = Path(output_dir) if output_dir is not None else self.path.parent / "renders"
        self.analysis = analysis
        self.engine = PreviewEngine(self._clip, analysis, self._look)
        self.preview: PreviewResult | None = None
        self.last_render: Any = None
        self._last_key: tuple[int, str] | None = None
        self._render_thread: threading.Thread | None = None
        self._render_error: BaseException | None = None
        self._no_face: tuple[tuple[int, tuple[int, ...]], list[int]] | None = None

        # ---- widgets
        self.image = w.Image(format="jpeg", layout=w.Layout(width="100%", max_width=f"{self.display_width}px"))
        self.image.add_class("deage-preview")
        self.view = w.ToggleButtons(options=list(views.VIEWS), value="side by side",
                                    style={"button_width": "auto"}, layout=w.Layout(width="auto"))
        self.view.add_class("deage-view")
        self.split = w.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.01, description="wipe", readout=False,
                                   layout=w.Layout(width="280px"))
        self.gain = w.FloatLogSlider(value=8.0, base=2, min=0, max=6, step=0.5, description="gain",
                                     layout=w.Layout(width="280px", display="none"))
        self.overlay_ids = w.ToggleButton(value=False, description="ids", tooltip="face boxes and track ids",
                                          layout=w.Layout(width="54px"))
        self.overlay_landmarks = w.ToggleButton(value=False, description="landmarks", layout=w.Layout(width="100px"))
        self.overlay_masks = w.ToggleButton(value=False, description="masks", tooltip="the blend matte",
                                            layout=w.Layout(width="64px"))
        self.zoom = w.ToggleButtons(options=["frame", "face"], value="frame", tooltip="zoom to the edited faces",
                                    style={"button_width": "auto"})
        self.age = w.ToggleButton(value=False, description="age", layout=w.Layout(width="54px"),
                                  tooltip="apparent age of the edited faces before -> after, on the status line "
                                          "(deage.face.apparent_age; ~50 ms a face)")
        self.age.observe(lambda _change: self._submit(), "value")
        self._estimator: Any = None
        self._ages: tuple[tuple[int, str], list[tuple[float, float]]] | None = None
        for widget in (self.view, self.split, self.gain, self.overlay_ids, self.overlay_landmarks,
                       self.overlay_masks, self.zoom):
            widget.observe(lambda _change: self._view_changed(), "value")
        self.status = w.HTML(views.status_html("ready"), layout=w.Layout(width="100%"))
        self.status.add_class("deage-status-line")
        self.scrubber = Scrubber(len(self._clip), self.fps, self._frame_changed)
        self.controls = ControlPanel(self._look, sorted(EDITORS), self._look_changed)
        self.faces = FacePicker(self._faces_changed)
        self.look_file = LookFile(look_path or self.output_dir / "look.json", self.save_look, self.load_look)
        self.burn_in = w.Checkbox(value=bool(self._look.burn_in), description='burn in an "AI-altered" label',
                                  indent=False, tooltip="stamp a visible label on every rendered frame")
        self.burn_in.observe(self._burn_in_changed, "value")
        stem = self.path.stem.split(".")[0] or "clip"
        self.render_panel = RenderPanel(self.output_dir / f"{stem}_{self._look.editor}.mp4", len(self._clip),
                                        lambda out, frames: self.render(out, frames, wait=False))
        self.analyse_button = w.Button(description="analyse faces", icon="search", layout=w.Layout(width="140px"))
        self.analyse_button.on_click(lambda _: self._analyse_in_thread())
        header = w.HTML(f'<b>{self.path.name}</b> <span style="color:#888">· {info.width}x{info.height} · '
                        f'{float(self.fps):.3f} fps · {len(self._clip)} frames'
                        f'{" · audio" if info.has_audio else ""}</span>')
        toolbar = w.HBox([self.view, self.split, self.gain, self.overlay_ids, self.overlay_landmarks,
                          self.overlay_masks, self.zoom, self.age], layout=w.Layout(flex_flow="row wrap", align_items="center"))
        left = w.VBox([self.image, toolbar, self.scrubber.widget, self.status],
                      layout=w.Layout(flex="1 1 auto", width="auto", min_width="400px", margin="0 10px 0 0"))
        right = w.VBox([self.controls.widget, self.faces.widget, self.look_file.widget, self.burn_in],
                       layout=w.Layout(flex="0 0 470px", width="470px"))
        self.widget = w.VBox([
            w.HBox([header, self.analyse_button], layout=ROW),
            w.HBox([left, right], layout=w.Layout(width="100%", align_items="flex-start")),
            self.render_panel.widget,
        ], layout=w.Layout(width="100%"))
        self.widget.add_class("deage-studio")

        self._worker: LatestWins[_Request, _Shown] = LatestWins(
            self._work, self._done)
        self._sync_faces()
        self._view_changed()

    # ---- display ---------------------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    # ---- public API ------------------------------------------------------------------------------
    @property
    def look(self) -> Look:
        """A copy of the Look being shaped (with its keyframes)."""
        return copy.deepcopy(self._look)

    @property
    def frame(self) -> int:
        return self.scrubber.value

    def set_frame(self, index: int) -> None:
        """Go to frame ``index`` (as the scrubber would)."""
        self.scrubber.value = index

    def set(self, key: str, value: Any) -> None:
        """Set a Look parameter as its control would (``"edit.years"``, ``"blend.feather"``...)."""
        self.controls.set(key, value)

    def set_key(self, key: str, frame: int | None = None, value: float | None = None) -> None:
        """Key parameter ``key`` at ``frame`` (default: the current frame) to ``value`` (default: the
        value it has there)."""
        frame = self.frame if frame is None else int(frame)
        if value is None:
            if not any(int(k[0]) == frame for k in self._look.keyframes.get(key, [])):
                self.controls.toggle_key(key, frame)
            return
        self._look.set_key(key, frame, float(value))
        self.controls.show_frame(self.frame)
        self._look_changed(self._look)

    def set_faces(self, how: list[int] | str) -> None:
        """Choose the faces to edit, as the face picker does: ``"all"``, ``"largest"`` or track ids."""
        self._faces_changed(list(how) if isinstance(how, (list, tuple)) else how)

    def set_look(self, look: Look) -> None:
        """Replace the Look being shaped (validated first)."""
        look.validate()
        self._look = copy.deepcopy(look)
        self.controls.set_look(self._look)
        self.burn_in.value = bool(self._look.burn_in)
        self._look_changed(self._look)

    def refresh(self, timeout: float = 120.0) -> PreviewResult:
        """Redraw the preview now and wait for it; returns it (raises the preview's error, if any)."""
        self._submit()
        if not self._worker.wait(timeout):
            raise DeageError(f"the preview did not finish within {timeout:g} s")
        done = self._worker.last
        if done is not None and done.error is not None:
            raise done.error
        assert self.preview is not None
        return self.preview

    def analyse(self, settings: Any | None = None) -> Any:
        """Detect, landmark and track the faces (or load them from the cache), showing progress.

        Returns the ``Analysis``; the preview then edits the faces the Look selects.
        """
        from deage.face.analysis import AnalysisSettings, analyse_clip

        settings = settings or self._settings or AnalysisSettings()
        total = len(self._clip)
        started = time.perf_counter()
        last = [0.0]

        def progress(done: int, _total: int | None) -> None:
            now = time.perf_counter()
            if now - last[0] > 0.2 or done == total:
                last[0] = now
                self._status(f"analysing {done}/{total} frames", "busy")

        self._status(f"analysing 0/{total} frames", "busy")
        self.analyse_button.disabled = True
        try:
            analysis = analyse_clip(self.path, settings, cache_dir=self._cache_dir, progress=progress)
        except DeageError as exc:
            self._status(str(exc), "error")
            raise
        finally:
            self.analyse_button.disabled = False
        self.use_analysis(analysis)
        how = "loaded from the cache" if analysis.from_cache else f"in {time.perf_counter() - started:.1f} s"
        faces = len(analysis.tracks)
        self._status(f"analysis {how}: {faces} face track(s), {len(analysis.frames_without_face)} frame(s) "
                     "without a face", "ok")
        return analysis

    def use_analysis(self, analysis: Any) -> None:
        """Preview with this ``Analysis`` (of this clip) from now on."""
        self._worker.wait(30)
        self.engine = PreviewEngine(self._clip, analysis, self._look)
        self.analysis = analysis
        self._last_key = None
        self._sync_faces()
        self._submit()

    def save_look(self, path: str | Path | None = None) -> Path:
        """Write the Look (with keyframes) as JSON (atomically); returns the path."""
        target = Path(path) if path is not None else Path(self.look_file.path.value)
        try:
            if target.parent == self.output_dir:
                self.output_dir.mkdir(parents=True, exist_ok=True)
            saved = save_look(self._look, target)
        except (DeageError, OSError) as exc:
            self._status(f"look not saved: {exc}", "error")
            raise DeageError(f"look not saved: {exc}") from None
        self.look_file.path.value = str(saved)
        self._status(f"look saved to {saved}", "ok")
        return saved

    def load_look(self, path: str | Path | None = None) -> Look:
        """Read a look JSON (validated) and show it; returns it."""
        source = Path(path) if path is not None else Path(self.look_file.path.value)
        try:
            look = load_look(source)
        except DeageError as exc:
            self._status(str(exc), "error")
            raise
        self.look_file.path.value = str(source)
        self.set_look(look)
        self._status(f"look loaded from {source}", "ok")
        return look

    def render(self, output: str | Path | None = None, frames: tuple[int, int] | None = None, *,
               wait: bool = True) -> Any:
        """Render the shot with the current Look (``deage.render.render_clip``), with the progress bar
        and then the inline player.

        Args:
            output: output path (default: the render panel's).
            frames: (start, stop) 0-based, stop exclusive (default: the panel's range).
            wait: block until done and return the ``RenderResult`` (raising its error); False runs
                it in a thread (the button does this) and returns None.
        """
        out = Path(output) if output is not None else Path(self.render_panel.output.value)
        if frames is None:
            a, b = self.render_panel.frames.value
            frames = (int(a), int(b) + 1)
        if self._render_thread is not None and self._render_thread.is_alive():
            self._status("a render is already running", "error")
            return None
        if out.parent == self.output_dir:
            self.output_dir.mkdir(parents=True, exist_ok=True)
        self.render_panel.output.value = str(out)
        look = copy.deepcopy(self._look)
        self._render_error = None
        thread = threading.Thread(target=self._render_job, args=(out, look, frames), name="deage-render", daemon=True)
        self._render_thread = thread
        thread.start()
        if not wait:
            return None
        thread.join()
        if self._render_error is not None:
            raise self._render_error
        return self.last_render

    def close(self) -> None:
        """Stop the preview worker and close the clip."""
        self._worker.close()
        self._clip.close()

    # ---- preview ---------------------------------------------------------------------------------
    def options(self) -> ViewOptions:
        return ViewOptions(view=self.view.value, split=float(self.split.value), gain=float(self.gain.value),
                           landmarks=bool(self.overlay_landmarks.value), masks=bool(self.overlay_masks.value),
                           ids=bool(self.overlay_ids.value), zoom=self.zoom.value)

    def _submit(self) -> None:
        self._worker.submit(_Request(self.frame, copy.deepcopy(self._look), self.options()))

    def _work(self, request: _Request) -> _Shown:
        started = time.perf_counter()
        engine = self.engine
        key = (request.index, json.dumps(request.look.to_dict(), sort_keys=True, default=str))
        result = self.preview
        rendered = result is None or key != self._last_key or result.index != request.index
        if rendered:
            engine.set_look(request.look)
            result = engine.render(request.index)
        self._last_key = key
        picture = self.picture(result, request.options)
        data = views.encode_jpeg(picture, self.quality)
        ages = self.apparent_ages(result, key) if self.age.value else []
        return result, data, (time.perf_counter() - started) * 1e3, rendered, ages

    def apparent_ages(self, result: PreviewResult, key: tuple[int, str] | None = None) -> list[tuple[float, float]]:
        """(before, after) apparent age in years of each edited face of ``result`` with landmarks
        (``deage.face.apparent_age``, on the same crops); remembered for ``key`` (frame and Look).

        Raises:
            WeightsError: the embedded age model is not installed.
        """
        if key is not None and self._ages is not None and self._ages[0] == key:
            return self._ages[1]
        if self._estimator is None:
            from deage.face.apparent_age import AgeEstimator

            self._estimator = AgeEstimator()
        faces = [result.faces[t] for t in result.selected if t in result.faces and result.faces[t].landmarks is not None]
        before, after = self._estimator.compare(result.before, result.after, faces)
        ages = [(float(b), float(a)) for b, a in zip(before, after)]
        if key is not None:
            self._ages = (key, ages)
        return ages

    def picture(self, result: PreviewResult, options: ViewOptions | None = None) -> np.ndarray:
        """The preview picture (RGB uint8) of ``result`` drawn with ``options`` (default: the panel's)."""
        o = options or self.options()
        matte = result.matte if o.masks else None
        faces = result.faces if (o.ids or o.landmarks) else {}

        def decorate(image: np.ndarray, tint: bool) -> np.ndarray:
            if not faces and not (tint and matte is not None):
                return image
            return views.draw_overlays(image, faces, result.selected, matte=matte if tint else None,
                                       landmarks=o.landmarks, boxes=o.ids)

        region = None
        if o.zoom == "face":
            region = views.face_region([result.faces[t] for t in result.selected if t in result.faces]
                                       or list(result.faces.values()), result.before.shape)

        def crop(image: np.ndarray) -> np.ndarray:
            if region is None:
                return image
            x0, y0, x1, y1 = region
            return image[y0:y1, x0:x1]

        if o.view == "difference":  # measured on the clean frames; overlays go on the heat map
            picture = crop(decorate(views.difference_map(result.before, result.after, o.gain), True))
        else:
            before = crop(decorate(result.before, False)) if o.view != "after" else None
            after = crop(decorate(result.after, True)) if o.view != "before" else None
            picture = views.compose(o.view, before if before is not None else after,
                                    after if after is not None else before, split=o.split)
        return views.fit_width(picture, self.display_width, self._clip.info.pixel_aspect)

    def _done(self, done: Done[_Request, _Shown]) -> None:
        if done.error is not None:
            message = str(done.error) if isinstance(done.error, DeageError) else \
                f"preview failed: {type(done.error).__name__}: {done.error}"
            self._status(message, "error")
            return
        assert done.result is not None
        result, data, ms, rendered, ages = done.result
        self.preview = result
        self.image.value = data
        self._show_face_age(result)
        t = result.timings
        faces = len(result.selected)
        parts = [f"preview {ms:.0f} ms" if rendered else f"view redrawn in {ms:.0f} ms"]
        if faces and rendered:
            parts.append(f"(edit {t['edit']:.0f} · blend {t['blend']:.0f} · decode {t['decode']:.0f})")
        parts.append(f"· frame {result.index} · {faces} face{'s' if faces != 1 else ''} edited")
        if ages:
            parts.append("· looks " + ", ".join(f"{b:.1f} → {a:.1f}" for b, a in ages))
        if self.analysis is None and self.engine.needs_faces:
            parts.append("· no analysis yet: press 'analyse faces'")
        elif self.analysis is not None and not result.faces:
            parts.append("· no face in this frame")
        if done.superseded:
            parts.append("· updating…")
        self._status(" ".join(parts), "info")

    def _show_face_age(self, result: PreviewResult) -> None:
        """Put the "auto" values of the first edited face with a measured apparent age on the
        sliders (a face in this frame first), and each measured face's age on its card (the
        preview measures the edited faces' ages when the Look uses them)."""
        ages = self.analysis.apparent_ages if self.analysis is not None else {}
        try:
            selected = self.engine.selected_tracks() if self.analysis is not None else []
        except DeageError:
            selected = []
        here = [t for t in result.selected if t in ages]
        elsewhere = [t for t in selected if t in ages]
        track = (here or elsewhere or [None])[0]
        self.controls.set_apparent_age(track, ages.get(track) if track is not None else None)
        self.faces.show_ages(ages)

    def _status(self, text: str, level: str = "info") -> None:
        self.status.value = views.status_html(text, level)

    # ---- events ----------------------------------------------------------------------------------
    def _frame_changed(self, index: int) -> None:
        self.controls.show_frame(index)
        self._marks()
        self._submit()

    def _look_changed(self, look: Look) -> None:
        self._look = look
        self._marks()
        self._submit()

    def _burn_in_changed(self, change: dict[str, Any]) -> None:
        if bool(change["new"]) != self._look.burn_in:
            self._look.burn_in = bool(change["new"])
            self._look_changed(self._look)

    def _view_changed(self) -> None:
        self.split.layout.display = "" if self.view.value == "wipe" else "none"
        self.gain.layout.display = "" if self.view.value == "difference" else "none"
        self._submit()

    def _faces_changed(self, how: list[int] | str) -> None:
        if isinstance(how, list) and not how:
            self._look.faces = "all"
            self._status("no face ticked: every face is edited (untick faces to leave them alone)", "info")
        else:
            self._look.faces = how
        self._sync_faces()
        self._look_changed(self._look)

    def _marks(self) -> None:
        focus = self.controls.focus
        marked = [int(k[0]) for k in self._look.keyframes.get(focus, [])] if focus else []
        self.scrubber.set_marks(self._look.keyed_frames(), marked, self._no_face_frames())

    def _no_face_frames(self) -> list[int]:
        """Frames where no selected face is present (grey on the timeline), cached per selection."""
        if self.analysis is None:
            return []
        try:
            selected = tuple(self.engine.selected_tracks())
        except DeageError:
            return []
        key = (id(self.analysis), selected)
        if self._no_face is None or self._no_face[0] != key:
            covered: set[int] = set()
            for t in self.analysis.tracks:
                if t.track_id in selected:
                    covered.update(t.faces)
            self._no_face = (key, [i for i in range(self.analysis.frame_count) if i not in covered])
        return self._no_face[1]

    def _sync_faces(self) -> None:
        if self.analysis is None:
            self.analyse_button.layout.display = ""
            return
        self.analyse_button.layout.display = "none"
        self.engine.set_look(self._look)
        try:
            selected = self.engine.selected_tracks()
        except DeageError as exc:
            self._status(str(exc), "error")
            selected = []
        if len(self.faces.boxes) != len(self.analysis.tracks):
            self.faces.set_tracks(self.analysis.summary(), self._thumbnails(), selected)
        else:
            self.faces.show_selected(selected)
        self._marks()

    def _thumbnails(self) -> dict[int, np.ndarray]:
        import cv2

        out = {}
        for track in self.analysis.tracks:
            frames = sorted(track.faces)
            index = frames[len(frames) // 2]
            face = track.faces[index]
            region = views.face_region([face], (self.analysis.height, self.analysis.width), margin=0.25, aspect=1.0)
            if region is None:
                continue
            x0, y0, x1, y1 = region
            crop = self.engine.frame(index)[y0:y1, x0:x1]
            out[track.track_id] = cv2.resize(crop, (96, 96), interpolation=cv2.INTER_AREA)
        return out

    def _analyse_in_thread(self) -> None:
        def job() -> None:
            try:
                self.analyse()
            except DeageError:
                pass  # shown on the status line
            except Exception as exc:  # never lost in a thread
                self._status(f"analysis failed: {type(exc).__name__}: {exc}", "error")

        threading.Thread(target=job, name="deage-analyse", daemon=True).start()

    # ---- rendering -------------------------------------------------------------------------------
    def _render_job(self, output: Path, look: Look, frames: tuple[int, int]) -> None:
        from deage.render import render_clip

        panel = self.render_panel
        total = frames[1] - frames[0]
        panel.button.disabled = True
        panel.progress.max = max(total, 1)
        panel.progress.value = 0
        panel.progress.bar_style = ""
        panel.show_video(None)
        started = time.perf_counter()
        shown = [0.0]

        def progress(done: int, count: int) -> None:
            now = time.perf_counter()
            if now - shown[0] > 0.25 or done == count:
                shown[0] = now
                panel.progress.value = done
                fps = done / max(now - started, 1e-6)
                panel.label.value = f"{done}/{count} frames · {fps:.1f} fps"
                self._status(f"rendering {done}/{count} frames", "busy")

        try:
            result = render_clip(self.path, output, look, frames=frames, analysis=self.analysis,
                                 analysis_settings=self._settings, cache_dir=self._cache_dir, progress=progress)
        except Exception as exc:
            self._render_error = exc
            panel.progress.bar_style = "danger"
            message = str(exc) if isinstance(exc, DeageError) else f"render failed: {type(exc).__name__}: {exc}"
            self._status(message, "error")
            panel.label.value = "failed"
            return
        finally:
            panel.button.disabled = False
        self.last_render = result
        panel.progress.value = panel.progress.max
        panel.progress.bar_style = "success"
        panel.label.value = f"{result.frames} frames in {result.seconds:.1f} s ({result.fps:.1f} fps)"
        size = result.output.stat().st_size if result.output.is_file() else 0
        note = ""
        if result.output.suffix.lower() in (".mp4", ".m4v", ".webm") and 0 < size <= INLINE_VIDEO_LIMIT:
            panel.show_video(result.output.read_bytes())
        else:
            note = " (not shown inline: an image sequence, another format, or too big)"
        self._status(f"rendered {result.output}{note}", "ok")
