"""Fast, stable content digests of clips (keys for analysis caches).

What is hashed (sha256, hex):

- a container file up to ``FULL_HASH_LIMIT`` bytes (64 MiB): every byte, plus its size;
- a larger file: its size, the first and last 4 MiB and 64 evenly spaced 256 KiB chunks
  (about 24 MiB read, whatever the file size);
- an image sequence: for each frame in order, its frame number, size and the first, middle
  and last 64 KiB of the file (a whole file when it is under 192 KiB).

Any change to a sampled region, to a size, or to the numbering changes the digest. Names of
folders and the file's modification time do not enter it, so a copied or moved clip keeps its key.
A same-size edit entirely outside the sampled regions of a large file is not seen.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

FULL_HASH_LIMIT = 64 * 1024 * 1024
_EDGE = 4 * 1024 * 1024
_CHUNK = 256 * 1024
_CHUNKS = 64
_SEQ_CHUNK = 64 * 1024


def _sampled_regions(size: int, edge: int, chunk: int, count: int) -> list[tuple[int, int]]:
    regions = [(0, min(edge, size)), (max(size - edge, 0), size)]
    span = size - chunk
    if span > 0 and count > 0:
        regions += [(i * span // (count - 1 or 1), i * span // (count - 1 or 1) + chunk) for i in range(count)]
    return regions


def _update_from_file(h: "hashlib._Hash", path: Path, regions: Iterable[tuple[int, int]] | None) -> None:
    with open(path, "rb") as f:
        if regions is None:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
            return
        for start, stop in regions:
            f.seek(start)
            h.update(f.read(stop - start))


def file_digest(path: Path) -> str:
    """Digest of one container file (see the module docstring for what is sampled)."""
    size = path.stat().st_size
    h = hashlib.sha256(b"deage-clip-v1\0")
    h.update(size.to_bytes(8, "little"))
    regions = None if size <= FULL_HASH_LIMIT else _sampled_regions(size, _EDGE, _CHUNK, _CHUNKS)
    _update_from_file(h, path, regions)
    return h.hexdigest()


def sequence_digest(frames: Iterable[tuple[int, Path]]) -> str:
    """Digest of an image sequence given as ``(frame number, file)`` pairs in order."""
    h = hashlib.sha256(b"deage-sequence-v1\0")
    for number, path in frames:
        size = path.stat().st_size
        h.update(number.to_bytes(8, "little", signed=True))
        h.update(size.to_bytes(8, "little"))
        if size <= 3 * _SEQ_CHUNK:
            regions = None
        else:
            mid = size // 2 - _SEQ_CHUNK // 2
            regions = [(0, _SEQ_CHUNK), (mid, mid + _SEQ_CHUNK), (size - _SEQ_CHUNK, size)]
        _update_from_file(h, path, regions)
    return h.hexdigest()
