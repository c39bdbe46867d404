"""Provenance sidecars: what made a render, so a reviewer can trust (and re-make) it.

Every render writes ``<output>.provenance.json`` beside the output: input and output hashes,
frame range, the full Look, editors and model files, software versions, time, operator,
consent records. ``check_provenance`` tells whether the output still matches its sidecar.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import platform
import time
from pathlib import Path
from typing import Any

from deage import __version__
from deage.errors import MediaError
from deage.safe_write import atomic_output


def sidecar_path(output: str | Path) -> Path:
    """The sidecar of an output file or sequence pattern: ``<output>.provenance.json``."""
    out = Path(output)
    return out.with_name(out.name.replace("%", "_").replace("#", "_") + ".provenance.json")


def hash_output(output: str | Path) -> str:
    """sha256 of an output file, or of every file of a sequence in frame order."""
    out = Path(output)
    files = [out] if out.is_file() else _sequence_files(out)
    if not files:
        raise MediaError("output not found", out)
    digest = hashlib.sha256()
    for f in files:
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def _sequence_files(pattern: Path) -> list[Path]:
    from deage.video import open_clip  # sequences are resolved by the video module

    try:
        with open_clip(pattern) as clip:
            files = getattr(clip, "files", None)
            return list(files) if files else []
    except MediaError:
        return []


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"deage": __version__, "python": platform.python_version()}
    for pkg in ("numpy", "opencv-python", "av", "dlib-bin", "onnxruntime-gpu", "torch"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def write_provenance(result: Any, *, source: Path, look: Any, operator: str | None = None,
                     models: list[dict[str, Any]] | None = None, extra: dict[str, Any] | None = None) -> Path:
    """Write the sidecar of a finished render (``deage.render.RenderResult``); returns its path."""
    from deage.video import open_clip

    with open_clip(source) as clip:
        source_hash = clip.content_hash()
    record = {
        "kind": "deage-render",
        "output": Path(result.output).name,
        "output_sha256": hash_output(result.output),
        "source": str(source),
        "source_content_hash": source_hash,
        "frame_range": list(result.frame_range),
        "look": look.to_dict(),
        "editor": look.editor,
        "models": models or [],
        "consent": look.consent,
        "ai_altered_label": bool(look.burn_in),
        "software": _versions(),
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "operator": operator or getpass.getuser(),
        "host": platform.node(),
        "faces_edited": result.faces_edited,
        "frames_without_face": result.frames_without_face,
    }
    if extra:
        record.update(extra)
    path = sidecar_path(result.output)
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return path


def read_provenance(path: str | Path) -> dict[str, Any]:
    """Read a sidecar given the sidecar itself or the output it describes."""
    p = Path(path)
    side = p if p.name.endswith(".provenance.json") else sidecar_path(p)
    if not side.is_file():
        raise MediaError("no provenance sidecar found (expected " + side.name + ")", p)
    try:
        return json.loads(side.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise MediaError(f"corrupt provenance sidecar ({exc.__class__.__name__})", side) from None


def check_provenance(output: str | Path) -> bool:
    """True when the output's bytes still hash to what its sidecar recorded."""
    record = read_provenance(output)
    return hash_output(output) == record["output_sha256"]
