"""Provenance sidecars: what made a render, so a reviewer can trust (and re-make) it.

Every render writes a sidecar JSON beside its output: ``out.mov.provenance.json`` for a file,
``shot.exr.provenance.json`` for the sequence ``shot.####.exr`` (whatever spelling of the
pattern, or one of its frame files, is given). It records the input's content hash and the
output's sha256 (of every frame file, in frame order, for a sequence), the frame range, the full
Look, the editor and the model files it and the face analysis used (with sha256), software
versions, time, operator, host and consent records. ``check_provenance`` tells whether the output
still matches its sidecar; ``deage provenance FILE`` prints it back.

Example::

    record = read_provenance("young.mov")          # or the sidecar itself
    check_provenance("young.mov")                  # False once a byte of the output changed
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from deage import __version__
from deage.errors import DeageError, MediaError
from deage.safe_write import atomic_output

PROVENANCE_VERSION = 1
SIDECAR_SUFFIX = ".provenance.json"


def _sequence(output: Path):
    from deage.video.sequence import parse_sequence_path

    return parse_sequence_path(output)


def output_base_name(output: str | Path) -> str:
    """The name a render's companion files start with: the file's name, or for an image sequence
    (``shot.%04d.exr``, ``shot.####.exr``, ``shot.1001.exr``) its name without the frame number
    (``shot.exr``)."""
    out = Path(output)
    pattern = _sequence(out)
    if pattern is None:
        return out.name
    return (pattern.prefix.rstrip("._-") or "sequence") + pattern.suffix


def sidecar_path(output: str | Path) -> Path:
    """The sidecar of an output file or sequence: ``<output_base_name>.provenance.json`` beside it."""
    out = Path(output)
    return out.with_name(output_base_name(out) + SIDECAR_SUFFIX)


def output_files(output: str | Path) -> list[Path]:
    """The files of an output: ``[output]`` for a file, every frame file (by frame number) for a sequence.

    Raises:
        MediaError: nothing found.
    """
    out = Path(output)
    if out.is_file() and _sequence(out) is None:
        return [out]
    pattern = _sequence(out)
    files = list(pattern.scan().values()) if pattern is not None else []
    if not files:
        raise MediaError("output not found", out)
    return files


def hash_output(output: str | Path) -> str:
    """Hex sha256 of an output file, or of every file of a sequence in frame order."""
    digest = hashlib.sha256()
    for f in output_files(output):
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"deage": __version__, "python": platform.python_version()}
    for pkg in ("numpy", "opencv-python", "av", "dlib-bin", "face-recognition-models", "onnxruntime-gpu",
                "onnxruntime", "torch"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def analysis_models(settings: Any | None = None, photo: bool = False) -> list[dict[str, Any]]:
    """The model files a face analysis with ``settings`` (``AnalysisSettings``; default the defaults)
    reads, each as ``{"name", "role", "file", "sha256", "size"}``; ``photo``: the source is a single
    image (dlib's CNN detector runs on photos by default).

    dlib's engines use ``face-recognition-models``' files (the HOG detector is built into dlib
    and has no file); other engines are looked up in the weights manifest. A model that cannot
    be found is recorded with ``"sha256": null`` and an ``"error"``.
    """
    from deage.weights import sha256_file

    if settings is None:
        from deage.face.analysis import AnalysisSettings

        settings = AnalysisSettings()
    wanted: list[tuple[str, str]] = [("detector", settings.detector), ("landmarker", settings.landmarker)]
    if getattr(settings, "descriptors", True):
        wanted.append(("recognizer", settings.recognizer))
    out: list[dict[str, Any]] = []
    for role, engine in wanted:
        if engine == "dlib":
            from deage.face.backends import dlib_backend

            if role == "detector":
                import dlib

                out.append({"name": "dlib_hog_frontal", "role": role, "file": None, "sha256": None,
                            "note": f"built into dlib {dlib.__version__}"})
            if role == "detector" and not settings.runs_cnn(photo):
                continue
            keys = {"detector": ("cnn_detector",), "landmarker": ("landmarks68",),
                    "recognizer": ("descriptor", "landmarks5")}[role]
            try:
                paths = dlib_backend.model_paths()
            except DeageError as exc:
                out.append({"name": f"dlib_{role}", "role": role, "file": None, "sha256": None, "error": str(exc)})
                continue
            for key in keys:
                p = paths[key]
                record = {"name": f"dlib_{key}", "role": role, "file": p.name, "sha256": sha256_file(p),
                          "size": p.stat().st_size}
                if key == "cnn_detector":
                    record["note"] = "dlib CNN (MMOD) detector, merged with HOG"
                out.append(record)
            continue
        try:
            from deage.face.backends import pick_entry
            from deage.weights import Manifest

            manifest = Manifest.load()
            entry = pick_entry(engine, manifest)
            record = manifest.provenance(entry.name)
            out.append({**record, "name": entry.name, "role": role, "sha256": record.get("actual_sha256") or None})
        except DeageError as exc:
            out.append({"name": engine, "role": role, "file": None, "sha256": None, "error": str(exc)})
    return out


def write_provenance(result: Any, *, source: Path, look: Any, operator: str | None = None,
                     models: list[dict[str, Any]] | None = None, extra: dict[str, Any] | None = None,
                     analysis_settings: Any | None = None, editor: Any | None = None,
                     source_still: bool = False) -> Path:
    """Write the sidecar of a finished render (``deage.render.RenderResult``); returns its path.

    Args:
        source: the clip rendered from.
        source_still: the source was opened as that one image (``open_clip(still=True)``) although
            its name has a frame number; recorded, so reviews open it the same way.
        look: the ``deage.look.Look`` rendered with (recorded in full).
        operator: who ran it (default: the login name).
        models: the editor's model files (``deage.weights.Manifest.provenance`` records).
        extra: more keys (e.g. ``{"matte": "shot_matte.mov"}``).
        analysis_settings: the face analysis' ``AnalysisSettings``, whose model files are recorded
            when the editor works on faces (default: the default settings).
        editor: the editor object that rendered; when it has ``provenance() -> dict`` (the face
            swap: sources, consent, mappings, models), its ``models`` join ``models`` and its
            other keys go under ``"editor_details"``. A failing ``provenance()`` is recorded, never raised.
    """
    from deage.edit.registry import editor_spec
    from deage.video import open_clip

    with open_clip(source, still=source_still) as clip:
        source_hash = clip.content_hash()
        photo = len(clip) == 1
    files = output_files(result.output)
    try:
        needs_faces = editor_spec(look.editor).needs_faces
    except KeyError:
        needs_faces = True
    record: dict[str, Any] = {
        "kind": "deage-render",
        "provenance_version": PROVENANCE_VERSION,
        "output": Path(result.output).name,
        "output_sha256": hash_output(result.output),
        "output_files": len(files),
        "source": str(source),
        "source_from_output": _relative_to(Path(source), Path(result.output).parent),
        "source_absolute": str(Path(source).absolute()),
        "source_content_hash": source_hash,
        **({"source_still": True} if source_still else {}),
        "frame_range": list(result.frame_range),
        "look": look.to_dict(),
        "editor": look.editor,
        "models": models or [],
        "analysis": None,
        "consent": look.consent,
        "ai_altered_label": bool(look.burn_in),
        "software": _versions(),
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "operator": operator or getpass.getuser(),
        "host": platform.node(),
        "faces_edited": result.faces_edited,
        "frames_without_face": result.frames_without_face,
    }
    if _sequence(Path(result.output)) is not None:
        from deage.video.sequence import parse_sequence_path

        numbers = list(parse_sequence_path(Path(result.output)).scan())
        record["first_frame_number"] = numbers[0]
        record["last_frame_number"] = numbers[-1]
    if editor is not None and callable(getattr(editor, "provenance", None)):
        try:
            details = dict(editor.provenance() or {})
        except Exception as exc:  # a finished render must not fail on its paperwork
            details = {"error": f"{type(exc).__name__}: {exc}"}
        record["models"] = [*record["models"], *details.pop("models", [])]
        record["editor_details"] = details
    if needs_faces:
        if analysis_settings is None:
            from deage.face.analysis import AnalysisSettings

            analysis_settings = AnalysisSettings()
        record["analysis"] = {"settings": analysis_settings.to_dict(), "models": analysis_models(analysis_settings, photo)}
    if extra:
        record.update(extra)
    path = sidecar_path(result.output)
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return path


def _legacy_sidecar(output: Path) -> Path:
    """The name sidecars had before sequences were named by ``output_base_name``."""
    return output.with_name(output.name.replace("%", "_").replace("#", "_") + SIDECAR_SUFFIX)


def read_provenance(path: str | Path) -> dict[str, Any]:
    """Read a sidecar given the sidecar itself or the output it describes (file, sequence pattern or frame file).

    Raises:
        MediaError: no sidecar, or one that is not valid JSON of a deage render.
    """
    p = Path(path)
    if p.name.endswith(SIDECAR_SUFFIX):
        side = p
    else:
        side = sidecar_path(p)
        if not side.is_file() and _legacy_sidecar(p).is_file():
            side = _legacy_sidecar(p)
    if not side.is_file():
        raise MediaError("no provenance sidecar found (expected " + side.name + ")", p)
    try:
        record = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MediaError(f"corrupt provenance sidecar ({exc.__class__.__name__})", side) from None
    if not isinstance(record, dict) or "output_sha256" not in record:
        raise MediaError("not a deage provenance sidecar (no output_sha256)", side)
    return record


def _relative_to(path: Path, folder: Path) -> str:
    """``path`` relative to ``folder`` (``../plates/a.mov``), or absolute where no relative path
    exists (another drive)."""
    try:
        return os.path.relpath(path.absolute(), folder.absolute())
    except ValueError:
        return str(path.absolute())


def recorded_source(record: dict[str, Any], output: str | Path) -> Path:
    """The source a render's ``record`` names, found again from wherever the review runs: beside
    the ``output`` as it was (the two moved together), at its absolute path, as given at render
    time (relative to that working folder), or by its name beside the output. The first that
    exists; else the name as given, for the opener's error."""
    given = Path(record.get("source") or "")
    candidates = []
    if record.get("source_from_output"):
        candidates.append(Path(output).parent / record["source_from_output"])
    if record.get("source_absolute"):
        candidates.append(Path(record["source_absolute"]))
    candidates += [given, Path(output).parent / given.name]  # older sidecars: as given, or beside the output
    for candidate in candidates:
        if _exists(candidate):
            return candidate
    return given


def _exists(path: Path) -> bool:
    """A file, a folder (of frames), or a sequence pattern (``plate.%04d.exr``) with at least one frame file."""
    if path.is_file() or path.is_dir():
        return True
    from deage.video.sequence import has_frame_pattern, parse_sequence_path

    if has_frame_pattern(path):
        pattern = parse_sequence_path(path)
        return pattern is not None and bool(pattern.scan())
    return False


def check_provenance(output: str | Path) -> bool:
    """True when the output's bytes still hash to what its sidecar recorded (False also when
    frames of a sequence were removed or added).

    Raises:
        MediaError: no sidecar, a corrupt one, or the output is gone.
    """
    record = read_provenance(output)
    return hash_output(output) == record["output_sha256"]
