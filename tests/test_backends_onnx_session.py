"""onnxruntime session factory and torch device choice (deage.onnx_session).

The sessions run a stand-in model (a fixed random projection): these tests check wiring, not accuracy.
"""

from __future__ import annotations

import warnings

import numpy as np
import onnxruntime
import pytest

from deage.errors import DeageError, WeightsError
from deage.onnx_session import (
    CPU,
    CUDA,
    TENSORRT,
    check_io,
    create_session,
    parse_device,
    requested_providers,
    session_device,
    torch_device,
)
from deage.weights import TensorSpec
from standins import projection_model


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return projection_model(tmp_path_factory.mktemp("onnx") / "proj.onnx", size=32, dim=8, pool=8)


def test_provider_order_and_availability():
    gpu = [TENSORRT, CUDA, CPU]
    assert [p for p, _ in requested_providers("auto", gpu)] == [CUDA, CPU]  # TensorRT only when asked
    assert [p for p, _ in requested_providers("tensorrt:1", gpu)] == [TENSORRT, CUDA, CPU]
    assert requested_providers("tensorrt:1", gpu)[0][1] == {"device_id": 1}
    assert [p for p, _ in requested_providers("cuda", [CPU])] == [CPU]  # only what onnxruntime lists
    assert [p for p, _ in requested_providers("cpu", gpu)] == [CPU]
    assert parse_device("CUDA:2") == ("cuda", 2)
    with pytest.raises(DeageError, match="unknown device 'gpu'"):
        parse_device("gpu")


def test_cpu_session_runs_and_reports_its_provider(model):
    session = create_session(model, "cpu")
    assert session.get_providers() == [CPU] and session_device(session) == "cpu"
    out = session.run(None, {"input": np.zeros((2, 3, 32, 32), np.float32)})[0]
    assert out.shape == (2, 8)


def test_auto_is_quiet_and_explicit_gpu_warns_when_none_loads(model, capfd):
    has_gpu = CUDA in onnxruntime.get_available_providers()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        session = create_session(model, "auto")
    if not has_gpu:
        assert session_device(session) == "cpu"
        assert not [w for w in caught if "provider" in str(w.message).lower()]
        with pytest.warns(RuntimeWarning, match="cuda was requested.*running on the CPU"):
            assert session_device(create_session(model, "cuda")) == "cpu"
    assert "CUDAExecutionProvider" not in capfd.readouterr().err or has_gpu


def test_not_a_model_and_missing_file(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00garbage")
    with pytest.raises(WeightsError, match="bad.onnx: not a model onnxruntime can load"):
        create_session(bad, "cpu")
    with pytest.raises(WeightsError, match="model file not found"):
        create_session(tmp_path / "none.onnx")


def test_check_io_names_the_tensor_and_both_shapes(model):
    session = create_session(model, "cpu")
    check_io(session, model, "toy", [TensorSpec("input", ("N", 3, 32, 32))], [TensorSpec("*", ("N", 8))])
    with pytest.raises(WeightsError, match=r"input 0 is input\[N,3,32,32\] float32, the toy backend expects "
                                           r"input\[N,3,64,64\] float32 \(dimension 2 is 32 instead of 64\)"):
        check_io(session, model, "toy", [TensorSpec("input", ("N", 3, 64, 64))])
    with pytest.raises(WeightsError, match="name 'input' instead of 'data'"):
        check_io(session, model, "toy", [TensorSpec("data", ("N", 3, 32, 32))])
    with pytest.raises(WeightsError, match="has 1 outputs"):
        check_io(session, model, "toy", [TensorSpec("*", ("N", 3, 32, 32))], [TensorSpec("*", ("N", 8))] * 2)
    with pytest.raises(WeightsError, match="dtype float32 instead of uint8"):
        check_io(session, model, "toy", [TensorSpec("*", ("N", 3, 32, 32), "uint8")])


def test_torch_device():
    import torch

    assert torch_device("cpu").type == "cpu"
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert torch_device("auto").type == expected
    if not torch.cuda.is_available():
        with pytest.warns(RuntimeWarning, match="no CUDA device"):
            assert torch_device("cuda:0").type == "cpu"
