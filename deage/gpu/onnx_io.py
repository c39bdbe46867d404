"""onnxruntime with I/O binding: feed torch tensors where they live, get torch tensors back.

With the CUDA (or TensorRT) provider, binding inputs and outputs to device memory skips the two
host copies a plain ``session.run`` makes per call; with a batch of crops (N, 3, S, S) one call
serves every face of a frame (or several frames). On the CPU provider the same code binds host
memory, so it is tested here without a GPU.

Example::

    from deage.onnx_session import create_session, torch_device
    session = create_session("editor.onnx", "cuda")
    runner = BoundRunner(session, torch_device("cuda"))
    out = runner.run({"input": crops})          # crops: float32 (N, 3, 512, 512) torch tensor
    edited = out["output"]                      # torch tensor on the same device
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

_ELEMENT = {
    torch.float32: np.float32, torch.float16: np.float16, torch.float64: np.float64, torch.uint8: np.uint8,
    torch.int8: np.int8, torch.int32: np.int32, torch.int64: np.int64, torch.bool: np.bool_,
}
_ORT_TYPES = {
    "tensor(float)": torch.float32, "tensor(float16)": torch.float16, "tensor(double)": torch.float64,
    "tensor(uint8)": torch.uint8, "tensor(int8)": torch.int8, "tensor(int32)": torch.int32,
    "tensor(int64)": torch.int64, "tensor(bool)": torch.bool,
}


class _CudaArray:
    """A view of device memory that ``torch.as_tensor`` understands (``__cuda_array_interface__``)."""

    def __init__(self, pointer: int, shape: tuple[int, ...], dtype: torch.dtype) -> None:
        typestr = np.dtype(_ELEMENT[dtype]).str
        self.__cuda_array_interface__ = {"shape": shape, "typestr": typestr, "data": (pointer, False), "version": 2}


class BoundRunner:
    """Runs one onnxruntime session with its inputs and outputs bound to a torch device's memory.

    Args:
        session: an ``onnxruntime.InferenceSession`` (``deage.onnx_session.create_session``).
        device: where the tensors live: ``cuda:N`` for a session on the CUDA / TensorRT provider,
            ``cpu`` for the CPU provider.

    Outputs are allocated by torch on ``device`` once their shapes for an input shape are known
    (after the first call with that shape), then bound, so the session writes into them directly.
    """

    def __init__(self, session: Any, device: torch.device | str) -> None:
        self.session = session
        self.device = torch.device(device)
        self.output_names = [o.name for o in session.get_outputs()]
        self._output_types = {o.name: _ORT_TYPES.get(o.type, torch.float32) for o in session.get_outputs()}
        self._shapes: dict[tuple, dict[str, tuple[int, ...]]] = {}

    def _where(self) -> tuple[str, int]:
        return self.device.type, (self.device.index or 0) if self.device.type == "cuda" else 0

    def run(self, feeds: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Run the model on ``feeds`` (name -> tensor; moved to ``device`` and made contiguous if needed).

        Returns:
            name -> output tensor on ``device`` (owned by the caller).
        """
        kind, index = self._where()
        io = self.session.io_binding()
        keep: list[torch.Tensor] = []
        for name, tensor in feeds.items():
            t = tensor.to(self.device).contiguous()
            keep.append(t)
            io.bind_input(name, kind, index, _ELEMENT[t.dtype], tuple(t.shape), t.data_ptr())
        key = tuple((name, tuple(t.shape), str(t.dtype)) for name, t in zip(feeds, keep))
        shapes = self._shapes.get(key)
        outputs: dict[str, torch.Tensor] = {}
        if shapes is not None:
            for name in self.output_names:
                out = torch.empty(shapes[name], dtype=self._output_types[name], device=self.device)
                outputs[name] = out
                io.bind_output(name, kind, index, _ELEMENT[out.dtype], tuple(out.shape), out.data_ptr())
        else:
            for name in self.output_names:
                io.bind_output(name, kind, index)
        if self.device.type == "cuda":
            torch.cuda.current_stream(self.device).synchronize()  # inputs written by torch's stream
        self.session.run_with_iobinding(io)
        if shapes is None:
            values = io.get_outputs()
            for name, value in zip(self.output_names, values):
                outputs[name] = self._to_torch(value, name)
            self._shapes[key] = {name: tuple(t.shape) for name, t in outputs.items()}
        return outputs

    def _to_torch(self, value: Any, name: str) -> torch.Tensor:
        """An OrtValue as a torch tensor on ``device`` (a copy: the OrtValue's memory is released)."""
        if self.device.type == "cpu":
            return torch.from_numpy(np.array(value.numpy(), copy=True))
        dtype = _ORT_TYPES.get(value.data_type(), self._output_types[name])
        view = torch.as_tensor(_CudaArray(value.data_ptr(), tuple(value.shape()), dtype), device=self.device)
        return view.clone()


__all__ = ["BoundRunner"]
