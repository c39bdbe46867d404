"""The preview engine: re-render the frame on screen from the cached analysis, fast, off the UI thread.

After the analysis pass, a slider change needs only edit -> mask -> blend of one frame. This
module keeps what does not change between slider moves:

- the decoded frame of each recently shown index (``Clip.read`` seeks; scrubbing back and forth
  hits the cache),
- each face's aligned crop per (frame, track),
- the editor's result per (frame, track, edit parameters), so a blend-only change (feather,
  amount, mode) skips the edit.

``PreviewEngine.render(index)`` gives the same pixels as ``deage.render.FrameRenderer.render``
for that frame, plus the "AI-altered" label when the Look asks for it (tested), so what the
artist sees is what the render writes.

``LatestWins`` runs a function on the newest request only, in one worker thread: a burst of
slider moves while a preview is being drawn collapses into one more render, with the last values;
the preview never replays stale values and never falls behind the slider.

No widgets here (``deage.studio`` drives this), so it is testable and benchmarkable on its own::

    engine = PreviewEngine("shot.mp4", analysis, look)
    result = engine.render(24)                    # PreviewResult: before, after, mattes, timings
    look.edit["years"] = 20
    engine.set_look(look)
    result = engine.render(24)                    # re-uses the decoded frame and the aligned crop
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np

from deage.errors import DeageError
from deage.look import Look
from deage.types import AlignedFace, Face, Image, Mask

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
Req = TypeVar("Req")
Res = TypeVar("Res")


class LRU(Generic[K, V]):
    """A small least-recently-used map (not thread-safe; ``PreviewEngine`` locks around it)."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"LRU capacity must be at least 1, got {capacity}")
        self.capacity = int(capacity)
        self._items: OrderedDict[K, V] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: K) -> V | None:
        if key in self._items:
            self._items.move_to_end(key)
            self.hits += 1
            return self._items[key]
        self.misses += 1
        return None

    def put(self, key: K, value: V) -> V:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items


@dataclass
class PreviewResult:
    """One previewed frame.

    Attributes:
        index: 0-based clip frame index.
        before: the decoded frame, RGB uint8 (H, W, 3) (shared with the cache: do not modify).
        after: the edited frame, RGB uint8 (H, W, 3).
        mattes: track id -> that face's blend alpha in frame coordinates, float32 (H, W) in [0, 1].
        faces: every face in the frame (selected or not), track id -> ``Face``.
        selected: the track ids that were edited in this frame (ascending).
        look: the Look resolved at ``index`` (keyframes applied).
        timings: milliseconds per stage: ``decode``, ``align``, ``edit``, ``blend``, ``total``.
        cached: stage -> True when that stage came from the cache (``decode``, ``align``, ``edit``).
    """

    index: int
    before: Image
    after: Image
    mattes: dict[int, Mask]
    faces: dict[int, Face]
    selected: list[int]
    look: Look
    timings: dict[str, float] = field(default_factory=dict)
    cached: dict[str, bool] = field(default_factory=dict)

    @property
    def ms(self) -> float:
        """Total milliseconds this preview took."""
        return float(self.timings.get("total", 0.0))

    @property
    def matte(self) -> Mask:
        """Union of the mattes (float32 (H, W) in [0, 1]); zeros when no face was edited."""
        out = np.zeros(self.before.shape[:2], np.float32)
        for m in self.mattes.values():
            np.maximum(out, m, out=out)
        return out


def _json_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _structure_key(look: Look) -> str:
    """What an editor's ``prepare(look, analysis)`` may depend on: the look without its numeric edit
    values, blend section and keyframes (a slider move does not re-prepare a swap's sources)."""
    data = look.to_dict()
    for key in ("blend", "keyframes", "name", "notes", "burn_in"):
        data.pop(key, None)
    data["edit"] = {k: v for k, v in data["edit"].items() if _has_text(v)}
    return _json_key(data)


def _has_text(value: Any) -> bool:
    """True for strings and for lists / dicts holding any (a swap's sources), False for numbers and
    dicts of numbers (the makeup editor's per-region ``wrinkles``)."""
    if isinstance(value, str):
        return True
    if isinstance(value, dict):
        return any(_has_text(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_text(v) for v in value)
    return False


class PreviewEngine:
    """Renders single frames of a shot for the notebook preview, from the cached analysis.

    Args:
        clip: a ``deage.video.Clip`` or a path ``deage.video.open_clip`` accepts (then the engine
            owns it and ``close`` closes it).
        analysis: the clip's ``deage.face.analysis.Analysis`` (None only for editors that need no
            faces, e.g. ``"identity"``).
        look: the Look to preview (copied; change it with ``set_look``).
        tracks: track ids to edit; None follows ``look.faces`` (as ``render_clip`` does).
        frame_cache, crop_cache, edit_cache: how many decoded frames, aligned crops and edit
            results to keep (least recently used are dropped).
        editor: an already-built editor to use instead of building the look's (tests, benchmarks).
        device: where the renderer aligns and composites (``deage.render.resolve_device``; default
            ``$DEAGE_DEVICE`` or the CPU). On a GPU the renderer's torch path draws the preview.

    Thread safety: every method takes the engine's lock, so a worker thread may render while the
    UI thread asks for a thumbnail.
    """

    def __init__(
        self,
        clip: Any,
        analysis: Any | None = None,
        look: Look | None = None,
        *,
        tracks: list[int] | None = None,
        frame_cache: int = 12,
        crop_cache: int = 16,
        edit_cache: int = 16,
        editor: Any | None = None,
        device: Any = None,
    ) -> None:
        from deage.video import open_clip

        self._owns_clip = isinstance(clip, (str, Path))
        self.clip = open_clip(clip) if self._owns_clip else clip
        self.analysis = analysis
        if analysis is not None and analysis.frame_count != len(self.clip):
            raise DeageError(
                f"the analysis has {analysis.frame_count} frames but the clip has {len(self.clip)}: "
                "it belongs to another clip", getattr(self.clip.info, "path", None))
        self._lock = threading.RLock()
        self._frames: LRU[int, Image] = LRU(frame_cache)
        self._crops: LRU[tuple[int, int, int], AlignedFace] = LRU(crop_cache)
        self._edits: LRU[tuple, Any] = LRU(edit_cache)
        self._fixed_editor = editor
        self._device = device
        self._tracks_override = None if tracks is None else [int(t) for t in tracks]
        self._selection: tuple[str, list[int]] | None = None
        self._renderer: Any = None
        self._renderer_key: tuple[str, str] | None = None
        self._look = Look()
        self.set_look(look or Look())

    # ---- state -----------------------------------------------------------------------------------
    @property
    def look(self) -> Look:
        """A copy of the Look being previewed."""
        with self._lock:
            return copy.deepcopy(self._look)

    def set_look(self, look: Look) -> None:
        """Preview ``look`` from now on (copied). Rebuilds the editor only when the editor name or
        the look's structure (swap sources, face choice) changed; raises LookError on a bad look."""
        with self._lock:
            look = copy.deepcopy(look)
            key = (look.editor, _structure_key(look))
            if self._renderer is None or key != self._renderer_key:
                from deage.render import FrameRenderer

                self._renderer = FrameRenderer(look, analysis=self.analysis, editor=self._fixed_editor,
                                               device=self._device)
                self._renderer_key = key
                self._edits.clear()
            self._look = look

    def set_tracks(self, tracks: list[int] | None) -> None:
        """Edit these track ids (None: follow ``look.faces``)."""
        with self._lock:
            self._tracks_override = None if tracks is None else [int(t) for t in tracks]

    @property
    def needs_faces(self) -> bool:
        return bool(self._renderer.needs_faces)

    def selected_tracks(self) -> list[int]:
        """The track ids the preview edits (the override, else ``look.faces`` resolved once per value)."""
        with self._lock:
            if self._tracks_override is not None:
                return list(self._tracks_override)
            if self.analysis is None:
                return []
            how = self._look.faces
            key = _json_key(how)
            if self._selection is None or self._selection[0] != key:
                from deage.face.select import select_tracks

                if isinstance(how, dict):
                    how = Path(how["reference"])
                self._selection = (key, select_tracks(self.analysis, how) if self.analysis.tracks else [])
            return list(self._selection[1])

    # ---- cached inputs ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.clip)

    def frame(self, index: int) -> Image:
        """Decoded frame ``index`` (RGB uint8 (H, W, 3)), from the cache when it was read recently.
        The array is shared with the cache: do not modify it."""
        with self._lock:
            return self._frame(index)[0]

    def _frame(self, index: int) -> tuple[Image, bool]:
        if not 0 <= index < len(self.clip):
            raise DeageError(f"frame {index} is out of range (the clip has {len(self.clip)} frames)",
                             getattr(self.clip.info, "path", None))
        cached = self._frames.get(index)
        if cached is not None:
            return cached, True
        image = self.clip.read(index)
        image.setflags(write=False)
        return self._frames.put(index, image), False

    def faces_at(self, index: int) -> dict[int, Face]:
        """Every face of frame ``index``: track id -> ``Face`` (empty without an analysis)."""
        return {} if self.analysis is None else self.analysis.faces_at(index)

    def _aligned(self, frame: Image, index: int, track_id: int, face: Face, size: int,
                 template: str) -> tuple[AlignedFace, bool]:
        from deage.face.align import align_face

        key = (index, track_id, size, template)
        cached = self._crops.get(key)
        if cached is not None:
            return cached, True
        return self._crops.put(key, align_face(frame, face, template, size)), False

    # ---- rendering -------------------------------------------------------------------------------
    def render(self, index: int) -> PreviewResult:
        """Edit frame ``index`` with the current Look: the same pixels ``FrameRenderer.render`` gives.

        Raises:
            DeageError: index out of range, unreadable frame, or the editor's own errors (a bad
                parameter, a missing model, a swap source without consent...).
        """
        with self._lock:
            return self._render(index)

    def _render(self, index: int) -> PreviewResult:
        from deage.blend.composite import composite
        from deage.blend.fade import faded_blend
        from deage.blend.other_faces import others_in, spare_other_faces
        from deage.blend.params import BlendParams
        from deage.edit.base import crop_size_for, editor_template
        from deage.face.align import align_face

        t0 = time.perf_counter()
        timings = {"decode": 0.0, "align": 0.0, "edit": 0.0, "blend": 0.0}
        cached = {"decode": False, "align": True, "edit": True}
        frame, cached["decode"] = self._frame(index)
        timings["decode"] = (time.perf_counter() - t0) * 1e3
        look = self._look.at(index)
        renderer = self._renderer
        all_faces = self.faces_at(index)
        if self.analysis is not None and renderer.needs_faces:
            from deage.render import measure_tracks

            measure_tracks(self._look, self.analysis, self.selected_tracks(),
                           lambda i: self._frame(i)[0])  # once a track
        mattes: dict[int, Mask] = {}
        selected: list[int] = []
        out = frame
        if renderer.needs_faces and getattr(renderer, "device", None) is not None:
            # The GPU path ($DEAGE_DEVICE=cuda): the renderer's own torch code, so the preview shows
            # its pixels; nothing to cache (alignment and blending run on the GPU).
            present = [(t, all_faces[t]) for t in self.selected_tracks() if t in all_faces]
            todo = {t: f for t, f in present if f.landmarks is not None}
            renderer.look = self._look
            t = time.perf_counter()
            out, masks = renderer.render(frame.copy(), index, todo)  # torch warns on read-only arrays
            timings["edit"] = (time.perf_counter() - t) * 1e3
            mattes = dict(zip(todo, masks))
            selected = list(mattes)
            cached.update(align=False, edit=False)
        elif renderer.needs_faces:
            spec, editor = renderer.spec, renderer.editor
            params = spec.params_from_dict(look.edit)
            blend = BlendParams.from_dict(look.blend)
            edit_key = (look.editor, _json_key(look.edit))
            template = editor_template(editor)
            wanted = self.selected_tracks()
            touched: list[tuple[int, int, int, int]] = []  # frame boxes already composited
            for track_id in wanted:
                face = all_faces.get(track_id)
                if face is None or face.landmarks is None:
                    continue
                size = crop_size_for(face, template)
                t = time.perf_counter()
                # FrameRenderer aligns each face from the frame as edited so far: a crop that
                # overlaps an earlier face's edit must be taken from the edited frame (not cached).
                clean = not any(_overlaps(_crop_box(face, size, frame.shape, template), box) for box in touched)
                if clean:
                    aligned, hit = self._aligned(frame, index, track_id, face, size, template)
                else:
                    aligned, hit = align_face(out, face, template, size), False
                cached["align"] &= hit
                t1 = time.perf_counter()
                key = (index, track_id, size, edit_key)
                result = self._edits.get(key) if clean else None
                if result is None:
                    cached["edit"] = False
                    result = renderer.edit_face(aligned, params, track_id, index)
                    if clean:
                        self._edits.put(key, result)
                t2 = time.perf_counter()
                result = spare_other_faces(result, aligned, face, others_in(all_faces, track_id))
                out, matte = composite(out, aligned, result, faded_blend(blend, self.analysis, track_id, index),
                                       return_mask=True)
                t3 = time.perf_counter()
                timings["align"] += (t1 - t) * 1e3
                timings["edit"] += (t2 - t1) * 1e3
                timings["blend"] += (t3 - t2) * 1e3
                mattes[track_id] = matte
                selected.append(track_id)
                box = _matte_box(matte)
                if box is not None:
                    touched.append(box)
        if out is frame:
            out = frame.copy()
        if look.burn_in:  # as render_clip stamps every output frame
            from deage.review.burn_in import burn_in_label

            out = burn_in_label(out)
        timings["total"] = (time.perf_counter() - t0) * 1e3
        return PreviewResult(index=index, before=frame, after=out, mattes=mattes, faces=all_faces,
                             selected=sorted(selected), look=look, timings=timings, cached=cached)

    def cache_info(self) -> dict[str, tuple[int, int, int]]:
        """``{"frames"|"crops"|"edits": (entries, hits, misses)}``."""
        with self._lock:
            return {name: (len(c), c.hits, c.misses)
                    for name, c in (("frames", self._frames), ("crops", self._crops), ("edits", self._edits))}

    def clear_cache(self) -> None:
        with self._lock:
            self._frames.clear()
            self._crops.clear()
            self._edits.clear()

    def close(self) -> None:
        """Close the clip if the engine opened it."""
        with self._lock:
            if self._owns_clip:
                self.clip.close()

    def __enter__(self) -> PreviewEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _crop_box(face: Face, size: int, shape: tuple[int, ...], template: str) -> tuple[int, int, int, int]:
    """Frame-pixel bounding box (x0, y0, x1, y1) of the ``template`` crop of ``face`` at ``size``."""
    from deage.face.align import estimate_alignment, invert_affine, transform_points

    inverse = invert_affine(estimate_alignment(face.keypoints5, template, size, face.pixel_aspect))
    corners = transform_points(np.array([[0, 0], [size, 0], [0, size], [size, size]], np.float32), inverse)
    x0, y0 = np.floor(corners.min(0)).astype(int) - 2
    x1, y1 = np.ceil(corners.max(0)).astype(int) + 2
    return max(int(x0), 0), max(int(y0), 0), min(int(x1), shape[1]), min(int(y1), shape[0])


def _matte_box(matte: Mask) -> tuple[int, int, int, int] | None:
    rows = np.flatnonzero(matte.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(matte[rows[0]:rows[-1] + 1].any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


# ---------------------------------------------------------------------------------------- coalescing


@dataclass
class Done(Generic[Req, Res]):
    """A finished request of ``LatestWins``.

    Attributes:
        seq: the number ``submit`` returned for this request.
        request: the request.
        result: what the work function returned (None when it raised).
        error: the exception it raised, or None.
        seconds: wall time of the work function.
        superseded: True when a newer request was already waiting when this one finished.
    """

    seq: int
    request: Req
    result: Res | None
    error: BaseException | None
    seconds: float
    superseded: bool


class LatestWins(Generic[Req, Res]):
    """Runs ``work`` on the newest request only, in one background thread.

    ``submit`` never blocks: a request submitted while the worker is busy replaces any request
    still waiting, so a burst of N submits runs ``work`` at most twice more (the one in flight and
    the last), and the last request submitted is always the last one run. ``on_done`` is called
    in the worker thread with a ``Done`` after every run, in submission order.

    Args:
        work: the function to run on a request (in the worker thread).
        on_done: called with each ``Done`` (in the worker thread; exceptions it raises are
            swallowed after being stored in ``callback_error``).
        name: the thread's name.
    """

    def __init__(self, work: Callable[[Req], Res], on_done: Callable[[Done[Req, Res]], None] | None = None,
                 *, name: str = "deage-preview") -> None:
        self._work = work
        self._on_done = on_done
        self._name = name
        self._cond = threading.Condition()
        self._pending: tuple[int, Req] | None = None
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._seq = 0
        self.submitted = 0
        self.runs = 0
        self.last: Done[Req, Res] | None = None
        self.callback_error: BaseException | None = None

    def submit(self, request: Req) -> int:
        """Queue ``request`` (replacing any request not yet started); returns its sequence number."""
        with self._cond:
            if self._closed:
                raise RuntimeError("LatestWins is closed")
            self._seq += 1
            self.submitted += 1
            self._pending = (self._seq, request)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify_all()
            return self._seq

    @property
    def idle(self) -> bool:
        with self._cond:
            return self._pending is None and not self._busy

    def wait(self, timeout: float | None = None) -> bool:
        """Block until nothing is waiting or running (True), or ``timeout`` seconds pass (False)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending is None and not self._busy, timeout)

    def close(self, timeout: float | None = 5.0) -> None:
        """Drop any waiting request, let the running one finish, stop the thread."""
        with self._cond:
            self._closed = True
            self._pending = None
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None or self._closed)
                if self._closed:
                    return
                assert self._pending is not None
                seq, request = self._pending
                self._pending = None
                self._busy = True
            started = time.perf_counter()
            result: Res | None = None
            error: BaseException | None = None
            try:
                result = self._work(request)
            except Exception as exc:  # reported through Done.error, never lost in a thread
                error = exc
            with self._cond:
                self.runs += 1
                done = Done(seq, request, result, error, time.perf_counter() - started, self._pending is not None)
                self.last = done
            try:
                if self._on_done is not None:
                    self._on_done(done)
            except Exception as exc:
                self.callback_error = exc
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
