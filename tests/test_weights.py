"""The weights manifest, file resolution and sha256 checks (deage.weights)."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import pytest

from deage.errors import WeightsError
from deage.face.backends import BACKENDS, backend_class
from deage.weights import (
    DEFAULT_MANIFEST,
    ENV_WEIGHTS,
    KINDS,
    Manifest,
    UnverifiedWeightsWarning,
    sha256_file,
    weights_dir,
)
from standins import sha256, write_manifest


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return Manifest.load()


def _model(folder: Path, name: str = "model.onnx", content: bytes = b"not really a model\n") -> Path:
    path = folder / name
    path.write_bytes(content)
    return path


# -- the repository's manifest --------------------------------------------------------------------
def test_every_entry_is_complete_and_honest(manifest):
    assert DEFAULT_MANIFEST.is_file()
    assert len(manifest.entries) >= 12
    for entry in manifest.entries.values():
        assert entry.kind in KINDS
        assert entry.sha256 == "" or re.fullmatch(r"[0-9a-f]{64}", entry.sha256), entry.name
        assert entry.source and entry.licence and entry.file, entry.name
        assert (entry.size == 0) == (entry.sha256 == ""), f"{entry.name}: a known hash comes with its size"
    kinds = {e.kind for e in manifest.entries.values()}
    assert kinds == set(KINDS)


def test_real_hashes_are_those_of_the_shared_models(manifest, shared_models):
    """The hashes in the manifest were computed from the files, never invented."""
    sums = dict(reversed(line.split()) for line in (shared_models / "SHA256SUMS").read_text().splitlines() if line)
    verified = [e for e in manifest.entries.values() if e.sha256]
    assert {e.file for e in verified} == set(sums)
    for entry in verified:
        assert entry.sha256 == sums[entry.file]
        assert entry.size == (shared_models / entry.file).stat().st_size
    statuses = {s.name: s for s in manifest.verify_all(shared_models)}
    assert all(statuses[e.name].state == "ok" for e in verified)


def test_manifest_options_and_shapes_agree_with_the_loaders(manifest):
    import inspect

    for entry in manifest.entries.values():
        if entry.backend not in BACKENDS:
            continue  # swappers and restorers are loaded by the editors' code
        cls = backend_class(entry.backend)
        params = inspect.signature(cls.__init__).parameters
        assert set(cls.MANIFEST_OPTIONS) <= set(params), cls
        expected = getattr(cls, "INPUTS", None)
        if expected:
            for spec, doc in zip(expected, entry.signature.inputs):
                assert len(doc.shape) == len(spec.shape), entry.name
                for want, documented in zip(spec.shape, doc.shape):
                    if isinstance(want, int):
                        assert documented == want, f"{entry.name}: manifest {doc.shape} vs loader {spec.shape}"


def test_default_folder_env_and_argument(monkeypatch, tmp_path):
    monkeypatch.delenv(ENV_WEIGHTS, raising=False)
    assert weights_dir() == DEFAULT_MANIFEST.parent
    monkeypatch.setenv(ENV_WEIGHTS, str(tmp_path))
    assert weights_dir() == tmp_path
    assert Manifest.load().where("scrfd_500m") == tmp_path / "scrfd_500m_bnkps.onnx"
    assert weights_dir(tmp_path / "x") == tmp_path / "x"
    assert Manifest.load().where("scrfd_500m", tmp_path / "x") == tmp_path / "x" / "scrfd_500m_bnkps.onnx"


# -- resolve / status on temporary manifests ------------------------------------------------------
def test_missing_file_says_what_to_get_and_where_to_put_it(manifest, tmp_path):
    with pytest.raises(WeightsError) as err:
        manifest.resolve("pfld_68", tmp_path)
    message = str(err.value)
    assert "pfld_landmarks.onnx" in message
    assert manifest.entry("pfld_68").sha256 in message
    assert "cunjian/pytorch_face_landmark" in message
    assert str(tmp_path / "pfld_landmarks.onnx") in message
    assert "\n" not in message
    status = manifest.status("pfld_68", tmp_path)
    assert status.state == "missing" and not status.usable and status.message == message


def test_ok_then_mismatch_after_the_file_changes(tmp_path):
    path = _model(tmp_path)
    m = write_manifest(tmp_path, {"toy": {"file": path.name, "kind": "detector", "backend": "scrfd"}})
    assert m.resolve("toy") == path
    assert m.status("toy").state == "ok"
    path.write_bytes(b"not really a model, v2\n")  # new content and size
    os.utime(path, ns=(1, 1))
    with pytest.raises(WeightsError, match="bytes, expected"):
        m.resolve("toy")
    path.write_bytes(b"not really a modeL\n")  # same size as the original, different bytes
    status = m.status("toy")
    assert status.state == "mismatch"
    assert status.actual_sha256 == sha256(path) and status.expected_sha256 in status.message
    with pytest.raises(WeightsError, match=status.expected_sha256):
        m.resolve("toy")


def test_unverified_entry_warns_once_and_records_the_hash(tmp_path):
    path = _model(tmp_path)
    m = write_manifest(tmp_path, {"toy": {"file": path.name, "kind": "detector", "backend": "scrfd",
                                          "sha256": "", "size": 0}})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        assert m.resolve("toy") == path
        assert m.resolve("toy") == path
    unverified = [w for w in caught if issubclass(w.category, UnverifiedWeightsWarning)]
    assert len(unverified) == 1
    assert sha256(path) in str(unverified[0].message)
    status = m.status("toy")
    assert status.state == "unverified" and status.usable
    assert m.provenance("toy")["actual_sha256"] == sha256(path)


def test_list_does_not_hash_and_verify_does(tmp_path):
    path = _model(tmp_path)
    m = write_manifest(tmp_path, {"toy": {"file": path.name, "kind": "detector", "backend": "scrfd"},
                                  "gone": {"file": "gone.onnx", "kind": "parser", "backend": "bisenet"}})
    listed = {s.name: s for s in m.status_all()}
    assert listed["toy"].state == "present" and listed["toy"].actual_sha256 == ""
    assert listed["gone"].state == "missing"
    verified = {s.name: s for s in m.verify_all()}
    assert verified["toy"].state == "ok" and verified["toy"].actual_sha256 == sha256(path)
    assert [s.name for s in m.verify_all()] == ["gone", "toy"]
    assert verified["toy"].to_dict()["path"] == str(path)


def test_hash_is_cached_per_path_size_and_mtime(tmp_path, monkeypatch):
    import deage.weights as w

    path = _model(tmp_path, content=b"x" * 4096)
    first = sha256_file(path)
    calls = []
    real_open = open
    monkeypatch.setattr("builtins.open", lambda *a, **k: calls.append(a[0]) or real_open(*a, **k))
    assert sha256_file(path) == first and not calls  # served from the cache
    path.write_bytes(b"y" * 4096)
    assert sha256_file(path) != first and calls  # new mtime: hashed again
    assert w._sha256_cached.cache_info().hits >= 1


def test_bad_manifests_are_clear(tmp_path):
    bad = tmp_path / "manifest.toml"
    bad.write_text("[models.x]\nfile = 'a.onnx'\n")
    with pytest.raises(WeightsError, match=r"\[models.x\] lacks sha256"):
        Manifest.load(bad)
    bad.write_text("[models.x\n")
    with pytest.raises(WeightsError, match="not valid TOML"):
        Manifest.load(bad)
    with pytest.raises(WeightsError, match="not found"):
        Manifest.load(tmp_path / "nope.toml")
    with pytest.raises(WeightsError, match="sha256 must be 64 hex"):
        write_manifest(tmp_path, {"x": {"file": "a.onnx", "kind": "detector", "backend": "scrfd", "sha256": "abc"}})
    with pytest.raises(WeightsError, match="kind 'wizard'"):
        write_manifest(tmp_path, {"x": {"file": "a.onnx", "kind": "wizard", "backend": "scrfd"}})
    with pytest.raises(WeightsError, match="bare file name"):
        write_manifest(tmp_path, {"x": {"file": "../a.onnx", "kind": "detector", "backend": "scrfd"}})
    with pytest.raises(WeightsError, match="known: "):
        Manifest.load().entry("no_such_model")
