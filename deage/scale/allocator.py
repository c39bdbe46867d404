"""Keep freed memory in the process for the next frame, instead of handing it back to the kernel.

A render allocates and frees tens of megabytes of numpy arrays a frame (crops, masks, float copies
of the face's box, pyramids). glibc's ``malloc`` serves every block above its mmap threshold with a
fresh ``mmap`` (the threshold starts at 128 KiB and only rises to the largest block freed so far)
and returns a heap's free top to the kernel beyond its trim threshold (128 KiB), so the next frame's
arrays are faulted in again, page by page, in kernel time. On the 720p example clip that was 2.7
million page faults and 5.8 s of system CPU in 288 frames: a fifth of the render's CPU on a 2-core
machine. With the thresholds raised (``MMAP_THRESHOLD``, ``TRIM_THRESHOLD``) the blocks are reused
from the heap: 72 thousand faults, 1.1 s, and the render is 15-25 % faster at the same peak memory
(``benchmarks/deage_render.py``, docs/BENCHMARKS.md).

The setting is the process's (``mallopt``), kept once made, and only applies where the C library
is glibc (Linux); elsewhere, or with ``DEAGE_KEEP_FREED_MEMORY=0`` in the environment (memory
profilers that want every block mapped on its own), nothing changes.
"""

from __future__ import annotations

import ctypes
import os
import platform

MMAP_THRESHOLD = 32 << 20
"""Blocks up to this size (bytes) come from the heap, not from their own ``mmap``: a 1080p RGB
float32 frame is 24 MiB; glibc accepts up to 32 MiB on 64-bit systems."""
TRIM_THRESHOLD = 256 << 20
"""Free memory (bytes) a heap keeps at its top before giving it back to the kernel."""
ENVIRONMENT = "DEAGE_KEEP_FREED_MEMORY"
"""Set to 0 to leave the allocator as it is."""

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process (see the module's docstring).

    Returns True when the allocator took both settings, False where it is not glibc or the
    environment says not to. Calling it again changes nothing."""
    if os.environ.get(ENVIRONMENT, "1").strip() == "0" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) & bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
