"""Errors a user can act on. Each carries a one-line message naming the file and the problem.

The CLI prints ``deage: <message>`` and exits with ``exit_code`` (2) for any ``DeageError``;
a traceback is shown only with ``--debug``.
"""

from __future__ import annotations

from pathlib import Path


class DeageError(Exception):
    """Base of every error deage raises on purpose (bad input, missing weights...)."""

    exit_code = 2

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        super().__init__(f"{path}: {message}" if path is not None else message)


class MediaError(DeageError):
    """A clip, image or sequence is missing, unreadable, truncated, corrupt or unsupported."""


class OutputError(DeageError):
    """An output path is unusable (same as the input, missing folder, unsupported format)."""


class NoFaceError(DeageError):
    """No face (or no usable face) where one is required."""


class AmbiguousFaceError(DeageError):
    """Several faces where exactly one was required and no choice was made."""


class LookError(DeageError):
    """A Look (JSON preset) is missing, corrupt or has invalid values."""


class WeightsError(DeageError):
    """A model file is missing, has the wrong sha256, or the wrong input/output signature."""


class ConsentError(DeageError):
    """A face replacement uses a source identity without a consent record."""
