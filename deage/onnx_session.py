"""onnxruntime sessions and torch devices: the fastest provider that is present and loads.

``device`` strings, everywhere in deage: ``"auto"`` (GPU when one works, else CPU), ``"cpu"``,
``"cuda"`` / ``"cuda:N"``, ``"tensorrt"`` / ``"tensorrt:N"`` (TensorRT only when asked for).

onnxruntime-gpu logs an error when its CUDA provider's libraries are missing (a CPU machine, or
a CUDA/cuDNN version it was not built for) and then runs on the CPU. ``create_session`` keeps that
log out of the user's way and falls back quietly for ``"auto"``; for an explicit GPU request the
fallback is reported with a ``RuntimeWarning``. The provider actually used is
``session.get_providers()[0]`` (see ``session_device``). Silencing works through onnxruntime's
process-wide default logger: it is set to "fatal" while a session is created and back to
onnxruntime's default ("warning") afterwards, so create sessions from one thread at a time.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deage.errors import DeageError, WeightsError

if TYPE_CHECKING:  # pragma: no cover
    import onnxruntime
    import torch

    from deage.weights import TensorSpec

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
_ORT_WARNING, _ORT_FATAL = 2, 4  # onnxruntime's default logger severity, and "fatal only"
_ORT_DTYPES = {
    "tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
    "tensor(uint8)": "uint8", "tensor(int8)": "int8", "tensor(int32)": "int32", "tensor(int64)": "int64",
    "tensor(bool)": "bool",
}


def parse_device(device: str) -> tuple[str, int]:
    """``"cuda:1"`` -> ``("cuda", 1)``; kinds: auto, cpu, cuda, tensorrt.

    Raises:
        DeageError: an unknown device string.
    """
    kind, _, index = str(device).strip().lower().partition(":")
    if kind not in ("auto", "cpu", "cuda", "tensorrt") or (index and not index.isdigit()):
        raise DeageError(f"unknown device {device!r}; use auto, cpu, cuda, cuda:N, tensorrt or tensorrt:N")
    return kind, int(index or 0)


def requested_providers(device: str = "auto", available: Sequence[str] | None = None) -> list[tuple[str, dict[str, Any]]]:
    """Providers to ask onnxruntime for, best first, among those it lists as available.

    TensorRT only for ``"tensorrt"``; CUDA for ``"auto"``, ``"cuda"`` and ``"tensorrt"``; CPU always last.
    """
    import onnxruntime

    kind, index = parse_device(device)
    present = set(onnxruntime.get_available_providers() if available is None else available)
    wanted: list[tuple[str, dict[str, Any]]] = []
    if kind == "tensorrt" and TENSORRT in present:
        wanted.append((TENSORRT, {"device_id": index}))
    if kind in ("auto", "cuda", "tensorrt") and CUDA in present:
        wanted.append((CUDA, {"device_id": index}))
    wanted.append((CPU, {}))
    return wanted


@contextlib.contextmanager
def _quiet_onnxruntime() -> Iterator[None]:
    """Silence onnxruntime's default logger (provider-library load errors) for the duration."""
    import onnxruntime

    onnxruntime.set_default_logger_severity(_ORT_FATAL)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*provider.*", category=UserWarning)
            yield
    finally:
        onnxruntime.set_default_logger_severity(_ORT_WARNING)


def create_session(path: str | Path, device: str = "auto", *, threads: int = 0) -> onnxruntime.InferenceSession:
    """An ``onnxruntime.InferenceSession`` on the best provider that actually loads.

    Args:
        path: an ONNX file (already verified through ``deage.weights``).
        device: see the module docstring; ``"cpu"`` forces the CPU provider.
        threads: intra-op threads for the CPU provider (0: onnxruntime's default).

    Raises:
        WeightsError: the file is missing or is not a model onnxruntime can load.
        DeageError: an unknown ``device`` string.
    """
    import onnxruntime

    p = Path(path)
    if not p.is_file():
        raise WeightsError("model file not found", p)
    kind, _ = parse_device(device)
    wanted = requested_providers(device)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only, from this session's own logger
    if threads:
        options.intra_op_num_threads = int(threads)
    # Idle intra-op threads sleep instead of spinning: a render runs sessions from several editing
    # threads beside the encoder, and spinning threads took their cores.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    names = [name for name, _ in wanted]
    try:
        with _quiet_onnxruntime():
            session = onnxruntime.InferenceSession(
                str(p), sess_options=options, providers=names, provider_options=[opts for _, opts in wanted]
            )
    except Exception as exc:  # a GPU provider that fails hard, or a file that is not ONNX
        if names != [CPU] and _looks_like_provider_failure(exc):
            session = _cpu_session(p, options)
        else:
            raise WeightsError(f"not a model onnxruntime can load ({_first_line(exc)})", p) from None
    used = session.get_providers()[0] if session.get_providers() else CPU
    if kind in ("cuda", "tensorrt") and used == CPU:
        warnings.warn(
            f"{p.name}: {device} was requested but no GPU provider loads here "
            f"(onnxruntime lists {', '.join(onnxruntime.get_available_providers())}); running on the CPU",
            RuntimeWarning,
            stacklevel=2,
        )
    return session


def _cpu_session(path: Path, options: Any) -> Any:
    import onnxruntime

    try:
        return onnxruntime.InferenceSession(str(path), sess_options=options, providers=[CPU])
    except Exception as exc:
        raise WeightsError(f"not a model onnxruntime can load ({_first_line(exc)})", path) from None


def _looks_like_provider_failure(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(word in text for word in ("cuda", "tensorrt", "provider", "cudnn", "libcu"))


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def session_device(session: Any) -> str:
    """"cuda", "tensorrt" or "cpu": where ``session`` actually runs."""
    used = session.get_providers()[0] if session.get_providers() else CPU
    return {CUDA: "cuda", TENSORRT: "tensorrt"}.get(used, "cpu")


def torch_device(device: str = "auto") -> torch.device:
    """The torch device for ``device``: CUDA when asked for (or "auto") and available, else CPU.

    An explicit ``"cuda"`` on a machine without a working CUDA build warns and returns CPU.
    """
    import torch

    kind, index = parse_device(device)
    if kind in ("auto", "cuda", "tensorrt") and torch.cuda.is_available():
        return torch.device("cuda", index)
    if kind in ("cuda", "tensorrt"):
        warnings.warn(f"{device} was requested but torch sees no CUDA device; running on the CPU",
                      RuntimeWarning, stacklevel=2)
    return torch.device("cpu")


# -- signature checks ------------------------------------------------------------------------------
def io_summary(session: Any) -> dict[str, list[tuple[str, list[Any], str]]]:
    """``{"inputs": [(name, shape, dtype)], "outputs": [...]}``; dynamic dims are strings or None."""
    def rows(args: Any) -> list[tuple[str, list[Any], str]]:
        return [(a.name, list(a.shape), _ORT_DTYPES.get(a.type, a.type)) for a in args]

    return {"inputs": rows(session.get_inputs()), "outputs": rows(session.get_outputs())}


def check_io(
    session: Any,
    path: str | Path,
    backend: str,
    inputs: Sequence[TensorSpec],
    outputs: Sequence[TensorSpec] | None = None,
) -> None:
    """Check a session's inputs (and outputs, when given) against what ``backend`` feeds and reads.

    A spec dimension that is an ``int`` must equal the model's dimension when the model fixes it;
    a string dimension ("N", "H") accepts anything; a spec name "*" accepts any name.

    Raises:
        WeightsError: naming the file, the tensor, what the model has and what the backend expects.
    """
    summary = io_summary(session)
    for role, specs in (("input", inputs), ("output", outputs)):
        if specs is None:
            continue
        actual = summary[role + "s"]
        if len(actual) != len(specs):
            raise WeightsError(
                f"has {len(actual)} {role}s {[a[0] for a in actual]}, the {backend} backend expects {len(specs)} "
                f"({', '.join(_fmt(s.name, s.shape) for s in specs)}): not the model this entry describes",
                path,
            )
        for i, (spec, (name, shape, dtype)) in enumerate(zip(specs, actual)):
            problem = _mismatch(spec, name, shape, dtype)
            if problem:
                raise WeightsError(
                    f"{role} {i} is {_fmt(name, shape)} {dtype}, the {backend} backend expects "
                    f"{_fmt(spec.name, spec.shape)} {spec.dtype} ({problem})",
                    path,
                )


def _mismatch(spec: TensorSpec, name: str, shape: list[Any], dtype: str) -> str:
    if spec.name != "*" and spec.name != name:
        return f"name {name!r} instead of {spec.name!r}"
    if dtype != spec.dtype:
        return f"dtype {dtype} instead of {spec.dtype}"
    if len(shape) != len(spec.shape):
        return f"rank {len(shape)} instead of {len(spec.shape)}"
    for axis, (want, have) in enumerate(zip(spec.shape, shape)):
        if isinstance(want, int) and isinstance(have, int) and have > 0 and want != have:
            return f"dimension {axis} is {have} instead of {want}"
    return ""


def _fmt(name: str, shape: Sequence[Any]) -> str:
    dims = ",".join("?" if d is None else str(d) for d in shape)
    return f"{name}[{dims}]"
