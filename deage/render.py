"""Render frames and whole clips: a pure function of (clip, analysis, Look).

``FrameRenderer`` edits one frame (used by the clip render and by the notebook preview);
``render_clip`` streams a clip through it: decode -> edit each selected face -> encode, never
holding the clip in memory, with the audio copied through and a provenance sidecar beside the output.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from deage.errors import DeageError, LookError
from deage.look import Look
from deage.types import Face, Image

ProgressFn = Callable[[int, int], None]  # (frames done, frames total)


def parse_frame_range(text: str | None, frame_count: int) -> tuple[int, int]:
    """Parse ``"A:B"`` (0-based clip indices, B exclusive, either side may be omitted) into a range.

    Raises:
        DeageError: malformed text, or a range that is empty or outside the clip.
    """
    if text is None or text in ("", ":"):
        return 0, frame_count
    start_text, sep, stop_text = text.partition(":")
    try:
        start = int(start_text) if start_text else 0
        stop = int(stop_text) if (sep and stop_text) else (frame_count if sep else start + 1)
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
    """

    output: Path
    frame_range: tuple[int, int]
    faces_edited: int = 0
    frames_without_face: list[int] = field(default_factory=list)
    seconds: float = 0.0
    provenance: Path | None = None

    @property
    def frames(self) -> int:
        return self.frame_range[1] - self.frame_range[0]

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


class FrameRenderer:
    """Edits one frame with a Look, given the faces of that frame.

    Build it once per shot (it builds the editor once); call ``render`` per frame.
    Editors that need the whole shot (a face swap resolving which source goes on which track)
    have a ``prepare(look, analysis)`` method, called here once; editors with ``per_track = True``
    receive the face's ``track_id`` in ``edit``.
    """

    def __init__(self, look: Look, *, analysis: Any | None = None, editor: Any | None = None) -> None:
        from deage.edit.registry import editor_spec

        self.look = look
        try:
            self.spec = editor_spec(look.editor)
        except KeyError as exc:
            raise LookError(str(exc.args[0])) from None
        self.editor = editor if editor is not None else self.spec.build()
        if hasattr(self.editor, "prepare"):
            self.editor.prepare(look, analysis)

    @property
    def needs_faces(self) -> bool:
        return self.spec.needs_faces

    def render(self, frame: Image, index: int, faces: dict[int, Face]) -> tuple[Image, list[np.ndarray]]:
        """Edit ``frame`` (RGB uint8 (H, W, 3), not modified) at clip index ``index``.

        ``faces`` maps track id -> that track's face in this frame (the selected tracks only).

        Returns the new frame and, per edited face, its blend mask in frame coordinates
        (float32 (H, W) in [0, 1]; the union is the matte for compositing).
        """
        look = self.look.at(index)
        out = frame
        masks: list[np.ndarray] = []
        if not self.spec.needs_faces:
            return frame.copy(), masks
        from deage.blend.composite import composite
        from deage.blend.params import BlendParams
        from deage.edit.base import crop_size_for
        from deage.face.align import align_face

        params = self.spec.params_from_dict(look.edit)
        blend = BlendParams.from_dict(look.blend)
        per_track = getattr(self.editor, "per_track", False)
        for track_id, face in faces.items():
            if face.landmarks is None:
                continue
            aligned = align_face(out, face, "ffhq", crop_size_for(face))
            if per_track:
                result = self.editor.edit(aligned, params, track_id=track_id)
            else:
                result = self.editor.edit(aligned, params)
            out, mask = composite(out, aligned, result, blend, return_mask=True)
            masks.append(mask)
        if out is frame:
            out = frame.copy()
        return out, masks


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
) -> RenderResult:
    """Render ``source`` with ``look`` into ``output`` (format from the extension).

    Args:
        source: a clip or image sequence deage.video can open.
        output: the output path; written under a temporary name and renamed when complete.
        look: the Look (default: identity, which reproduces the input).
        frames: (start, stop) 0-based clip indices, stop exclusive; default the whole clip.
        analysis: a precomputed ``deage.face.analysis.Analysis`` (else computed or loaded from cache).
        codec: force a writer codec (see ``deage.video.ClipWriter``).
        progress: called with (frames done, frames total) after each frame.

    Raises:
        MediaError, OutputError, LookError, NoFaceError: bad input, with a one-line message.
    """
    from deage.safe_write import check_output_path
    from deage.video import ClipWriter, open_clip

    look = look or Look()
    source = Path(source)
    output = check_output_path(output, source)
    from deage.edit.registry import editor_spec

    try:
        needs_faces = editor_spec(look.editor).needs_faces
    except KeyError as exc:
        raise LookError(str(exc.args[0])) from None
    started = time.perf_counter()
    with open_clip(source) as clip:
        start, stop = frames if frames is not None else (0, len(clip))
        if not 0 <= start < stop <= len(clip):
            raise DeageError(f"frame range {start}:{stop} is outside the clip's {len(clip)} frames", source)
        selected: list[int] = []
        if needs_faces:
            analysis, selected = _analyse_and_select(clip, look, analysis, analysis_settings, cache_dir)
        renderer = FrameRenderer(look, analysis=analysis)
        info = clip.info
        fps = Fraction(info.fps)
        result = RenderResult(output=output, frame_range=(start, stop))
        audio_range = (float(start / fps), float(stop / fps))
        with ClipWriter(
            output,
            fps=fps,
            width=info.width,
            height=info.height,
            codec=codec,
            audio_from=source if info.has_audio else None,
            audio_range=audio_range if (start, stop) != (0, len(clip)) else None,
            inputs=(source,),
        ) as writer:
            for done, (index, frame) in enumerate(zip(range(start, stop), clip.frames(start, stop)), start=1):
                faces: dict[int, Face] = {}
                if needs_faces:
                    present = analysis.faces_at(index)
                    faces = {t: present[t] for t in selected if t in present}
                    if not faces:
                        result.frames_without_face.append(index)
                out, _ = renderer.render(frame, index, faces)
                result.faces_edited += len(faces)
                if look.burn_in:
                    from deage.review.burn_in import burn_in_label

                    out = burn_in_label(out)
                writer.write(out)
                if progress is not None:
                    progress(done, stop - start)
    result.seconds = time.perf_counter() - started
    if provenance:
        from deage.provenance import write_provenance

        result.provenance = write_provenance(result, source=source, look=look, operator=operator)
    return result


def _analyse_and_select(clip: Any, look: Look, analysis: Any, settings: Any, cache_dir: Any) -> tuple[Any, list[int]]:
    from deage.face.analysis import AnalysisSettings, analyse_clip
    from deage.face.select import select_tracks

    if analysis is None:
        analysis = analyse_clip(clip, settings or AnalysisSettings(), cache_dir=cache_dir)
    how = look.faces
    if isinstance(how, dict):
        how = Path(how["reference"])
    return analysis, select_tracks(analysis, how)
