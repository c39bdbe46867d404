"""Read and write clips and image sequences (PyAV), with audio passthrough.

Reading::

    from deage.video import open_clip
    with open_clip("shot.mp4") as clip:          # or "plate.%04d.exr", "plate.####.exr", "plate.1001.exr",
                                                 #   a folder of one sequence, a photo, an animated WebP
        clip.info                                # ClipInfo: size, frame_count, fps, time_base, pix_fmt,
                                                 #   bit_depth, rotation, codec, has_audio, duration...
        for rgb in clip.frames(10, 20): ...      # RGB uint8 (H, W, 3), streamed, display orientation
        rgb = clip.read(15)                      # frame-accurate random access (same pixels as frames())
        for f in clip.frames_float(): ...        # float32 RGB, full precision for 10/16-bit and EXR
        clip.content_hash()                      # stable hex digest for caches

Writing::

    from deage.video import ClipWriter
    with ClipWriter("out.mp4", fps=clip.info.fps, width=w, height=h,
                    audio_from=clip.info.path, inputs=(clip.info.path,)) as out:
        out.write(rgb)                           # uint8, uint16 or float32 RGB (H, W, 3)

    .mp4 / .m4v -> H.264 (CRF 16), .mov -> ProRes 422 HQ, .mkv -> FFV1 lossless, .webm -> VP9, name.%04d.png -> 16-bit
    PNG, name.%04d.tif -> 16-bit TIFF, name.%04d.exr -> half EXR; codec="h264-lossless",
    "prores4444", "ffv1"... force one. Outputs appear under their final name only when complete.

API:
    open_clip(path, *, fps=None, exr_linear=True, still=False) -> Clip
    Clip: info, __len__, frames(start, stop), frames_float(start, stop), read(i), read_float(i),
          timestamps, frame_time(i), files, content_hash(), close(); a context manager
    ClipInfo: frozen dataclass, to_dict()
    ClipWriter(path, *, fps, width, height, codec=None, audio_from=None, audio_range=None,
               first_frame_number=1001, inputs=(), options=None, time_base=None, exr_linear=True)
        .write(frame, pts=None), .close(), .abort(); a context manager
    is_sequence_path(path) -> bool; parse_sequence_path(path) -> SequencePattern | None
    CODECS: the output formats; resolve_codec(path, codec=None) -> CodecSpec

Errors: every problem with a user's file is a ``deage.errors.MediaError`` (inputs) or
``OutputError`` (outputs) whose one-line message names the file. See ``reader`` for the policy
on truncated and corrupt files.
"""

from deage.video.info import ClipInfo
from deage.video.reader import Clip, open_clip
from deage.video.sequence import SequencePattern, is_sequence_path, parse_sequence_path
from deage.video.writer import CODECS, ClipWriter, CodecSpec, resolve_codec

__all__ = [
    "CODECS",
    "Clip",
    "ClipInfo",
    "ClipWriter",
    "CodecSpec",
    "SequencePattern",
    "is_sequence_path",
    "open_clip",
    "parse_sequence_path",
    "resolve_codec",
]
