"""The work folder of a distributed render: finished pieces and the manifest that lets a re-run resume.

Layout: ``<root>/<clip stem>-<key>/`` holding one lossless file per finished piece (plus its matte
file) and ``manifest.json``. The key (``render_key``) is a digest of everything the pieces' pixels
depend on: the clip's content hash, the Look (less its name and notes), the selected faces' tracks
(boxes, key points, landmarks), whether a matte is made, the compositing device kind and deage's
version. A re-run with the same inputs finds the same folder and skips every piece the manifest
lists whose file is present with the recorded sha256; anything else is rendered again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deage.safe_write import atomic_output
from deage.scale.pieces import PIECE_SUFFIX, file_sha256
from deage.scale.ranges import FrameRange

log = logging.getLogger("deage.scale")

MANIFEST = "manifest.json"
_FORMAT = "deage-render-pieces"
_VERSION = 1


@dataclass
class PieceRecord:
    """A finished piece: its frames (start..stop-1), files, their sha256, and render counts."""

    start: int
    stop: int
    file: str
    sha256: str
    matte_file: str | None = None
    matte_sha256: str | None = None
    faces_edited: int = 0
    frames_without_face: list[int] = field(default_factory=list)
    host: str = ""
    seconds: float = 0.0

    @property
    def frames(self) -> int:
        return self.stop - self.start


def selection_digest(analysis: Any, track_ids: list[int]) -> str:
    """sha256 (hex) of the selected tracks' per-frame boxes, key points and landmarks."""
    h = hashlib.sha256(b"deage-selection-v1\0")
    if analysis is None:
        return h.hexdigest()
    for tid in sorted(track_ids):
        track = analysis.track(tid)
        h.update(int(tid).to_bytes(8, "little"))
        for index in sorted(track.faces):
            face = track.faces[index]
            h.update(int(index).to_bytes(8, "little"))
            h.update(np.ascontiguousarray(face.box, np.float32).tobytes())
            h.update(np.ascontiguousarray(face.keypoints5, np.float32).tobytes())
            if face.landmarks is not None:
                h.update(np.ascontiguousarray(face.landmarks, np.float32).tobytes())
    return h.hexdigest()


def render_key(*, clip_hash: str, look: Any, selection: str, matte: bool, device: str, deep: bool = False) -> str:
    """The hex digest naming a render's work folder (see the module docstring); ``deep``: the
    pieces are edits of the 8-bit view of full-precision plates."""
    from deage import __version__

    look_data = {k: v for k, v in look.to_dict().items() if k not in ("name", "notes")}
    blob = json.dumps(
        {"clip": clip_hash, "look": look_data, "selection": selection, "matte": bool(matte), "device": device,
         "deage": __version__, "format": _VERSION, **({"deep": True} if deep else {})},
        sort_keys=True, default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


class WorkFolder:
    """One render's work folder (created on first use).

    Args:
        root: the folder that holds work folders (e.g. ``<output folder>/.deage-render``).
        name: the clip's file name (for a readable folder name).
        key: ``render_key(...)``.
    """

    def __init__(self, root: str | Path, name: str, key: str) -> None:
        stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(name).stem)[:40] or "clip"
        self.path = Path(root) / f"{stem}-{key[:20]}"
        self.key = key

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    def piece_paths(self, piece: FrameRange, matte: bool) -> tuple[Path, Path | None]:
        """Where a piece's frames (and matte) file go."""
        frames = self.path / f"{piece.name}{PIECE_SUFFIX}"
        return frames, (self.path / f"{piece.name}.matte{PIECE_SUFFIX}" if matte else None)

    def load(self) -> dict[tuple[int, int], PieceRecord]:
        """The manifest's records by (start, stop); empty when there is none or it is unreadable."""
        try:
            data = json.loads(self.manifest_path.read_text(encoding="utf-8"))
            if data.get("format") != _FORMAT or data.get("key") != self.key:
                raise ValueError("another render's manifest")
            records = [PieceRecord(**r) for r in data["pieces"]]
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring the render manifest %s (%s)", self.manifest_path, exc)
            return {}
        return {(r.start, r.stop): r for r in records}

    def save(self, records: dict[tuple[int, int], PieceRecord]) -> None:
        """Rewrite the manifest atomically."""
        self.path.mkdir(parents=True, exist_ok=True)
        data = {"format": _FORMAT, "key": self.key,
                "pieces": [asdict(records[k]) for k in sorted(records)]}
        with atomic_output(self.manifest_path) as tmp:
            tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")

    def verified(self, record: PieceRecord | None) -> bool:
        """True when the record's files are present with the recorded sha256."""
        if record is None:
            return False
        files = [(record.file, record.sha256)]
        if record.matte_file is not None:
            files.append((record.matte_file, record.matte_sha256))
        for name, digest in files:
            path = self.path / name
            if not path.is_file() or file_sha256(path) != digest:
                return False
        return True

    def remove(self) -> None:
        """Delete the folder and everything in it."""
        shutil.rmtree(self.path, ignore_errors=True)


__all__ = ["PieceRecord", "WorkFolder", "render_key", "selection_digest"]
