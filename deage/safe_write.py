"""Write outputs under a temporary name and rename when complete, never touching inputs."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from deage.errors import OutputError


def check_output_path(output: str | Path, *inputs: str | Path | None) -> Path:
    """Validate an output path: its folder exists and it is none of ``inputs``.

    Raises:
        OutputError: the folder is missing, or the output would overwrite an input.
    """
    out = Path(output)
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"output folder {parent} does not exist", out)
    for src in inputs:
        if src is None:
            continue
        src_path = Path(src)
        same = out.resolve() == src_path.resolve()
        if not same and out.exists() and src_path.exists():
            same = os.path.samefile(out, src_path)
        if same:
            raise OutputError("output path is the same as the input; choose another name", out)
    return out


def temporary_sibling(path: str | Path) -> Path:
    """A hidden name beside ``path`` with the same suffix (so format detection by extension still works)."""
    p = Path(path)
    return p.with_name(f".{p.stem}.partial-{uuid.uuid4().hex[:8]}{p.suffix}")


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``, on error delete it.

    An interrupted write (exception, Ctrl-C) never leaves a half file under the final name.
    """
    final = Path(path)
    tmp = temporary_sibling(final)
    try:
        yield tmp
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    os.replace(tmp, final)
