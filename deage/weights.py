"""User-supplied model files: the manifest, where files live, and their sha256 check.

deage never downloads a model. Every model a backend can load has one table in
``weights/manifest.toml`` (``[models.<name>]``) stating its file name, sha256, size, licence,
where a user obtains it, what kind of model it is, which backend loads it, and the
input/output signature that backend expects. Files are looked for in the weights folder:

1. the ``weights_dir`` argument, else
2. the folder named by the environment variable ``DEAGE_WEIGHTS``, else
3. ``<repository>/weights/``.

A file is verified against the manifest's sha256 before a backend loads it. Hashing a
500 MB file takes seconds, so a verified hash is remembered for the life of the process,
keyed by the file's (resolved path, size, modification time): touching or replacing the file
makes it hash again. An entry whose ``sha256`` is empty is *unverified*: any file is accepted,
a warning naming the file and its actual sha256 is shown once, and ``Status.actual_sha256``
carries the hash for provenance.

Example::

    manifest = Manifest.load()
    path = manifest.resolve("scrfd_500m")          # verified Path, or WeightsError
    for status in manifest.verify_all():
        print(status.line())
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import tomllib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from deage.errors import WeightsError

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_WEIGHTS_DIR = REPO_ROOT / "weights"
DEFAULT_MANIFEST = DEFAULT_WEIGHTS_DIR / "manifest.toml"
ENV_WEIGHTS = "DEAGE_WEIGHTS"

KINDS = ("detector", "landmarker", "recognizer", "parser", "occluder", "swapper", "restorer", "age-editor")
State = Literal["ok", "missing", "mismatch", "unverified", "present"]
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_REQUIRED = ("file", "sha256", "size", "licence", "source", "kind", "backend", "signature")


class UnverifiedWeightsWarning(UserWarning):
    """A model file was accepted without a sha256 check (its manifest entry has no hash)."""


@dataclass(frozen=True)
class TensorSpec:
    """One input or output of a model.

    Attributes:
        name: tensor name in the model file ("*" when any name is accepted).
        shape: dimensions; an ``int`` must match, a ``str`` ("N", "H", "W") is symbolic.
        dtype: numpy dtype name ("float32").
        description: layout, colour order and value range, in words.
    """

    name: str
    shape: tuple[int | str, ...]
    dtype: str = "float32"
    description: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TensorSpec:
        return cls(
            name=str(data.get("name", "*")),
            shape=tuple(d if isinstance(d, int) else str(d) for d in data.get("shape", ())),
            dtype=str(data.get("dtype", "float32")),
            description=str(data.get("description", "")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype, "description": self.description}


@dataclass(frozen=True)
class Signature:
    """What a backend feeds a model and reads back.

    Attributes:
        inputs / outputs: the tensors (for torch state dicts: empty, see ``options``).
        options: everything else the manifest states (``layout``, ``colour``, ``value_range``,
            and backend options such as ``output_mode`` or ``control``).
    """

    inputs: tuple[TensorSpec, ...] = ()
    outputs: tuple[TensorSpec, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Signature:
        data = dict(data)
        inputs = tuple(TensorSpec.from_dict(t) for t in data.pop("inputs", []))
        outputs = tuple(TensorSpec.from_dict(t) for t in data.pop("outputs", []))
        return cls(inputs=inputs, outputs=outputs, options=data)


@dataclass(frozen=True)
class ManifestEntry:
    """One model of the manifest (see weights/README.md for the meaning of each field)."""

    name: str
    file: str
    sha256: str
    size: int
    licence: str
    source: str
    kind: str
    backend: str
    signature: Signature
    notes: str = ""

    @property
    def verified(self) -> bool:
        """True when the manifest states a sha256 to check the file against."""
        return bool(self.sha256)


@dataclass(frozen=True)
class Status:
    """The state of one model file, with everything ``deage weights list|verify`` prints.

    Attributes:
        name / file / kind / backend / licence / source: from the manifest.
        path: where the file is (or is expected).
        state: "ok" (hash matches), "missing", "mismatch" (hash or size differs),
            "unverified" (present, but the manifest states no hash), or "present" (found with
            the right size but not hashed: only from ``status_all``, which never hashes).
        message: one line for a person; for "missing" it says which file to get, from where,
            and where to put it.
        expected_sha256: the manifest's hash ("" when unknown).
        actual_sha256: the file's hash ("" when the file is missing or its size already differs).
        size: the file's size in bytes (0 when missing).
    """

    name: str
    file: str
    path: Path
    state: State
    message: str
    kind: str
    backend: str
    licence: str
    source: str
    expected_sha256: str
    actual_sha256: str = ""
    size: int = 0

    @property
    def usable(self) -> bool:
        """The file is there and not known to be wrong ("ok", "unverified" or "present")."""
        return self.state in ("ok", "unverified", "present")

    def line(self) -> str:
        """``name  state  message`` on one line."""
        return f"{self.name:<24} {self.state:<10} {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record (for provenance sidecars and ``--json`` output)."""
        return {
            "name": self.name, "file": self.file, "path": str(self.path), "state": self.state,
            "message": self.message, "kind": self.kind, "backend": self.backend, "licence": self.licence,
            "source": self.source, "expected_sha256": self.expected_sha256,
            "actual_sha256": self.actual_sha256, "size": self.size,
        }


def weights_dir(override: str | Path | None = None) -> Path:
    """The folder model files are read from: ``override``, else $DEAGE_WEIGHTS, else <repo>/weights."""
    if override is not None:
        return Path(override).expanduser()
    env = os.environ.get(ENV_WEIGHTS)
    if env:
        return Path(env).expanduser()
    return DEFAULT_WEIGHTS_DIR


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file (streamed in 1 MiB blocks), remembered per (path, size, mtime) in this process.

    Raises:
        WeightsError: the file cannot be read.
    """
    p = Path(path).resolve()
    try:
        st = p.stat()
    except OSError as exc:
        raise WeightsError(f"cannot read model file ({exc.strerror})", p) from None
    return _sha256_cached(str(p), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise WeightsError(f"cannot read model file ({exc.strerror})", path) from None
    return digest.hexdigest()


class Manifest:
    """The parsed manifest (model name -> ``ManifestEntry``) bound to a weights folder.

    Attributes:
        entries: name -> entry.
        path: the manifest file (None when built from a dict).
        weights_dir: the folder files are looked for in, unless a method is given another one.
    """

    def __init__(self, entries: dict[str, ManifestEntry], path: Path | None = None,
                 weights_dir: str | Path | None = None) -> None:
        self.entries = entries
        self.path = path
        self.weights_dir = _weights_dir(weights_dir)

    # -- loading -----------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path | None = None, weights_dir: str | Path | None = None) -> Manifest:
        """Read and validate a manifest (default: <repo>/weights/manifest.toml).

        ``weights_dir`` binds the folder the files are looked for in (default: $DEAGE_WEIGHTS,
        else <repo>/weights), read once, here.

        Raises:
            WeightsError: missing file, TOML syntax error, or an entry with a missing/invalid field.
        """
        p = Path(path) if path is not None else DEFAULT_MANIFEST
        try:
            with open(p, "rb") as stream:
                data = tomllib.load(stream)
        except FileNotFoundError:
            raise WeightsError("weights manifest not found", p) from None
        except tomllib.TOMLDecodeError as exc:
            raise WeightsError(f"weights manifest is not valid TOML ({exc})", p) from None
        return cls.from_dict(data, p, weights_dir)

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: Path | None = None,
                  weights_dir: str | Path | None = None) -> Manifest:
        """Build from parsed TOML (``{"models": {name: {...}}}``), validating every entry."""
        models = data.get("models")
        if not isinstance(models, dict) or not models:
            raise WeightsError("weights manifest has no [models.<name>] tables", path)
        entries = {name: _parse_entry(name, table, path) for name, table in models.items()}
        return cls(entries, path, weights_dir)

    # -- look-up -----------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return sorted(self.entries)

    def entry(self, name: str) -> ManifestEntry:
        """The entry called ``name``; WeightsError listing the known names otherwise."""
        try:
            return self.entries[name]
        except KeyError:
            raise WeightsError(
                f"no model called {name!r} in the weights manifest; known: {', '.join(self.names)}", self.path
            ) from None

    def folder(self, weights_dir: str | Path | None = None) -> Path:
        """``weights_dir`` if given, else the folder this manifest is bound to."""
        return Path(weights_dir).expanduser() if weights_dir is not None else self.weights_dir

    def where(self, name: str, weights_dir: str | Path | None = None) -> Path:
        """Where the file of model ``name`` is expected (whether or not it is there)."""
        return self.folder(weights_dir) / self.entry(name).file

    # -- verification ------------------------------------------------------------------------
    def status(self, name: str, weights_dir: str | Path | None = None, *, hash_file: bool = True) -> Status:
        """Check one model's file without raising (hashing it unless its size already differs).

        With ``hash_file=False`` a file of the right size is reported "present" without hashing.
        """
        entry = self.entry(name)
        path = self.folder(weights_dir) / entry.file
        base = dict(name=name, file=entry.file, path=path, kind=entry.kind, backend=entry.backend,
                    licence=entry.licence, source=entry.source, expected_sha256=entry.sha256)
        if not path.is_file():
            return Status(state="missing", message=_missing_message(entry, path), **base)
        size = path.stat().st_size
        if entry.size and size != entry.size:
            return Status(
                state="mismatch", size=size,
                message=(f"{path} has {size} bytes, expected {entry.size} (sha256 {entry.sha256 or 'not stated'}): "
                         f"a different or truncated file; get {entry.file} again from {entry.source}"),
                **base,
            )
        if not hash_file:
            return Status(state="present", size=size, message=f"{path} found (not hashed; `verify` checks it)", **base)
        actual = sha256_file(path)
        if not entry.sha256:
            return Status(
                state="unverified", actual_sha256=actual, size=size,
                message=f"{path} accepted without a check: the manifest states no sha256 (this file's is {actual})",
                **base,
            )
        if actual != entry.sha256:
            return Status(
                state="mismatch", actual_sha256=actual, size=size,
                message=(f"{path} has sha256 {actual}, expected {entry.sha256}: a different or corrupt file; "
                         f"get {entry.file} again from {entry.source}"),
                **base,
            )
        return Status(state="ok", actual_sha256=actual, size=size, message=f"{path} verified", **base)

    def resolve(self, name: str, weights_dir: str | Path | None = None) -> Path:
        """Path of model ``name``'s file after checking it.

        An unverified entry (no sha256 in the manifest) is accepted with a one-time warning
        (``UnverifiedWeightsWarning``) that names the file and its actual sha256.

        Raises:
            WeightsError: the file is missing (the message says which file, where to get it and
                where to put it) or its size/sha256 differs from the manifest.
        """
        status = self.status(name, weights_dir)
        if status.state in ("missing", "mismatch"):
            raise WeightsError(status.message)
        if status.state == "unverified":
            _warn_unverified_once(str(status.path), status.actual_sha256, status.message)
        return status.path

    def verify_all(self, weights_dir: str | Path | None = None) -> list[Status]:
        """Status of every model in the manifest, hashing each file, in name order (no raising)."""
        return [self.status(name, weights_dir) for name in self.names]

    def status_all(self, weights_dir: str | Path | None = None) -> list[Status]:
        """Status of every model without hashing (missing / size mismatch / present): a quick list."""
        return [self.status(name, weights_dir, hash_file=False) for name in self.names]

    def provenance(self, name: str, weights_dir: str | Path | None = None) -> dict[str, Any]:
        """What a render's provenance sidecar records about the model it used (``Status.to_dict()``)."""
        return self.status(name, weights_dir).to_dict()


@functools.lru_cache(maxsize=None)
def _warn_unverified_once(path: str, sha256: str, message: str) -> None:
    """Warn about an unverified file once per (path, hash) in this process (the cache is the memory)."""
    warnings.warn(message, UnverifiedWeightsWarning, stacklevel=4)


def _weights_dir(override: str | Path | None) -> Path:
    return weights_dir(override)


def _missing_message(entry: ManifestEntry, path: Path) -> str:
    expected = f"sha256 {entry.sha256}" if entry.sha256 else "sha256 not stated in the manifest"
    return (f"model file {entry.file} for '{entry.name}' is missing ({expected}); get it from {entry.source}; "
            f"put it at {path} (or set {ENV_WEIGHTS} to the folder that holds it)")


def _parse_entry(name: str, table: Any, path: Path | None) -> ManifestEntry:
    where = f"[models.{name}]"
    if not isinstance(table, dict):
        raise WeightsError(f"{where} must be a table", path)
    absent = [key for key in _REQUIRED if key not in table]
    if absent:
        raise WeightsError(f"{where} lacks {', '.join(absent)}", path)
    sha = str(table["sha256"]).lower()
    if sha and not _HEX64.match(sha):
        raise WeightsError(f"{where} sha256 must be 64 hex digits or empty (unverified), got {sha!r}", path)
    size = table["size"]
    if not isinstance(size, int) or size < 0:
        raise WeightsError(f"{where} size must be a whole number of bytes (0 = unknown), got {size!r}", path)
    kind = str(table["kind"])
    if kind not in KINDS:
        raise WeightsError(f"{where} kind {kind!r} is not one of {', '.join(KINDS)}", path)
    file = str(table["file"])
    if not file or Path(file).name != file:
        raise WeightsError(f"{where} file must be a bare file name, got {file!r}", path)
    if not isinstance(table["signature"], dict):
        raise WeightsError(f"{where} signature must be a table", path)
    return ManifestEntry(
        name=name, file=file, sha256=sha, size=size, licence=str(table["licence"]), source=str(table["source"]),
        kind=kind, backend=str(table["backend"]), signature=Signature.from_dict(table["signature"]),
        notes=str(table.get("notes", "")),
    )


# -- module-level shortcuts on the default manifest -----------------------------------------------
def resolve(name: str, weights_dir: str | Path | None = None, manifest: Manifest | None = None) -> Path:
    """``Manifest.resolve`` on ``manifest`` (default: the repository's manifest)."""
    return (manifest or Manifest.load()).resolve(name, weights_dir)


def where(name: str, weights_dir: str | Path | None = None, manifest: Manifest | None = None) -> Path:
    """``Manifest.where`` on ``manifest`` (default: the repository's manifest)."""
    return (manifest or Manifest.load()).where(name, weights_dir)


def verify_all(weights_dir: str | Path | None = None, manifest: Manifest | None = None) -> list[Status]:
    """``Manifest.verify_all`` on ``manifest`` (default: the repository's manifest)."""
    return (manifest or Manifest.load()).verify_all(weights_dir)
