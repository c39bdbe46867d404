"""Render frames and whole clips: a pure function of (clip, analysis, Look).

``FrameRenderer`` edits one frame (used by the clip render, the notebook preview and the workers of
a distributed render); ``render_clip`` streams a clip through it. The stream is a three-stage
pipeline (``deage.scale.pipeline``): decoding, editing and encoding run on their own threads and
overlap, and memory holds only the frames in flight, whatever the clip's length. The audio is
copied through, an optional matte (the union of the per-face blend masks) is written beside the
picture, and a provenance sidecar records what made the output.

Renders on several processes or machines: ``deage.scale.ray_render.render_clip_ray`` gives the
same pixels (and, on the same machine, the same file bytes).

GPU: ``FrameRenderer(device="cuda")`` (or ``DEAGE_DEVICE=cuda``) aligns faces and composites them
on torch CUDA tensors (``deage.gpu``); the editors keep their own device. Without CUDA it warns and
uses the CPU path, the default, which the GPU path matches within 2 levels (see ``deage.gpu``).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from deage.arrays import any_channel_differs
from deage.errors import DeageError, LookError
from deage.face.glasses import wears_glasses
from deage.face.learned_masks import LearnedMasks
from deage.look import Look, default_look
from deage.types import Face, Image

ProgressFn = Callable[[int, int], None]  # (frames done, frames total)
DEVICE_ENV = "DEAGE_DEVICE"


def parse_frame_range(text: str | None, frame_count: int) -> tuple[int, int]:
    """Parse ``"A:B"`` (0-based clip indices, B exclusive, either side may be omitted, a negative
    one counted from the end as in Python: ``"-24:"`` is the last 24 frames) into a range.

    Raises:
        DeageError: malformed text, or a range that is empty or outside the clip.
    """
    if text is None or text in ("", ":"):
        return 0, frame_count
    start_text, sep, stop_text = text.partition(":")
    try:
        start = int(start_text) if start_text else 0
        start += frame_count if start < 0 else 0
        stop = int(stop_text) if (sep and stop_text) else (frame_count if sep else start + 1)
        stop += frame_count if stop < 0 else 0
    except ValueError:
        raise DeageError(f"frame range {text!r} is not A:B (0-based, B exclusive)") from None
    if not 0 <= start < stop <= frame_count:
        raise DeageError(f"frame range {text!r} is empty or outside the clip's {frame_count} frames (0..{frame_count})")
    return start, stop


@dataclass
class RenderResult:
    """What a clip render did.

    Attributes:
        output: the written file (or sequence pattern).
        frame_range: (start, stop) 0-based clip indices rendered, stop exclusive.
        faces_edited: number of (frame, face) pairs edited.
        frames_without_face: frames in the range where no selected face was present (passed through untouched).
        seconds: wall time of the render.
        provenance: path of the sidecar JSON.
        matte: the matte output, when one was written.
    """

    output: Path
    frame_range: tuple[int, int]
    faces_edited: int = 0
    frames_without_face: list[int] = field(default_factory=list)
    seconds: float = 0.0
    provenance: Path | None = None
    matte: Path | None = None

    @property
    def frames(self) -> int:
        return self.frame_range[1] - self.frame_range[0]

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def resolve_device(device: Any = None) -> Any:
    """The torch device the GPU path runs on, or None for the CPU (numpy / OpenCV) path.

    Args:
        device: None (read ``$DEAGE_DEVICE``, default ``"cpu"``); ``"cpu"``; ``"auto"`` (CUDA when
            torch sees it, else the CPU path); ``"cuda"`` / ``"cuda:N"`` (warns and uses the CPU
            path when torch sees no CUDA); or a ``torch.device``, which forces the torch path on
            that device (``torch.device("cpu")`` runs the GPU code on the CPU, for tests).

    Raises:
        DeageError: an unknown device string.
    """
    if device is None:
        device = os.environ.get(DEVICE_ENV, "").strip() or "cpu"
    if not isinstance(device, str):
        return device  # a torch.device: the torch path, wherever it points
    from deage.onnx_session import parse_device

    kind, index = parse_device(device)
    if kind == "cpu":
        return None
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda", index)
    if kind != "auto":
        warnings.warn(f"device {device!r} was requested but torch sees no CUDA device; rendering on the CPU",
                      RuntimeWarning, stacklevel=3)
    return None


class FrameRenderer:
    """Edits one frame with a Look, given the faces of that frame.

    Build it once per shot (it builds the editor once); call ``render`` per frame, from any number
    of threads (editors are pure functions of their input). Editors that need the whole shot (a
    face swap resolving which source goes on which track) have a ``prepare(look, analysis)``
    method, called here once; editors with ``per_track = True`` receive the face's ``track_id`` in
    ``edit``, and editors with ``uses_motion = True`` how far the face moves a frame (``motion``,
    crop pixels; a swap's motion blur).

    The Look's ``masks`` models (a face parser, an occluder: ``deage.face.learned_masks``) are
    built here once too, and applied to every face's edit.

    Args:
        look: the Look.
        analysis: the clip's ``Analysis`` (for editors with ``prepare``, and for fading edits in and
            out where a track starts or ends inside the shot: ``BlendParams.fade``).
        editor: an editor instance to use instead of building the Look's.
        device: where alignment and compositing run; see ``resolve_device`` (default: the CPU, or
            ``$DEAGE_DEVICE``).
        masks: a parser and occluder to use instead of building the Look's ``masks``.
    """

    def __init__(self, look: Look, *, analysis: Any | None = None, editor: Any | None = None,
                 device: Any = None, masks: LearnedMasks | None = None) -> None:
        from deage.edit.registry import editor_spec

        self.look = look
        try:
            self.spec = editor_spec(look.editor)
        except KeyError as exc:
            raise LookError(str(exc.args[0])) from None
        self.editor = editor if editor is not None else self.spec.build()
        if masks is None:
            masks = LearnedMasks.build(look.masks) if self.spec.needs_faces else LearnedMasks()
        self.masks = masks
        self.analysis = analysis
        if hasattr(self.editor, "use_masks"):  # an editor that uses them beyond its mask (a swap's sources)
            self.editor.use_masks(masks)
        if hasattr(self.editor, "prepare"):
            self.editor.prepare(look, analysis)
        self.device = resolve_device(device)
        self._streams = threading.local()

    @property
    def needs_faces(self) -> bool:
        return self.spec.needs_faces

    def render(self, frame: Image, index: int, faces: dict[int, Face], *,
               masks: bool = True) -> tuple[Image, list[np.ndarray]]:
        """Edit ``frame`` (RGB uint8 (H, W, 3), not modified) at clip index ``index``.

        ``faces`` maps track id -> that track's face in this frame (the selected tracks only).

        Returns the new frame and, per edited face, its blend mask in frame coordinates
        (float32 (H, W) in [0, 1]; the union is the matte for compositing); no masks (an empty
        list) when ``masks`` is False, which saves a frame-sized array per face.
        """
        mattes: list[np.ndarray] = []
        if not self.spec.needs_faces:
            return frame.copy(), mattes
        look = self.look.at(index)
        from deage.blend.params import BlendParams

        params = self.spec.params_from_dict(look.edit)
        blend = BlendParams.from_dict(look.blend)
        todo = [(track_id, face) for track_id, face in faces.items() if face.landmarks is not None]
        if not todo:
            return frame.copy(), mattes
        from deage.blend.fade import faded_blend
        from deage.edit.base import crop_size_for, editor_template

        blends = {track_id: faded_blend(blend, self.analysis, track_id, index) for track_id, _ in todo}
        template = editor_template(self.editor)
        # Every face of the frame, selected or not: no face's edit may touch another's features.
        everyone = self.analysis.faces_at(index) if self.analysis is not None else faces
        if self.device is not None:
            from deage.gpu.render import render_faces_torch

            with self._stream():
                return render_faces_torch(frame, todo, lambda a, p, t: self.edit_face(a, p, t, index), params,
                                          blends, self.device, masks=masks, template=template, everyone=everyone)
        from deage.blend.composite import composite
        from deage.blend.other_faces import others_in, spare_other_faces
        from deage.face.align import align_face

        out = frame
        for track_id, face in todo:
            aligned = align_face(out, face, template, crop_size_for(face, template))
            result = spare_other_faces(self.edit_face(aligned, params, track_id, index), aligned, face,
                                       others_in(everyone, track_id))
            if masks:
                out, mask = composite(out, aligned, result, blends[track_id], return_mask=True)
                mattes.append(mask)
            else:
                out = composite(out, aligned, result, blends[track_id])
        return out, mattes

    def pasted(self, frame: Image, index: int, faces: dict[int, Face]) -> Image:
        """``frame`` (RGB uint8 (H, W, 3), not modified) with each face's edit content pasted
        whole, square and unblended (``EditResult.content``, else its image): what the edit itself
        holds out to its crop's edge (a replacement's new face and its features, before they are
        mixed with the plate), for the review's seam measure (``deage.review.measures.seam_ratio``)."""
        if not self.spec.needs_faces:
            return frame.copy()
        import cv2

        from deage.edit.base import crop_size_for, editor_template
        from deage.face.align import align_face, invert_affine

        params = self.spec.params_from_dict(self.look.at(index).edit)
        template = editor_template(self.editor)
        out = frame.copy()
        height, width = frame.shape[:2]
        for track_id, face in faces.items():
            if face.landmarks is None:
                continue
            aligned = align_face(frame, face, template, crop_size_for(face, template))
            back = invert_affine(aligned.matrix)
            result = self.edit_face(aligned, params, track_id, index)
            image = result.content if result.content is not None else result.image
            warped = cv2.warpAffine(image, back, (width, height), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_CONSTANT)
            inside = cv2.warpAffine(np.ones(image.shape[:2], np.float32), back, (width, height),
                                    flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT) > 0.999
            out[inside] = warped[inside]
        return out

    def _stream(self) -> Any:
        """A CUDA stream of this thread's own while on a CUDA device (threads then do not wait
        on each other's work when they copy results back), else a no-op context."""
        if self.device is None or self.device.type != "cuda":
            return contextlib.nullcontext()
        import torch

        stream = getattr(self._streams, "stream", None)
        if stream is None:
            stream = self._streams.stream = torch.cuda.Stream(self.device)
        return torch.cuda.stream(stream)

    def edit_face(self, aligned: Any, params: Any, track_id: int, index: int | None = None) -> Any:
        """The editor's result on one aligned face, with the Look's parser and occluder applied.
        Editors with ``uses_motion = True`` also get ``motion``: float64 (2,) crop pixels the
        face moves a frame at clip index ``index`` (``Analysis.motion``), when it is known."""
        extra: dict[str, Any] = {"track_id": track_id} if getattr(self.editor, "per_track", False) else {}
        if index is not None and self.analysis is not None and getattr(self.editor, "uses_motion", False):
            moved = self.analysis.motion(track_id, index)
            if moved is not None:
                extra["motion"] = np.asarray(aligned.matrix, np.float64)[:, :2] @ moved
        return self.masks.edit(self.editor, aligned, self.params_for(params, track_id), **extra)

    def params_for(self, params: Any, track_id: int) -> Any:
        """``params`` for one face: an unset ``wears_glasses`` (makeup and swap) is set from the
        track's share of frames with glasses (``Analysis.glasses``, ``glasses.wears_glasses``);
        parameters that depend on how old a face looks (the makeup de-ager's,
        ``for_apparent_age``) are resolved with that track's apparent age
        (``Analysis.apparent_ages``); where none was measured they stay as they are.

        Raises:
            DeageError: a ``target_age`` and no apparent age measured for the track.
        """
        if getattr(params, "wears_glasses", True) is None and self.analysis is not None:
            worn = wears_glasses(self.analysis.glasses.get(track_id))
            if worn is not None:
                params = replace(params, wears_glasses=worn)
        if not hasattr(params, "for_apparent_age"):
            return params
        age = self.analysis.apparent_ages.get(track_id) if self.analysis is not None else None
        if age is None:
            if getattr(params, "target_age", None) is None:
                return params
            raise DeageError(f"the look's target_age needs how old face track {track_id} looks, and it was not "
                             "measured (deage.face.apparent_age.measure_tracks; render_clip and the studio do it)")
        return params.for_apparent_age(age)


@dataclass
class FaceSelection:
    """The faces a render edits: the clip's analysis and the selected track ids (None: no faces)."""

    analysis: Any | None
    track_ids: list[int]

    def faces_at(self, index: int) -> dict[int, Face]:
        """``{track id: Face}`` of the selected tracks present in frame ``index``."""
        if self.analysis is None:
            return {}
        present = self.analysis.faces_at(index)
        return {t: present[t] for t in self.track_ids if t in present}


@dataclass
class RangeStats:
    """Counts of a rendered range (see ``RenderResult``)."""

    faces_edited: int = 0
    frames_without_face: list[int] = field(default_factory=list)


def render_frames(
    frames: Any,
    renderer: FrameRenderer,
    selection: FaceSelection,
    sink: Callable[[int, Image, np.ndarray | None], None],
    *,
    start: int,
    stop: int,
    lead_in: int = 0,
    matte: bool = False,
    burn_in: bool = False,
    workers: int | None = None,
    progress: ProgressFn | None = None,
    deep: bool = False,
    prepare: Callable[..., tuple[Any, Any]] | None = None,
    conversion: Callable[[], Any] | None = None,
    processes: int = 0,
    encodes_over: Callable[[Any], bool] | None = None,
) -> RangeStats:
    """Stream clip frames ``start - lead_in .. stop - 1`` through ``renderer`` into ``sink``.

    Args:
        frames: an iterable of RGB uint8 frames starting at clip index ``start - lead_in``
            (``clip.frames(start - lead_in, stop)``); with ``deep``, float32 RGB frames at the
            source's full precision (``clip.frames_float(...)``). Items may also be zero-argument
            functions giving such a frame (``clip.deferred_frames``): they are called on the
            editing threads, so the RGB conversion does not hold up decoding.
        renderer, selection: how to edit, and which faces.
        sink: ``sink(index, image, matte)`` for every frame from ``start`` on, in order, on the
            calling thread; ``matte`` is uint16 (H, W) when ``matte`` is set, else None.
        lead_in: frames rendered first and not passed to the sink.
        burn_in: burn the "AI-altered" label into the image (not the matte).
        workers: editing threads (default ``PipelineSettings.for_machine()``).
        progress: ``progress(done, total)`` after each frame passed to the sink.
        deep: the frames are float32 (10/12/16-bit or float EXR plates): each is edited through its
            8-bit view and the edit is added back to the plate as a difference (``onto_plate``), so
            every pixel the edit leaves alone keeps the plate's exact value, highlights above 1
            included; the sink then gets float32 images.
        prepare: ``prepare(image, matte, source_alpha=...) -> (image, matte)`` (``source_alpha``:
            ``DeferredFrame.alpha``, the frame's own alpha, or None), called on the editing threads
            before the sink (``RenderOutputs.prepare``: the encoder's colour conversion; with
            ``processes`` it also receives the workers' ``FramePlanes``).
        conversion: with ``processes``: gives the picture encoder's ``EncoderConversion`` (or
            None while it is not known yet), which the workers then apply (``RenderOutputs.conversion``).
        processes: edit on this many worker processes (``deage.scale.processes``) instead of
            threads (``workers`` is then ignored); 0 = threads.
        encodes_over: ``RenderOutputs.encodes_over``: for frames given as ``DeferredFrame`` that
            it accepts, only what the edit changed is handed on, as
            ``prepare(change, matte, decoded=...)`` (``deage.video.passthrough``: every pixel the
            edit left alone reaches the encoder with the source's own code values).
    """
    from deage.scale.allocator import keep_freed_memory
    from deage.scale.pipeline import PipelineSettings, run_pipeline
    from deage.scale.processes import ProcessEditing
    from deage.video.passthrough import find_change
    from deage.video.pixels import float_to_uint8
    from deage.video.reader import DeferredFrame

    editing = ProcessEditing(renderer, processes) if processes else None
    if editing is not None:
        settings = PipelineSettings(workers=editing.processes)
    else:
        settings = PipelineSettings.for_machine() if workers is None else PipelineSettings(workers=workers)
    stats = RangeStats()
    first = start - lead_in

    def edit(index: int, frame: Image, faces: dict[int, Face], change: bool) -> tuple[Any, np.ndarray | None]:
        if editing is not None:
            if change:  # the worker sends back only what changed
                return editing.edit(index, frame, faces, matte=matte, burn_in=burn_in, change=True)
            encoder = conversion() if conversion is not None and not deep and index >= start else None
            return editing.edit(index, frame, faces, matte=matte, burn_in=burn_in, conversion=encoder)
        return edit_frame(renderer, index, frame, faces, matte=matte, burn_in=burn_in)

    def process(item: tuple[int, Any]) -> tuple[int, Any, np.ndarray | None, int]:
        index, frame = item
        decoded = None
        source_alpha = frame.alpha if isinstance(frame, DeferredFrame) else None
        if isinstance(frame, DeferredFrame) and prepare is not None and index >= start \
                and encodes_over is not None and encodes_over(frame):
            decoded = frame.decoded
        if callable(frame):
            frame = frame()
        plate = frame if deep else None
        if plate is not None:
            frame = float_to_uint8(plate)
        faces = selection.faces_at(index) if renderer.needs_faces else {}
        worker_change = decoded is not None and editing is not None and plate is None
        out, alpha = edit(index, frame, faces, worker_change)
        if plate is not None:
            out = onto_plate(plate, frame, out)
        if decoded is not None:
            change = out if worker_change else find_change(plate if plate is not None else frame, out)
            out, alpha = prepare(change, alpha, decoded=decoded)
        elif prepare is not None and index >= start:
            out, alpha = prepare(out, alpha, source_alpha=source_alpha)
        return index, out, alpha, len(faces)

    def deliver(result: tuple[int, Image, np.ndarray | None, int]) -> None:
        index, out, alpha, count = result
        if index < start:
            return
        stats.faces_edited += count
        if renderer.needs_faces and count == 0:
            stats.frames_without_face.append(index)
        sink(index, out, alpha)
        if progress is not None:
            progress(index - start + 1, stop - start)

    keep_freed_memory()
    with editing if editing is not None else contextlib.nullcontext():
        run_pipeline(zip(range(first, stop), frames), process, deliver, settings)
    return stats


def edit_frame(renderer: FrameRenderer, index: int, frame: Image, faces: dict[int, Face], *,
               matte: bool = False, burn_in: bool = False) -> tuple[Image, np.ndarray | None]:
    """One frame of a render: ``renderer.render``, the burnt-in label when ``burn_in``, and the
    uint16 (H, W) matte when ``matte`` (else None)."""
    from deage.review.burn_in import burn_in_label
    from deage.scale.outputs import matte_to_uint16

    out, masks = renderer.render(frame, index, faces, masks=matte)
    if burn_in:
        out = burn_in_label(out)
    return out, (matte_to_uint16(masks, frame.shape[:2]) if matte else None)


def onto_plate(plate: np.ndarray, before: Image, after: Image) -> np.ndarray:
    """Apply an edit made on an 8-bit view to the full-precision plate.

    Args:
        plate: float32 RGB (H, W, 3), the source frame (values may exceed [0, 1]).
        before: its RGB uint8 view (``float_to_uint8(plate)``) that was edited.
        after: the edited RGB uint8 frame.

    Returns:
        float32 (H, W, 3): ``plate`` where ``after`` equals ``before`` (the very same values), else
        ``plate + (after - before) / 255``. ``plate`` itself is returned when nothing changed.
    """
    changed = any_channel_differs(after, before)
    if not changed.any():
        return plate
    ys, xs = np.nonzero(changed.any(axis=1))[0], np.nonzero(changed.any(axis=0))[0]
    y0, y1, x0, x1 = ys[0], ys[-1] + 1, xs[0], xs[-1] + 1
    out = plate.copy()
    delta = (after[y0:y1, x0:x1].astype(np.float32) - before[y0:y1, x0:x1]) * np.float32(1.0 / 255.0)
    region = out[y0:y1, x0:x1]
    np.add(region, delta, out=region, where=changed[y0:y1, x0:x1, None])
    return out


def keeps_precision(info: Any, output: str | Path, codec: str | None) -> bool:
    """Whether a render of a clip (``ClipInfo``) into ``output`` should run on full-precision plates:
    the source has more than 8 bits per component and the output format can hold them."""
    from deage.video.pixels import bit_depth
    from deage.video.writer import codec_for, resolve_codec

    spec = resolve_codec(output, codec_for(output, codec, info.bit_depth))
    return info.bit_depth > 8 and bit_depth(spec.pix_fmt_deep) > 8


def render_clip(
    source: str | Path,
    output: str | Path,
    look: Look | None = None,
    *,
    frames: tuple[int, int] | None = None,
    analysis: Any | None = None,
    analysis_settings: Any | None = None,
    cache_dir: str | Path | None = None,
    codec: str | None = None,
    progress: ProgressFn | None = None,
    provenance: bool = True,
    operator: str | None = None,
    matte: str | Path | None = None,
    device: Any = None,
    workers: int | None = None,
    first_frame: int | None = None,
    processes: int = 0,
    still: bool | None = None,
) -> RenderResult:
    """Render ``source`` with ``look`` into ``output`` (format from the extension).

    A source with more than 8 bits per component (10-bit ProRes or HEVC, 16-bit PNG/TIFF, EXR)
    rendered into a format that holds them (``.mp4`` becomes HEVC Main 10 for such a source:
    ``deage.video.writer.codec_for``) is rendered on full-precision plates (``keeps_precision``):
    outside the edit the output keeps the plate's exact values (a half-float EXR plate too,
    highlights above 1 included).

    Args:
        source: a clip or image sequence deage.video can open.
        output: the output path; written under a temporary name and renamed when complete.
        look: the Look (default: ``default_look()``, ten years younger; ``Look()`` reproduces the input).
        frames: (start, stop) 0-based clip indices, stop exclusive; default the whole clip.
        analysis: a precomputed ``deage.face.analysis.Analysis`` (else computed or loaded from cache).
        analysis_settings, cache_dir: for computing / caching the analysis.
        codec: force a writer codec (see ``deage.video.ClipWriter``).
        progress: called with (frames done, frames total) after each frame.
        first_frame: number of the first file of an image-sequence output (e.g. 1001); default:
            the source's own number of the first rendered frame (1001 + start for a movie).
        provenance: write ``<output>.provenance.json``.
        operator: who rendered (recorded in the provenance; default the login name).
        matte: also write the union of the per-face blend masks here (a grey clip or image
            sequence, format from the extension; see ``deage.scale.outputs``).
        device: where faces are aligned and composited (``"cpu"``, ``"cuda"``...; ``resolve_device``).
        workers: editing threads (default ``PipelineSettings.for_machine()``: half the cores, 2 to 4).
        processes: edit on this many worker processes instead of threads (``deage.scale.processes``:
            for many-core and GPU machines, where threads stop scaling; same pixels); 0 = threads.
        still: open ``source``, an image file, as just that image although its name has a frame
            number (``open_clip(still=True)``); default: when the output is one image too
            (``face_007.jpg`` -> ``young.jpg`` renders that photo, not its numbered siblings).

    Raises:
        MediaError, OutputError, LookError, NoFaceError: bad input, with a one-line message.
    """
    from deage.safe_write import check_output_path
    from deage.scale.outputs import RenderOutputs
    from deage.video import open_clip

    look = look or default_look()
    source = Path(source)
    output = check_output_path(output, source)
    if matte is not None:
        matte = check_output_path(matte, source)
    needs_faces = _needs_faces(look)
    started = time.perf_counter()
    still = still_source(source, output, codec) if still is None else bool(still)
    masks = LearnedMasks.build(look.masks) if needs_faces else LearnedMasks()  # a missing file fails here
    with open_clip(source, still=still) as clip:
        start, stop = check_frames(frames, len(clip), source)
        check_still_output(output, codec, stop - start)
        selection = FaceSelection(None, [])
        if needs_faces:
            analysis, selected = _analyse_and_select(clip, look, analysis, analysis_settings, cache_dir)
            selection = FaceSelection(analysis, selected)
        renderer = FrameRenderer(look, analysis=selection.analysis, device=device, masks=masks)
        result = RenderResult(output=output, frame_range=(start, stop), matte=Path(matte) if matte else None)
        deep = keeps_precision(clip.info, output, codec)
        with RenderOutputs(output, **output_settings(clip, start, stop), codec=codec, matte=matte,
                           first_frame_number=first_frame,
                           alpha=clip.info.has_alpha) as outputs:
            outputs.begin(np.zeros((1, 1, 3), np.float32 if deep else np.uint8))
            stats = render_frames(
                clip.deferred_frames(start, stop, precision=deep), renderer, selection,
                outputs.write, start=start, stop=stop, matte=matte is not None, burn_in=look.burn_in,
                workers=workers, progress=progress, deep=deep, prepare=outputs.prepare,
                conversion=outputs.conversion, processes=processes, encodes_over=outputs.encodes_over,
            )
    result.faces_edited, result.frames_without_face = stats.faces_edited, stats.frames_without_face
    result.seconds = time.perf_counter() - started
    if provenance:
        extra = {"matte": str(result.matte)} if result.matte else None
        result.provenance = record_provenance(result, source, look, selection, renderer, operator, extra,
                                              source_still=still)
    return result


def render_image(image: Image, look: Look | None = None, *, analysis_settings: Any | None = None,
                 device: Any = None) -> Image:
    """Edit one photo in memory: analyse it, select its faces as the Look says, render it.

    Args:
        image: RGB uint8 (H, W, 3), or RGBA (H, W, 4) (a cut-out PNG as Pillow loads it: the
            colour is edited, the alpha returned as it is); not modified.
        look: the Look (default: ``default_look()``, ten years younger); keyframed values are taken at frame 0.
        analysis_settings: ``AnalysisSettings`` (default: HOG and, for a photo, dlib's CNN detector).
        device: see ``resolve_device``.

    Returns:
        The edited image, RGB uint8 (H, W, 3) (RGBA for RGBA input); pixels outside the blend
        masks are the input's.

    Raises:
        NoFaceError: the Look edits faces and the photo has none (or none the Look selects).
        LookError: a bad Look. DeageError: not an RGB / RGBA uint8 image.
    """
    from deage.face.analysis import AnalysisSettings, analyse_frames
    from deage.face.backends.dlib_backend import check_image

    look = look or default_look()
    if isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 4:
        rgb = render_image(np.ascontiguousarray(image[..., :3]), look, analysis_settings=analysis_settings,
                           device=device)
        return np.dstack([rgb, image[..., 3]])
    image = check_image(image, allow_gray=False)
    if not _needs_faces(look):
        return image.copy()
    analysis = analyse_frames([image], 1, analysis_settings or AnalysisSettings())
    selection = FaceSelection(*_analyse_and_select(None, look, analysis, None, None, read=lambda _index: image))
    out, _ = FrameRenderer(look, analysis=analysis, device=device).render(image, 0, selection.faces_at(0))
    return out


def record_provenance(result: RenderResult, source: Path, look: Look, selection: FaceSelection,
                      renderer: FrameRenderer, operator: str | None, extra: dict[str, Any] | None, *,
                      source_still: bool = False) -> Path:
    """Write the render's provenance sidecar (``deage.provenance``): analysis settings, the
    editor's own record, the model files of the Look's parser and occluder, and with a
    ``target_age`` the apparent age of each selected track (its years followed from it)."""
    from deage.provenance import write_provenance

    settings = selection.analysis.settings if selection.analysis is not None else None
    if uses_apparent_age(look) and selection.analysis is not None:
        ages = selection.analysis.apparent_ages
        extra = {**(extra or {}), "apparent_ages": {str(t): round(ages[t], 2) for t in selection.track_ids if t in ages}}
    return write_provenance(result, source=source, look=look, operator=operator, extra=extra,
                            models=renderer.masks.provenance(), analysis_settings=settings,
                            editor=renderer.editor, source_still=source_still)


def still_source(source: str | Path, output: str | Path, codec: str | None = None) -> bool:
    """Whether a render of ``source`` into ``output`` opens the source as just that image: the
    output is one image (``is_still_path``) and the source one numbered image file
    (``face_007.jpg``, not a ``%04d`` / ``####`` pattern), which would otherwise open with its
    numbered siblings."""
    from deage.video.sequence import is_numbered_file
    from deage.video.writer import is_still_path

    return is_still_path(output, codec) and is_numbered_file(source)


def check_frames(frames: tuple[int, int] | None, frame_count: int, source: Path) -> tuple[int, int]:
    """``frames`` (default the whole clip) checked against the clip's length."""
    start, stop = frames if frames is not None else (0, frame_count)
    if not 0 <= start < stop <= frame_count:
        raise DeageError(f"frame range {start}:{stop} is outside the clip's {frame_count} frames", source)
    return int(start), int(stop)


def check_still_output(output: str | Path, codec: str | None, frame_count: int) -> None:
    """A single-image output (``photo.png``: an image format, no frame-number pattern) takes one frame.

    Raises:
        OutputError: more than one frame to write there (before any work is done).
    """
    from deage.errors import OutputError
    from deage.video.writer import is_still_path

    if frame_count > 1 and is_still_path(output, codec):
        ext = Path(output).suffix
        raise OutputError(f"one image cannot hold {frame_count} frames; pick one frame (--frames N:N+1) or write "
                          f"a sequence (name.%04d{ext}) or a clip (.mp4, .mov)", output)


def output_settings(clip: Any, start: int, stop: int) -> dict[str, Any]:
    """``RenderOutputs`` keyword arguments for rendering frames ``start:stop`` of an open clip."""
    from deage.video.timecode import shift

    whole = (start, stop) == (0, len(clip))
    return {
        "info": clip.info,
        "timecode": shift(clip.info.timecode, start, clip.info.fps),
        "frame_range": (start, stop),
        "timestamps": clip.timestamps if clip.info.variable_frame_rate else None,
        "audio_range": None if whole else (clip.frame_time(start), clip.frame_time(stop)),
    }


def _needs_faces(look: Look) -> bool:
    from deage.edit.registry import editor_spec

    try:
        return editor_spec(look.editor).needs_faces
    except KeyError as exc:
        raise LookError(str(exc.args[0])) from None


def _analyse_and_select(clip: Any, look: Look, analysis: Any, settings: Any, cache_dir: Any,
                        read: Any = None) -> tuple[Any, list[int]]:
    """The clip's analysis (run or loaded when None) and the tracks the Look selects, with what
    the Look's edit of them depends on measured into the analysis (``measure_tracks``; frames from
    ``read``, index -> RGB frame, default ``clip.read``)."""
    from deage.face.analysis import AnalysisSettings, analyse_clip
    from deage.face.select import select_tracks

    if analysis is None:
        analysis = analyse_clip(clip, settings or AnalysisSettings(), cache_dir=cache_dir)
    how = look.faces
    if isinstance(how, dict):
        how = look.resolve_path(how["reference"])
    selected = select_tracks(analysis, how)
    measure_tracks(look, analysis, selected, read or clip.read)
    return analysis, selected


def measure_tracks(look: Look, analysis: Any, track_ids: Any, read: Any) -> None:
    """Measure, once a track, what the Look's edit of the ``track_ids`` depends on, on each
    track's best-seen frames: apparent ages (``measure_apparent_ages``) and glasses
    (``measure_glasses``); ``read``: frame index -> RGB uint8 frame, each read once for both
    (up to ``MEASURE_FRAMES`` held at a time)."""
    from functools import lru_cache

    frame = lru_cache(maxsize=MEASURE_FRAMES)(read)
    measure_apparent_ages(look, analysis, track_ids, frame)
    measure_glasses(look, analysis, track_ids, frame)


MEASURE_FRAMES = 8
"""Frames ``measure_tracks`` keeps between its measures (a track is measured on five)."""


def measure_glasses(look: Look, analysis: Any, track_ids: Any, read: Any) -> None:
    """Measure which of the ``track_ids`` wear glasses into ``analysis.glasses``
    (``deage.face.glasses.measure_tracks``) where the Look's editor keeps glasses frames (makeup,
    swap) and its edit leaves ``wears_glasses`` unset."""
    if look.editor not in ("makeup", "swap") or look.edit.get("wears_glasses") is not None:
        return
    from deage.face.glasses import measure_tracks as measure

    measure(analysis, track_ids, read)


def uses_apparent_age(look: Look) -> bool:
    """True when each face's edit depends on how old it looks: the Look's edit has a
    ``target_age`` (set, or keyframed), or it is the makeup de-ager's, whose preset gives hollows
    only to faces that look older and no shape or feature work to children
    (``MakeupParams.for_apparent_age``)."""
    return needs_apparent_age(look) or look.editor == "makeup"


def needs_apparent_age(look: Look) -> bool:
    """True when the Look cannot render without the faces' apparent ages: it has a ``target_age``
    (set, or keyframed). Other Looks that use them (``uses_apparent_age``) render without."""
    return look.edit.get("target_age") is not None or "edit.target_age" in look.keyframes


def measure_apparent_ages(look: Look, analysis: Any, track_ids: Any, read: Any) -> None:
    """Measure the apparent age of the ``track_ids`` the Look's edit depends on into
    ``analysis.apparent_ages`` (once a track: ``deage.face.apparent_age.measure_tracks``; ``read``:
    frame index -> RGB uint8 frame).

    Raises:
        WeightsError: the age model is missing and the Look needs the ages (``needs_apparent_age``);
            a Look that only uses them renders without (a ``RuntimeWarning`` says so).
    """
    if not uses_apparent_age(look):
        return
    from deage.face.apparent_age import measure_tracks

    try:
        measure_tracks(analysis, track_ids, read)
    except DeageError as exc:
        if needs_apparent_age(look):
            raise
        warnings.warn(f"faces rendered without their apparent age (the preset's hollows and its care of "
                      f"children's faces need it): {exc}", RuntimeWarning, stacklevel=2)
