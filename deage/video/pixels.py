"""Conversions between decoded ``av.VideoFrame`` objects and deage's numpy images.

Decoding side (``frame_to_rgb8`` / ``frame_to_float``):

- YUV sources are converted with interpolated chroma and accurate rounding, with the matrix the stream is tagged with (BT.709, BT.601,
  BT.2020, SMPTE 240M, FCC); untagged streams follow what players do: BT.709 from 720 lines
  (or 1280 columns) up, BT.601 below. Untagged ranges are "limited" (16-235) unless the pixel
  format is a full-range ``yuvj*`` one.
- Integer formats go through swscale (``rgb24`` for 8-bit output, ``rgb48le`` for the float
  output of deeper sources). Float formats (EXR's ``gbrpf16le``/``gbrpf32le``, ...) never touch
  swscale (some of them crash it); their planes are read directly.
- Alpha is dropped; grey sources are replicated to three channels.
- The display rotation (counter-clockwise degrees, a multiple of 90) is applied last.

EXR frames hold scene-linear light by convention. With ``linear=True`` (the default for EXR)
``frame_to_float`` returns sRGB-encoded values (the extended sRGB curve, so highlights above
1.0 stay above 1.0) and ``rgb_to_frame`` encodes the inverse, so an EXR read and written back
keeps its values, and 8-bit frames written to EXR and read back are unchanged.
"""

from __future__ import annotations

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace, Interpolation

from deage.errors import MediaError
from deage.video.info import ColourTags

# AVColorSpace values (libavutil/pixfmt.h) -> swscale colorspace
_AVCOL_TO_SWS = {
    1: Colorspace.ITU709,  # bt709
    4: Colorspace.FCC,
    5: Colorspace.ITU601,  # bt470bg
    6: Colorspace.ITU601,  # smpte170m
    7: Colorspace.SMPTE240M,
    9: Colorspace.BT2020,  # bt2020 non-constant
    10: Colorspace.BT2020,  # bt2020 constant (approximated by ncl)
}
_SWS_TO_AVCOL = {Colorspace.ITU709: 1, Colorspace.FCC: 4, Colorspace.ITU601: 6, Colorspace.SMPTE240M: 7,
                 Colorspace.BT2020: 9}
AVCOL_PRI_BT709 = 1
AVCOL_TRC_IEC61966_2_1 = 13  # sRGB
AVCOL_RANGE_MPEG = 1
AVCOL_RANGE_JPEG = 2

#: swscale flags for YUV -> RGB: interpolated (not replicated) chroma, accurate rounding.
#: Versus swscale's defaults this lifts a ProRes 422 round trip from ~42 to ~55 dB PSNR and an
#: H.264 4:2:0 one from ~45 to ~51 dB, for ~1 ms more per 720p frame.
DECODE_INTERPOLATION = Interpolation.BILINEAR | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT
#: swscale flags for RGB -> YUV (writers): filtered chroma subsampling, accurate rounding.
ENCODE_INTERPOLATION = Interpolation.BICUBIC | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INP

_FLOAT_DTYPES = {"f16": np.float16, "f32": np.float32}


class UnsupportedPixelFormat(Exception):
    """Raised by the converters; the reader turns it into a MediaError naming the file."""


def is_float_format(pix_fmt: str) -> bool:
    """True for IEEE float pixel formats (``gbrpf32le``, ``rgbaf16le``, ``grayf32le``...)."""
    return "f16" in pix_fmt or "f32" in pix_fmt


def is_yuv_format(pix_fmt: str) -> bool:
    """Whether ``pix_fmt`` stores YUV (luma and chroma) rather than RGB or grey values."""
    try:
        components = av.VideoFormat(pix_fmt).components
    except (ValueError, av.error.FFmpegError):
        return pix_fmt.startswith(("yuv", "nv", "p0", "p2", "uyvy", "yuyv"))
    return len(components) >= 3 and components[0].is_luma  # grey is luma alone


def has_alpha(pix_fmt: str) -> bool:
    """Whether ``pix_fmt`` stores an alpha (coverage) channel: ``rgba``, ``rgba64be``, ``ya16be``,
    ``yuva444p10le``, ``gbrapf32le``... (not ``pal8``, whose palette may hold one)."""
    try:
        return any(component.is_alpha for component in av.VideoFormat(pix_fmt).components)
    except ValueError:
        return False


def frame_alpha(frame: av.VideoFrame, rotation: int = 0, *, linear: bool = False, mirror: bool = False) -> np.ndarray:
    """A decoded frame's alpha as float32 (H, W) in [0, 1] (1 = opaque), display orientation (as
    ``frame_to_float``, whose arguments it takes: ``linear`` is ignored, alpha is coverage, not
    light) and full precision (16-bit and float alphas keep theirs); all ones when its format has none.

    Raises:
        UnsupportedPixelFormat: swscale cannot convert this pixel format.
    """
    name = frame.format.name
    if not has_alpha(name):
        alpha = np.ones((frame.height, frame.width), np.float32)
    elif is_float_format(name):
        alpha = np.clip(_float_planes(frame, with_alpha=True)[..., 3], 0.0, 1.0)
    elif max(c.bits for c in frame.format.components if c.is_alpha) <= 8:
        # swscale scales an 8-bit alpha into rgba64le by 256 or 257 depending on the format (255 ->
        # 65280 for ya8, yuva*, gbrap: 254 once written back); into rgba it copies it as it is
        alpha = _to_array(frame, "rgba")[..., 3].astype(np.float32) / np.float32(255.0)
    else:
        alpha = _to_array(frame, "rgba64le")[..., 3].astype(np.float32) / np.float32(65535.0)
    return _rotate(alpha, rotation, mirror)


def bit_depth(pix_fmt: str) -> int:
    """Bits per colour component of a pixel format (8 for ``yuv420p``, 10 for ``yuv422p10le``, 16 for half float)."""
    fmt = av.video.format.VideoFormat(pix_fmt)
    return max((c.bits for c in fmt.components), default=8)


def guess_colorspace(frame: av.VideoFrame) -> Colorspace:
    """The YUV->RGB matrix for ``frame``: its tag, else BT.709 for HD sizes and BT.601 for SD."""
    tagged = _AVCOL_TO_SWS.get(int(frame.colorspace))
    if tagged is not None:
        return tagged
    return Colorspace.ITU709 if frame.height >= 720 or frame.width >= 1280 else Colorspace.ITU601


def sws_colorspace(matrix: int) -> Colorspace:
    """swscale's matrix for an AVColorSpace number (BT.709 for ones it has not)."""
    return _AVCOL_TO_SWS.get(int(matrix), Colorspace.ITU709)


def colour_tags(frame: av.VideoFrame) -> ColourTags:
    """``ColourTags`` of a decoded frame: the matrix it is converted to RGB with, its range, and its
    primaries and transfer where tagged. RGB and grey frames: the defaults."""
    fmt = frame.format
    if fmt.is_rgb or fmt.name.startswith(("gray", "ya", "pal", "mono")):
        return ColourTags()
    unset = (0, 2)  # reserved, unspecified
    return ColourTags(
        matrix=_SWS_TO_AVCOL.get(guess_colorspace(frame), 1),
        primaries=1 if int(frame.color_primaries) in unset else int(frame.color_primaries),
        transfer=1 if int(frame.color_trc) in unset else int(frame.color_trc),
        full_range=_full_range(frame),
        tagged=int(frame.colorspace) in _AVCOL_TO_SWS,
    )


def _full_range(frame: av.VideoFrame) -> bool:
    """Whether a YUV frame's code values span 0..255 (tagged JPEG range, or a ``yuvj*`` format)."""
    return int(frame.color_range) == AVCOL_RANGE_JPEG or frame.format.name.startswith("yuvj")


def _yuv_kwargs(frame: av.VideoFrame) -> dict:
    fmt = frame.format
    if fmt.is_rgb or fmt.name.startswith(("gray", "ya", "pal", "mono")):
        return {}
    kwargs: dict = {
        "src_colorspace": guess_colorspace(frame),
        "dst_colorspace": Colorspace.ITU709,
        "interpolation": DECODE_INTERPOLATION,
    }
    if int(frame.color_range) == 0 and not fmt.name.startswith("yuvj"):
        kwargs["src_color_range"] = ColorRange.MPEG
    return kwargs


def _rotate(image: np.ndarray, rotation: int, mirror: bool = False) -> np.ndarray:
    """``image`` mirrored left-right (when ``mirror``), then turned ``rotation`` degrees counter-clockwise."""
    k = (rotation // 90) % 4
    if mirror:
        image = image[:, ::-1]
    return np.ascontiguousarray(np.rot90(image, k)) if k or mirror else image


def plane_rows(plane: av.video.plane.VideoPlane, dtype: np.dtype | type = np.uint8) -> np.ndarray:
    """A writable numpy view of a frame plane's memory as rows of ``dtype`` (line size included:
    slice the row to the pixels' width). Copies made through it by numpy release the GIL."""
    dtype = np.dtype(dtype)
    return np.frombuffer(plane, dtype=dtype).reshape(plane.height, plane.line_size // dtype.itemsize)


def _float_planes(frame: av.VideoFrame, with_alpha: bool = False) -> np.ndarray:
    """Float frame -> float32 (H, W, 3) R, G, B (grey repeated), without swscale; (H, W, 4) with
    the alpha last when ``with_alpha`` and the format has one."""
    name = frame.format.name
    dtype = np.dtype(_FLOAT_DTYPES["f16" if "f16" in name else "f32"])
    dtype = dtype.newbyteorder(">" if name.endswith("be") else "<")
    h, w = frame.height, frame.width

    def plane_array(index: int, channels: int) -> np.ndarray:
        return plane_rows(frame.planes[index], dtype)[:h, : w * channels].reshape(h, w, channels)

    if name.startswith("gbrp") or name.startswith("gbrap"):
        g, b, r = (plane_array(i, 1)[..., 0] for i in range(3))
        alpha = [plane_array(3, 1)[..., 0]] if with_alpha and name.startswith("gbrap") else []
        out = np.stack([r, g, b, *alpha], axis=-1)
    elif name.startswith("rgbaf") or name.startswith("rgbf"):
        packed = plane_array(0, 4 if name.startswith("rgbaf") else 3)
        out = packed if with_alpha and name.startswith("rgbaf") else packed[..., :3]
    elif name.startswith("grayf"):
        out = np.repeat(plane_array(0, 1), 3, axis=-1)
    elif name.startswith("yaf"):
        pair = plane_array(0, 2)
        grey = np.repeat(pair[..., :1], 3, axis=-1)
        out = np.concatenate([grey, pair[..., 1:]], axis=-1) if with_alpha else grey
    else:
        raise UnsupportedPixelFormat(name)
    return out.astype(np.float32)


_RGB_PREFIXES = ("rgb", "bgr", "gbr")
"""Pixel formats that hold RGB (packed or planar), not YUV or grey."""


_EIGHT_BIT_RGB = ("rgb24", "rgba")


def _to_array(frame: av.VideoFrame, fmt: str) -> np.ndarray:
    """``frame.to_ndarray(format=fmt)`` (``rgb24``, ``rgba``, ``rgb48le`` or ``rgba64le``) with the swscale
    conversion's tags, the copy out of the frame made by numpy: PyAV's own copy holds the GIL,
    which stalls a render's other threads for the length of a frame copy."""
    kwargs = _yuv_kwargs(frame)
    try:
        if kwargs and fmt not in _EIGHT_BIT_RGB and frame.format.chroma_height(frame.height) < frame.height:
            # swscale's interpolated-chroma path into 16-bit RGB garbles vertically subsampled
            # chroma (4:2:0, 4:4:0: magenta and green, 49 levels off; libswscale 9.5): the chroma
            # is first scaled up to 4:4:4 (bilinear, as the 8-bit path interpolates it), so deep
            # frames are the 8-bit frames with more precision (within 1.2 levels).
            alpha = "a" if frame.format.name.startswith("yuva") else ""
            kwargs["src_color_range"] = ColorRange.JPEG if _full_range(frame) else ColorRange.MPEG
            frame = frame.reformat(format=f"yuv{alpha}444p16le",
                                   interpolation=Interpolation.BILINEAR | Interpolation.ACCURATE_RND)
        rgb = frame.reformat(format=fmt, **kwargs)
    except (OSError, ValueError, av.error.FFmpegError) as exc:
        raise UnsupportedPixelFormat(frame.format.name) from exc
    channels = 4 if fmt.startswith("rgba") else 3
    rows = plane_rows(rgb.planes[0], np.uint8 if fmt in _EIGHT_BIT_RGB else "<u2")
    return rows[:, : rgb.width * channels].reshape(rgb.height, rgb.width, channels).copy()


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """Scene-linear -> sRGB-encoded, float32; extended beyond [0, 1] (sign-symmetric, no clipping)."""
    x = np.asarray(x, dtype=np.float32)
    a = np.abs(x)
    enc = np.where(a <= 0.0031308, a * 12.92, 1.055 * np.power(a, 1 / 2.4, dtype=np.float32) - 0.055)
    return (np.sign(x) * enc).astype(np.float32)


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """sRGB-encoded -> scene-linear, float32; the exact inverse of ``linear_to_srgb``."""
    x = np.asarray(x, dtype=np.float32)
    a = np.abs(x)
    lin = np.where(a <= 0.04045, a / 12.92, np.power((a + 0.055) / 1.055, 2.4, dtype=np.float32))
    return (np.sign(x) * lin).astype(np.float32)


_UINT8_TO_FLOAT = np.arange(256, dtype=np.float32) / np.float32(255.0)
_SRGB8_TO_LINEAR = srgb_to_linear(_UINT8_TO_FLOAT)


def frame_to_float(frame: av.VideoFrame, rotation: int = 0, *, linear: bool = False, mirror: bool = False) -> np.ndarray:
    """Decoded frame -> float32 RGB (H, W, 3), nominally [0, 1], display orientation (mirrored
    left-right when ``mirror``, then turned ``rotation`` degrees counter-clockwise).

    Float sources keep their full range (values above 1 survive); with ``linear=True`` they are
    sRGB-encoded first. 16-bit/10-bit sources keep their precision (via ``rgb48le``).

    Raises:
        UnsupportedPixelFormat: swscale cannot convert this pixel format.
    """
    name = frame.format.name
    if is_float_format(name):
        out = _float_planes(frame)
        if linear:
            out = linear_to_srgb(out)
    elif bit_depth(name) > 8:
        out = _to_array(frame, "rgb48le").astype(np.float32) / np.float32(65535.0)
    else:
        out = _to_array(frame, "rgb24").astype(np.float32) / np.float32(255.0)
    return _rotate(out, rotation, mirror)


def frame_to_rgb8(frame: av.VideoFrame, rotation: int = 0, *, linear: bool = False, mirror: bool = False) -> np.ndarray:
    """Decoded frame -> RGB uint8 (H, W, 3), display orientation (as ``frame_to_float``).

    Raises:
        UnsupportedPixelFormat: swscale cannot convert this pixel format.
    """
    name = frame.format.name
    if is_float_format(name):
        return float_to_uint8(frame_to_float(frame, rotation, linear=linear, mirror=mirror))
    if bit_depth(name) > 8 and name.startswith(_RGB_PREFIXES):
        # 16 -> 8 bits rounded (v / 257, as the writer's v * 257 inverts): swscale's own
        # conversion puts some levels one off, so a plate's untouched pixels would not round-trip.
        deep = _to_array(frame, "rgb48le").astype(np.uint32)
        return _rotate(((deep * 255 + 32767) // 65535).astype(np.uint8), rotation, mirror)
    return _rotate(_to_array(frame, "rgb24"), rotation, mirror)


def float_to_uint8(image: np.ndarray) -> np.ndarray:
    """float RGB nominally in [0, 1] -> uint8, clipped and rounded."""
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def float_to_uint16(image: np.ndarray) -> np.ndarray:
    """float RGB nominally in [0, 1] -> uint16, clipped and rounded."""
    return (np.clip(image, 0.0, 1.0) * 65535.0 + 0.5).astype(np.uint16)


def check_image(image: np.ndarray, width: int, height: int, where: str, *, alpha: bool = False) -> np.ndarray:
    """Validate a frame handed to a writer: (height, width, 3) uint8, uint16 or float.

    Returns the image, float64 cast to float32.

    Raises:
        ValueError: wrong shape or dtype (a programming error, not a user input).
    """
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] not in ((3, 4) if alpha else (3,)):
        shape = getattr(image, "shape", type(image).__name__)
        wanted = "RGB (H, W, 3) or RGBA (H, W, 4)" if alpha else "RGB arrays of shape (H, W, 3)"
        raise ValueError(f"{where}: frames must be {wanted}, got {shape}")
    if image.shape[:2] != (height, width):
        raise ValueError(
            f"{where}: frame is {image.shape[1]}x{image.shape[0]} but the output is {width}x{height}"
        )
    if image.dtype in (np.uint8, np.uint16, np.float32):
        return image
    if np.issubdtype(image.dtype, np.floating):
        return image.astype(np.float32)
    raise ValueError(f"{where}: frames must be uint8, uint16 or float32, got {image.dtype}")


def rgb_to_frame(image: np.ndarray, *, float_output: bool = False, linear: bool = False,
                 half: bool = False) -> av.VideoFrame:
    """RGB array -> ``av.VideoFrame`` ready for ``reformat`` to an encoder's pixel format.

    uint8 -> ``rgb24``; uint16 -> ``rgb48le``; float32 -> ``rgb48le`` (clipped to [0, 1]).
    With ``float_output`` (EXR) every input becomes ``gbrpf32le`` (uint8 / 255, uint16 / 65535),
    and with ``linear`` the values are sRGB-decoded to scene-linear light; RGBA becomes
    ``gbrapf32le``, its alpha scaled alike but never linearised (coverage, not light). ``half``:
    the encoder stores half floats; values are rounded to the nearest half here (FFmpeg's own
    conversion truncates, so a value a float round trip left a hair below a half would drop by one step).
    """
    if float_output:
        colour, alpha = (image[..., :3], image[..., 3:]) if image.shape[2] == 4 else (image, None)
        f = _to_float(colour, _SRGB8_TO_LINEAR if linear else _UINT8_TO_FLOAT)
        if linear and image.dtype != np.uint8:
            f = srgb_to_linear(f)
        if alpha is not None:
            f = np.concatenate([f, _to_float(alpha, _UINT8_TO_FLOAT)], axis=-1)
        if half:
            f = f.astype(np.float16).astype(np.float32)
        return av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="gbrapf32le" if alpha is not None else "gbrpf32le")
    rgba = image.shape[2] == 4
    if image.dtype == np.uint8:
        return _packed_frame(image, "rgba" if rgba else "rgb24")
    if image.dtype != np.uint16:
        image = float_to_uint16(image)
    return _packed_frame(image, "rgba64le" if rgba else "rgb48le")


def _to_float(values: np.ndarray, lut8: np.ndarray) -> np.ndarray:
    """uint8 (through ``lut8``), uint16 (/ 65535) or float values -> float32."""
    if values.dtype == np.uint8:
        return lut8[values]
    if values.dtype == np.uint16:
        return values.astype(np.float32) / np.float32(65535.0)
    return values.astype(np.float32, copy=False)


def _packed_frame(image: np.ndarray, fmt: str) -> av.VideoFrame:
    """``av.VideoFrame.from_ndarray(image, format=fmt)`` for packed uint8 / little-endian uint16
    formats, with the copy made by numpy (which releases the GIL; PyAV's copy holds it, which
    stalls every other thread of a render for the length of a frame copy)."""
    height, width, channels = image.shape
    frame = av.VideoFrame(width, height, fmt)
    rows = plane_rows(frame.planes[0], np.uint8 if image.dtype == np.uint8 else "<u2")
    np.copyto(rows[:, : width * channels], image.reshape(height, width * channels), casting="no")
    return frame


def unsupported(pix_fmt: str, path) -> MediaError:
    """The MediaError for a pixel format deage cannot convert."""
    return MediaError(f"unsupported pixel format {pix_fmt} (cannot convert it to RGB)", path)
