"""The files a clip render writes: the picture, and optionally a matte; one place for their settings.

Both the single-process render (``deage.render.render_clip``) and the join of a distributed render
(``deage.scale.ray_render``) write through ``RenderOutputs``, so the same frames give the same
encoder input, the same audio trim and the same frame numbering: with the encoder's thread count
equal (the same machine), the same file bytes.

Numbering and timing:

- image-sequence outputs are numbered from the source sequence's own first number plus the range
  start (a render of frames 10:21 of ``plate.1001.exr`` writes ``out.1011`` .. ``out.1021``), and
  from 1001 + start for a container source or a single still, so a range render drops in at the
  right frames;
- a variable-frame-rate source keeps each frame's own timestamp (in the source's time base);
- audio is the source's, trimmed to the range's time span.

The matte is the union (maximum) of the per-face blend masks, quantised to 16 bits
(``matte_to_uint16``) and written grey (R = G = B) with the output format of its own extension:
``.mov`` ProRes, ``.mp4`` H.264, ``matte.%04d.png`` 16-bit PNG, ``matte.%04d.exr`` half float
(stored as is, not linearised: a matte is coverage, not light).

Alpha: for a source with one (``alpha=True``), an output that can hold one (PNG, TIFF, WebP,
EXR; ProRes 4444 in ``.mov``, which a ``.mov`` of a source with alpha is) gets each frame's own
source alpha, value for value in image files (the edit changes colour, never coverage; ProRes 4444
through its encoder's 10-bit alpha plane); any other output is written without it, with a
``RuntimeWarning`` saying so. ``prepare`` takes the alpha of the frame as it was decoded for the
edit (``DeferredFrame.alpha``), so a render decodes each source frame once.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import av
import numpy as np

from deage.errors import OutputError
from deage.video import ClipWriter, is_sequence_path
from deage.video.info import ClipInfo
from deage.video.passthrough import can_encode_over, encode_over
from deage.video.photo_tags import read_photo_tags
from deage.video.pixels import bit_depth, float_to_uint8, float_to_uint16
from deage.video.planes import FramePlanes
from deage.video.reader import DeferredFrame
from deage.video.writer import EncoderConversion, PreparedFrame, codec_for


def matte_to_uint16(masks: Sequence[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """Union of float32 (H, W) masks in [0, 1] as uint16 (H, W) (0..65535, rounded); zeros when none."""
    if not masks:
        return np.zeros(shape, np.uint16)
    union = masks[0] if len(masks) == 1 else np.maximum.reduce([np.asarray(m, np.float32) for m in masks])
    return (np.clip(union, 0.0, 1.0) * np.float32(65535.0) + np.float32(0.5)).astype(np.uint16)


class RenderOutputs:
    """Writers for a render's picture (and matte); a context manager.

    Args:
        output: the picture's path (format from the extension, or ``codec``).
        info: the source clip's ``ClipInfo``.
        frame_range: (start, stop) 0-based clip indices being rendered.
        timestamps: the source's per-frame timestamps (``Clip.timestamps``, in ``info.time_base``),
            used for variable-frame-rate sources; None for constant rate.
        audio_range: (start, end) seconds of the source's audio to keep, or None for all of it.
        codec: force the picture's codec (``deage.video.ClipWriter``); default from the extension,
            HEVC Main 10 for an ``.mp4`` of a >8-bit source (``deage.video.writer.codec_for``).
        matte: the matte's path, or None.
        timecode: the first written frame's timecode (picture and matte), or None.
        alpha: the source has an alpha, which every frame brings to ``prepare``
            (``source_alpha``) and the output keeps where it can.

    Raises:
        OutputError: unusable paths (missing folder, equal to the source or to each other, format).
    """

    def __init__(
        self,
        output: str | Path,
        *,
        info: ClipInfo,
        frame_range: tuple[int, int],
        timestamps: np.ndarray | None = None,
        audio_range: tuple[float, float] | None = None,
        codec: str | None = None,
        matte: str | Path | None = None,
        first_frame_number: int | None = None,
        timecode: str | None = None,
        alpha: bool = False,
    ) -> None:
        self.output = Path(output)
        self.matte = Path(matte) if matte is not None else None
        self.start, self.stop = frame_range
        source = Path(info.path)
        vfr = bool(getattr(info, "variable_frame_rate", False)) and timestamps is not None
        self._timestamps = np.asarray(timestamps) if vfr else None
        numbered = info.is_sequence and is_sequence_path(info.path)  # a single still is not numbered
        base = int(info.first_frame_number) if numbered else 1001
        common = dict(
            fps=info.fps,
            width=info.width,
            height=info.height,
            first_frame_number=base + self.start if first_frame_number is None else int(first_frame_number),
            time_base=info.time_base if vfr else None,
            pixel_aspect=getattr(info, "pixel_aspect", 1),
            timecode=timecode,
        )
        if self.matte is not None and self.matte.resolve() == self.output.resolve():
            raise OutputError("the matte cannot be written to the picture's own path; choose another name", self.matte)
        self._stack = contextlib.ExitStack()
        self.picture = ClipWriter(
            self.output,
            codec=codec_for(self.output, codec, info.bit_depth),
            audio_from=source if info.has_audio else None,
            audio_range=audio_range,
            inputs=(source,),
            colour=getattr(info, "colour", None),
            field_order=getattr(info, "field_order", "progressive"),
            source_pix_fmt=info.pix_fmt,
            photo_tags=read_photo_tags(source) if info.is_sequence and not numbered else None,
            metadata=getattr(info, "metadata", None),
            **common,
        )
        self.matte_writer = (
            ClipWriter(self.matte, inputs=(source, self.output), exr_linear=False, **common)
            if self.matte is not None else None
        )
        spec = self.picture.spec
        if info.bit_depth > 8 and bit_depth(spec.pix_fmt_deep) <= 8:
            warnings.warn(f"{self.output}: the source has {info.bit_depth}-bit components, {spec.name} output "
                          "stores 8; write .mov (ProRes), 16-bit PNG / TIFF or EXR to keep them",
                          RuntimeWarning, stacklevel=2)
        self._alpha = alpha and spec.alpha_pix_fmt is not None
        if alpha and not self._alpha:
            warnings.warn(f"{self.output}: the source's alpha channel is left out ({spec.name} output keeps "
                          "none); write .mov (ProRes 4444), PNG, TIFF, WebP or EXR to keep it",
                          RuntimeWarning, stacklevel=2)

    def __enter__(self) -> "RenderOutputs":
        self._stack.enter_context(self.picture)
        if self.matte_writer is not None:
            self._stack.enter_context(self.matte_writer)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._stack.__exit__(exc_type, exc, tb)

    def conversion(self) -> EncoderConversion | None:
        """The picture encoder's conversion (None until the first frame is written, for an
        image-sequence output, whose files are encoded on their own threads, and for a movie that
        carries the source's alpha: its frames get their alpha in ``prepare``, so neither worker
        processes nor an encode over the decoded frame may convert them first)."""
        if self.picture.spec.sequence or self._alpha:
            return None
        return self.picture.conversion()

    def begin(self, sample: np.ndarray) -> None:
        """Open the picture's encoder now, for frames like ``sample`` (its dtype; RGB: an alpha
        carried from the source is added here): ``conversion()`` and ``encodes_over`` know the
        pixel format from then on."""
        if self._alpha and sample.shape[2] == 3:
            sample = np.zeros((1, 1, 4), sample.dtype)
        self.picture.begin(sample)

    def encodes_over(self, frame: DeferredFrame) -> bool:
        """Whether ``prepare`` can encode an edit of ``frame`` (``Clip.deferred_frames``) over its
        decoded frame: the frame is edited as decoded (not turned for display) and the picture is
        a movie, begun, in the decoded frame's own pixel format, matrix and range
        (``deage.video.passthrough``: untouched pixels keep their code values)."""
        return not frame.turned and can_encode_over(frame.decoded, self.conversion())

    def prepare(self, image: Any, matte: np.ndarray | None = None, *,
                decoded: av.VideoFrame | None = None,
                source_alpha: Callable[[], np.ndarray] | None = None) -> tuple[Any, Any]:
        """``(image, matte)`` converted for the encoders (``ClipWriter.prepare``), on the calling
        thread; pass them to ``write``. ``image`` may also be ``FramePlanes`` made by
        ``conversion()`` in another process; or, with ``decoded`` (the decoded frame of a
        ``DeferredFrame`` that ``encodes_over`` accepts), the ``FrameChange`` (or None: no change)
        the edit made to it. ``source_alpha`` (``DeferredFrame.alpha``) gives the frame's own
        alpha, added here when the output carries one. Thread-safe."""
        if self._alpha and source_alpha is not None and _is_rgb(image):
            image = _with_alpha(image, source_alpha())
        if decoded is not None:
            conversion = self.conversion()
            assert conversion is not None, "prepare(decoded=...) needs encodes_over(frame) first"
            picture = self.picture.prepared(encode_over(decoded, image, conversion))
        elif isinstance(image, FramePlanes):
            picture = self.picture.prepared(image.to_frame())
        else:
            picture = self.picture.prepare(image)
        if self.matte_writer is not None and matte is not None:
            prepared = self.matte_writer.prepare(_grey_rgb(matte))
            matte = prepared if isinstance(prepared, PreparedFrame) else matte
        return picture, matte

    def write(self, index: int, image: Any, matte: Any = None) -> None:
        """Append clip frame ``index``: RGB uint8 (H, W, 3), and its uint16 (H, W) matte when one is
        written (either may come from ``prepare``)."""
        pts = None
        if self._timestamps is not None:
            pts = int(self._timestamps[index] - self._timestamps[self.start])
        if self._alpha and _is_rgb(image):
            raise ValueError(f"{self.output}: frame {index} came without the source's alpha (prepare(source_alpha=))")
        self.picture.write(image, pts=pts)
        if self.matte_writer is not None:
            if matte is None:
                raise ValueError(f"{self.matte}: a matte is being written; pass one with every frame")
            self.matte_writer.write(matte if isinstance(matte, PreparedFrame) else _grey_rgb(matte), pts=pts)

    @property
    def written(self) -> list[Path]:
        return [self.output] + ([self.matte] if self.matte is not None else [])


def _is_rgb(image: Any) -> bool:
    """An RGB (H, W, 3) array: a picture still without the alpha the output carries."""
    return isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3


def _with_alpha(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """RGB (H, W, 3) uint8 / uint16 / float32 and a float32 (H, W) alpha in [0, 1] -> RGBA of the
    image's dtype (the alpha rounded to its levels)."""
    if image.dtype == np.uint8:
        channel = float_to_uint8(alpha)
    elif image.dtype == np.uint16:
        channel = float_to_uint16(alpha)
    else:
        channel = alpha.astype(np.float32, copy=False)
    return np.dstack([image, channel])


def _grey_rgb(matte: np.ndarray) -> np.ndarray:
    """uint16 (H, W) -> (H, W, 3) view with the value in every channel."""
    return np.broadcast_to(matte[..., None], matte.shape + (3,))


__all__ = ["RenderOutputs", "matte_to_uint16"]
