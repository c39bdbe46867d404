"""Learned age editors (FRAN-style and StyleGAN ONNX) with stand-in models: wiring, not quality."""

from __future__ import annotations

import numpy as np
import pytest

from deage.edit.base import EditResult, Editor
from deage.edit.learned import fran, stylegan_onnx
from deage.errors import LookError, WeightsError
from deage.face.align import align_face
from deage.face.backends import make_backend
from standins import fran_model, stylegan_model, write_manifest


@pytest.fixture(scope="module")
def aligned(shared_models, astronaut):
    face = make_backend("scrfd_500m", shared_models).detect(astronaut)[0]
    return align_face(astronaut, face, "ffhq", 512)


def _fran(folder, mode="delta", size=256, **signature):
    fran_model(folder / "fran_1024.onnx", size=size, mode=mode)
    m = write_manifest(folder, {"fran": {"file": "fran_1024.onnx", "kind": "age-editor", "backend": "fran",
                                         "signature": {"output_mode": mode, **signature}}})
    return fran.load_editor(manifest=m)


def _unclipped(crop, margin):
    return (crop > margin) & (crop < 255 - margin)


@pytest.mark.parametrize("mode", ["delta", "image"])
def test_fran_wiring_age_planes_and_delta(tmp_path, aligned, mode):
    """Wiring, not quality: the stand-in's change is 0.5 x (target - input age) / 100 on every channel,
    so 60 -> 40 years darkens the crop by 0.1 (25.5 code values) where nothing clips, in both the
    delta and the image output modes, at the model's own size (256) and back at the crop's (512)."""
    editor = _fran(tmp_path, mode=mode)
    assert isinstance(editor, Editor) and editor.size == 256 and editor.output_mode == mode
    result = editor.edit(aligned, fran.FranParams(input_age=60, target_age=40))
    assert isinstance(result, EditResult)
    assert result.image.shape == aligned.image.shape and result.image.dtype == np.uint8
    assert result.mask.shape == (512, 512) and result.mask.dtype == np.float32
    diff = result.image.astype(np.float32) - aligned.image.astype(np.float32)
    inside = _unclipped(aligned.image, 30)
    # "image" mode goes through the model's 256 px copy of the crop: allow for that resampling
    tolerance = 1.0 if mode == "delta" else 12.0
    assert np.median(diff[inside]) == pytest.approx(-25.5, abs=1.0)
    assert np.percentile(np.abs(diff[inside] + 25.5), 90) <= tolerance
    assert result.mask.min() > 0.99
    older = editor.edit(aligned, fran.FranParams(input_age=40, target_age=60, strength=0.5))
    assert np.median((older.image.astype(np.float32) - aligned.image)[inside]) == pytest.approx(12.75, abs=1.0)


def test_fran_same_age_or_zero_strength_changes_nothing(tmp_path, aligned):
    """Wiring (stand-in): no age change or zero strength returns the crop untouched, mask 0."""
    editor = _fran(tmp_path)
    for params in (fran.FranParams(50, 50), fran.FranParams(60, 30, strength=0.0)):
        result = editor.edit(aligned, params)
        assert np.array_equal(result.image, aligned.image) and result.mask.max() == 0


def test_fran_dynamic_size_uses_the_manifest_size(tmp_path, aligned):
    """Wiring (stand-in): a dynamic-size model runs at the signature's size, in the signed RGB range."""
    fran_model(tmp_path / "fran_1024.onnx", size="S")
    m = write_manifest(tmp_path, {"fran": {"file": "fran_1024.onnx", "kind": "age-editor", "backend": "fran",
                                           "signature": {"size": 384, "rgb_range": "signed"}}})
    editor = fran.load_editor(manifest=m)
    assert editor.size == 384 and editor.rgb_range == "signed"
    result = editor.edit(aligned, fran.FranParams(input_age=70, target_age=30))
    # signed range: the stand-in's delta 0.5 x -0.4 = -0.2 in [-1, 1] units is -0.1 in [0, 1]
    inside = _unclipped(aligned.image, 30)
    assert np.median((result.image.astype(np.float32) - aligned.image)[inside]) == pytest.approx(-25.5, abs=1.0)


def test_fran_params_are_validated():
    p = fran.FranParams.from_dict({"input_age": 72, "target_age": 45})
    assert p == fran.FranParams(72.0, 45.0, 1.0) and fran.FranParams.from_dict(p.to_dict()) == p
    with pytest.raises(LookError, match="target_age must be between 10 and 100"):
        fran.FranParams.from_dict({"target_age": 5})
    with pytest.raises(LookError, match="no parameter.*years"):
        fran.FranParams.from_dict({"years": 10})
    with pytest.raises(LookError, match="must be a number"):
        fran.FranParams.from_dict({"strength": "lots"})


def test_fran_missing_file_and_wrong_signature(tmp_path, monkeypatch):
    """Errors: no file (what to get, where to put it), and a stand-in with another signature."""
    monkeypatch.setenv("DEAGE_WEIGHTS", str(tmp_path))
    with pytest.raises(WeightsError, match="fran_1024.onnx.*user-trained.*put it at") as err:
        fran.load_editor()
    assert str(tmp_path / "fran_1024.onnx") in str(err.value)
    stylegan_model(tmp_path / "fran_1024.onnx")  # a StyleGAN editor file named as the FRAN one
    m = write_manifest(tmp_path, {"fran": {"file": "fran_1024.onnx", "kind": "age-editor", "backend": "fran"}})
    with pytest.raises(WeightsError, match="has 3 inputs.*fran backend expects 1"):
        fran.load_editor(manifest=m)


# -- StyleGAN ONNX ---------------------------------------------------------------------------------
def _stylegan(folder, **kwargs):
    stylegan_model(folder / "stylegan_age.onnx", **kwargs)
    m = write_manifest(folder, {"sg": {"file": "stylegan_age.onnx", "kind": "age-editor",
                                       "backend": "stylegan_onnx"}})
    return stylegan_onnx.load_editor("sg", manifest=m)


def test_stylegan_wiring_regions_and_direction(tmp_path, aligned):
    """Wiring, not quality: the stand-in adds 0.2 x direction (in [-1, 1] units) to the 'image' input,
    which is the central 2/3 of the crop; outside that region the crop is untouched."""
    editor = _stylegan(tmp_path)
    assert editor.control == "direction" and editor.has_context
    start, side = editor.inner_box(512)
    assert (start, side) == (85, 341)
    result = editor.edit(aligned, stylegan_onnx.StyleganAgeParams(amount=-1.0))
    diff = result.image.astype(np.float32) - aligned.image.astype(np.float32)
    centre = (slice(start + 40, start + side - 40),) * 2
    inside = _unclipped(aligned.image[centre], 40)
    assert np.median(diff[centre][inside]) == pytest.approx(-25.5, abs=2.0)
    outside = np.ones((512, 512), bool)
    outside[start:start + side, start:start + side] = False
    assert np.array_equal(result.image[outside], aligned.image[outside])
    assert result.mask[outside].max() == 0 and result.mask[256, 256] > 0.99
    assert 0 < result.mask[start + 2, 256] < 0.5  # feathered edge


def test_stylegan_age_control_1024_output_and_missing_target(tmp_path, aligned):
    """Wiring (stand-in): an "age" model without context gets target_age / 100 and the whole crop;
    its 1024 output is resized back into the 512 crop."""
    editor = _stylegan(tmp_path, control="age", context=False, out_size=1024)
    assert editor.control == "age" and not editor.has_context and editor.inner_box(512) == (0, 512)
    with pytest.raises(LookError, match="target_age"):
        editor.edit(aligned, stylegan_onnx.StyleganAgeParams())
    result = editor.edit(aligned, stylegan_onnx.StyleganAgeParams(target_age=50))  # +0.2 x 0.5 = +0.1
    inside = _unclipped(aligned.image[100:400, 100:400], 40)
    diff = (result.image.astype(np.float32) - aligned.image)[100:400, 100:400][inside]
    assert np.median(diff) == pytest.approx(12.75, abs=2.0)


def test_stylegan_wrong_signatures(tmp_path):
    """Wiring (stand-ins): a 128 px image input, and a FRAN graph, are refused with clear messages."""
    stylegan_model(tmp_path / "stylegan_age.onnx", image_size=128, out_size=128)
    m = write_manifest(tmp_path, {"sg": {"file": "stylegan_age.onnx", "kind": "age-editor",
                                         "backend": "stylegan_onnx"}})
    with pytest.raises(WeightsError, match=r"image\[1,3,128,128\].*expects image\[1,3,256,256\]"):
        stylegan_onnx.load_editor("sg", manifest=m)
    fran_model(tmp_path / "stylegan_age.onnx")
    m = write_manifest(tmp_path, {"sg": {"file": "stylegan_age.onnx", "kind": "age-editor",
                                         "backend": "stylegan_onnx"}})
    with pytest.raises(WeightsError, match="expects 'image'"):
        stylegan_onnx.load_editor("sg", manifest=m)


def test_stylegan_params_are_validated():
    p = stylegan_onnx.StyleganAgeParams.from_dict({"amount": -2.5, "strength": 0.8})
    assert stylegan_onnx.StyleganAgeParams.from_dict(p.to_dict()) == p
    with pytest.raises(LookError, match="amount must be between -5 and 5"):
        stylegan_onnx.StyleganAgeParams.from_dict({"amount": 9})


def test_editor_loader_checks_the_kind(tmp_path):
    """Wiring (stand-in): a manifest model of the other editor backend is refused by this loader."""
    fran_model(tmp_path / "fran_1024.onnx")
    m = write_manifest(tmp_path, {"fran": {"file": "fran_1024.onnx", "kind": "age-editor", "backend": "fran"}})
    with pytest.raises(WeightsError, match="not a stylegan_onnx editor"):
        stylegan_onnx.load_editor("fran", manifest=m)


def test_factories_fit_the_editor_registry(tmp_path, aligned):
    """The learned editors plug into deage.edit.registry as ``module:load_editor`` + params class."""
    from deage.edit.registry import EditorSpec

    fran_model(tmp_path / "fran_1024.onnx")
    m = write_manifest(tmp_path, {"fran": {"file": "fran_1024.onnx", "kind": "age-editor", "backend": "fran"}})
    spec = EditorSpec("fran", "deage.edit.learned.fran:load_editor", "deage.edit.learned.fran:FranParams",
                      "FRAN-style learned re-aging")
    editor = spec.build(manifest=m)
    params = spec.params_from_dict({"input_age": 55, "target_age": 35})
    assert editor.edit(aligned, params).image.shape == aligned.image.shape
