"""Animated images (WebP, APNG, AVIF sequences) as clips: every frame, each for its own duration.

Stickers, web loops and phone "live" exports come as animated WebP or PNG. FFmpeg's WebP decoder
reads no animation (and its PNG decoder gives an APNG's default image only), so such a file is
decoded here with Pillow, as browsers show it: each frame composited over the ones before.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from deage.errors import MediaError
from deage.video import hashing
from deage.video.info import ClipInfo
from deage.video.sequence import register_pillow_plugins


ANIMATION_SUFFIXES = frozenset({".webp", ".png", ".avif"})
"""Image types that may hold an animation (animated WebP, APNG, AVIF sequences): read whole by
``AnimationSource`` when Pillow finds more than one frame in them."""

MIN_FRAME_MS = 20
"""Shorter frame durations in an animation (0 and 10 ms are common) are shown for 100 ms, as browsers do."""


def is_animation(path: Path) -> bool:
    """True for an image file of an animated type with more than one frame (Pillow's header read)."""
    if path.suffix.lower() not in ANIMATION_SUFFIXES or not path.is_file():
        return False
    from PIL import Image, UnidentifiedImageError

    register_pillow_plugins()
    try:
        with Image.open(path) as image:
            return bool(getattr(image, "is_animated", False)) and int(getattr(image, "n_frames", 1)) > 1
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
        return False


class AnimationSource:
    """Frames of an animated image (WebP, APNG, AVIF), decoded by Pillow as browsers show them
    (each frame composited over the ones before), each held for its own duration: a clip with a
    millisecond time base, variable-rate when the durations differ. RGBA where the animation has
    transparency. The frames are decoded once, on opening (animations are short).

    Raises:
        MediaError: a truncated or corrupt file (the caller checks it exists and is readable).
    """

    def __init__(self, path: Path) -> None:
        from PIL import Image, ImageSequence, UnidentifiedImageError

        register_pillow_plugins()
        self.path = path
        frames: list[np.ndarray] = []
        durations: list[int] = []
        try:
            with Image.open(path) as image:
                alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
                for frame in ImageSequence.Iterator(image):
                    frame.load()  # WebP sets the frame's duration on loading it
                    ms = int(frame.info.get("duration") or 0)
                    durations.append(ms if ms >= MIN_FRAME_MS else 100)
                    frames.append(np.array(frame.convert("RGBA" if alpha else "RGB")))
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
            raise MediaError(f"animated image is truncated or corrupt ({exc})", path) from None
        if not frames:
            raise MediaError("animated image has no frames", path)
        if alpha and all(f[..., 3].min() == 255 for f in frames):  # Pillow gives WebP animations RGBA
            frames, alpha = [np.ascontiguousarray(f[..., :3]) for f in frames], False
        self.frames = frames
        self.pix_fmt = "rgba" if alpha else "rgb24"
        self.codec = path.suffix.lower().lstrip(".")
        self.time_base = Fraction(1, 1000)
        self.pts = np.concatenate([[0], np.cumsum(durations[:-1])]).astype(np.int64)
        self.vfr = len(set(durations)) > 1
        self.fps = Fraction(1000, durations[0]) if not self.vfr else \
            (Fraction(len(durations) * 1000, sum(durations))).limit_denominator(1001 * 1000)
        self.duration = sum(durations) / 1000
        self.rotation, self.mirror = 0, False

    def __len__(self) -> int:
        return len(self.frames)

    def frame(self, index: int) -> av.VideoFrame:
        return av.VideoFrame.from_ndarray(self.frames[index], format=self.pix_fmt)

    def iter_frames(self, start: int, stop: int) -> Iterator[av.VideoFrame]:
        for index in range(start, stop):
            yield self.frame(index)

    def close(self) -> None:
        pass

    def info(self) -> ClipInfo:
        height, width = self.frames[0].shape[:2]
        return ClipInfo(
            path=self.path,
            width=width,
            height=height,
            frame_count=len(self.frames),
            fps=self.fps,
            time_base=self.time_base,
            pix_fmt=self.pix_fmt,
            bit_depth=8,
            rotation=0,
            codec=self.codec,
            has_audio=False,
            first_frame_number=0,
            is_sequence=False,
            duration=self.duration,
            variable_frame_rate=self.vfr,
        )

    def digest(self) -> str:
        return hashing.file_digest(self.path)
