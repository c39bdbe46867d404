"""Model backends: one small class per engine, each loading a user-supplied, verified model file.

``make_backend(name)`` is the one entry point: ``name`` is a model of ``weights/manifest.toml``
("scrfd_10g", "pfld_68"...) or a backend name ("scrfd", "pfld"...; the first model of that backend
whose file is present is used). The file is resolved and sha256-checked through ``deage.weights``,
the backend class named by the entry's ``backend`` field is built with the entry's signature
options (e.g. ``input_size``), then with the caller's options, which win.

Example::

    detector = make_backend("scrfd_500m", weights_dir="/work/shared/models")
    faces = detector.detect(rgb_frame)

The embedded dlib engine needs no model file and lives in ``dlib_backend`` (``deage.face.detect``
picks it by the name "dlib"). Importing this package imports no model framework; each backend
imports onnxruntime / torch / facexlib when it is built.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

from deage.errors import WeightsError
from deage.weights import Manifest, ManifestEntry

BACKENDS: dict[str, str] = {
    "scrfd": "deage.face.backends.scrfd:ScrfdDetector",
    "yunet": "deage.face.backends.yunet:YunetDetector",
    "retinaface": "deage.face.backends.retinaface:RetinaFaceDetector",
    "landmark106": "deage.face.backends.landmark106:Landmark106",
    "pfld": "deage.face.backends.pfld:PfldLandmarker",
    "arcface": "deage.face.backends.arcface:ArcFaceRecognizer",
    "bisenet": "deage.face.backends.bisenet:BiSeNetParser",
    "bisenet_onnx": "deage.face.backends.bisenet:BiSeNetOnnxParser",
    "skin_hair_seg": "deage.face.backends.skin_hair_seg:SkinHairParser",
    "xseg": "deage.face.backends.xseg:XsegOccluder",
    "fran": "deage.edit.learned.fran:FranEditor",
    "stylegan_onnx": "deage.edit.learned.stylegan_onnx:StyleganOnnxEditor",
}
"""Backend name (a manifest entry's ``backend`` field) -> ``module:Class``."""


def backend_class(backend: str) -> type:
    """The class of backend ``backend`` (imports its module)."""
    try:
        module, _, attr = BACKENDS[backend].partition(":")
    except KeyError:
        raise WeightsError(
            f"no loader for backend {backend!r} in this version of deage; loaders: {', '.join(sorted(BACKENDS))}"
        ) from None
    return getattr(importlib.import_module(module), attr)


def pick_entry(name: str, manifest: Manifest, weights_dir: str | Path | None = None) -> ManifestEntry:
    """The manifest entry for a model name, or for a backend name the first entry whose file is present.

    Raises:
        WeightsError: an unknown name, or (for a backend name) none of its files present; the
            message then names every file that would do and where to get them.
    """
    if name in manifest.entries:
        return manifest.entry(name)
    candidates = [e for e in manifest.entries.values() if e.backend == name]
    if not candidates:
        raise WeightsError(
            f"no model or backend called {name!r}; models: {', '.join(manifest.names)}; "
            f"backends: {', '.join(sorted({e.backend for e in manifest.entries.values()}))}",
            manifest.path,
        )
    for entry in candidates:
        if manifest.where(entry.name, weights_dir).is_file():
            return entry
    wanted = "; ".join(f"{e.file} ({e.name}) from {e.source}" for e in candidates)
    raise WeightsError(
        f"no model file for backend {name!r} in {manifest.folder(weights_dir)}; put one of these there: {wanted}"
    )


def make_backend(
    name: str,
    weights_dir: str | Path | None = None,
    *,
    manifest: Manifest | None = None,
    device: str = "auto",
    **options: Any,
) -> Any:
    """Build the backend for model (or backend) ``name`` from its verified file.

    Args:
        name: a manifest model name, or a backend name (see ``pick_entry``).
        weights_dir: folder holding the model files (default: the manifest's: $DEAGE_WEIGHTS or <repo>/weights).
        manifest: the manifest to use (default: <repo>/weights/manifest.toml).
        device: "auto", "cpu", "cuda"... (see ``deage.onnx_session``).
        **options: backend options (thresholds, sizes...), over the manifest's signature options.

    Raises:
        WeightsError: unknown name, missing or mismatched file (the message says what to get and
            where to put it), or a file whose inputs/outputs are not what the backend expects.
    """
    manifest = manifest if manifest is not None else Manifest.load()
    entry = pick_entry(name, manifest, weights_dir)
    cls = backend_class(entry.backend)
    path = manifest.resolve(entry.name, weights_dir)
    accepted = set(getattr(cls, "MANIFEST_OPTIONS", ()))
    merged = {k: v for k, v in entry.signature.options.items() if k in accepted}
    merged.update(options)
    params = inspect.signature(cls.__init__).parameters
    unknown = sorted(k for k in merged if k not in params)
    if unknown:
        raise WeightsError(f"the {entry.backend} backend takes no option(s) {', '.join(unknown)}", manifest.path)
    return cls(path, device=device, **merged)
