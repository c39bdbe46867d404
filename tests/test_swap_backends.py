"""The swap's model backends (inswapper_128, GFPGAN / CodeFormer restorers) with stand-in models.

Every model here is a tiny ONNX graph built by the test with the real model's input/output
signature (and, for inswapper, an ``emap`` matrix as the graph's last initializer), registered in
a temporary manifest with its real sha256 and loaded the way a user's file is. These tests check
wiring (pre- and post-processing, colour order, value ranges, the embedding map, tiling, masks,
errors), not the quality of a swap.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper

from deage.edit.swap import SwapEditor, SwapParams
from deage.edit.swap.inswapper import InSwapper, explode, implode, load_swapper
from deage.edit.swap.restore import FaceRestorer, load_restorer
from deage.errors import WeightsError
from deage.face.align import align_face
from deage.look import Look
from standins import projection_model, save_onnx, write_manifest

CONSENT = {"name": "test subject", "reference": "test fixture"}
SOURCE = {"photo": "pkg:insightface/data/images/Tom_Hanks_54745.png", "consent": CONSENT}


def inswapper_model(path: Path, gain: float = 1.0, tint: float = 0.0, seed: int = 0, emap_shape=(512, 512)) -> Path:
    """inswapper-like: target [1,3,128,128], source [1,512] -> gain * target + tint * source[:, :3]
    (each latent value lifting one colour plane), with a random ``emap`` as the last initializer."""
    emap = np.random.default_rng(seed).standard_normal(emap_shape).astype(np.float32)
    nodes = [
        helper.make_node("Slice", ["source", "s0", "s3", "ax1"], ["first3"]),
        helper.make_node("Reshape", ["first3", "shape4"], ["planes"]),
        helper.make_node("Mul", ["planes", "tint"], ["lift"]),
        helper.make_node("Mul", ["target", "gain"], ["scaled"]),
        helper.make_node("Add", ["scaled", "lift"], ["output"]),
    ]
    init = {"s0": np.array([0], np.int64), "s3": np.array([3], np.int64), "ax1": np.array([1], np.int64),
            "shape4": np.array([1, 3, 1, 1], np.int64), "tint": np.array(tint, np.float32),
            "gain": np.array(gain, np.float32), "emap": emap}
    return save_onnx(path, nodes, [("target", [1, 3, 128, 128]), ("source", [1, 512])],
                     [("output", [1, 3, 128, 128])], init)


def restorer_model(path: Path, codeformer: bool = False) -> Path:
    """GFPGAN-like: [1,3,512,512] in [-1, 1] -> its negative (a colour inversion);
    CodeFormer-like: also a float64 'weight' [1], output = input * weight."""
    if not codeformer:
        nodes = [helper.make_node("Neg", ["input"], ["output"])]
        return save_onnx(path, nodes, [("input", [1, 3, 512, 512])], [("output", [1, 3, 512, 512])])
    nodes = [helper.make_node("Cast", ["weight"], ["w32"], to=TensorProto.FLOAT),
             helper.make_node("Mul", ["input", "w32"], ["output"])]
    return save_onnx(path, nodes, [("input", [1, 3, 512, 512]), ("weight", [1], TensorProto.DOUBLE)],
                     [("output", [1, 3, 512, 512])])


@pytest.fixture
def models(tmp_path):
    """A weights folder with stand-ins and its manifest."""
    inswapper_model(tmp_path / "swap_identity.onnx")
    inswapper_model(tmp_path / "swap_tint.onnx", gain=1.0, tint=0.5)
    projection_model(tmp_path / "arcface.onnx")
    restorer_model(tmp_path / "gfpgan.onnx")
    restorer_model(tmp_path / "codeformer.onnx", codeformer=True)
    manifest = write_manifest(tmp_path, {
        "swap_identity": {"file": "swap_identity.onnx", "kind": "swapper", "backend": "inswapper"},
        "swap_tint": {"file": "swap_tint.onnx", "kind": "swapper", "backend": "inswapper"},
        "arcface_test": {"file": "arcface.onnx", "kind": "recognizer", "backend": "arcface"},
        "gfpgan_test": {"file": "gfpgan.onnx", "kind": "restorer", "backend": "gfpgan"},
        "codeformer_test": {"file": "codeformer.onnx", "kind": "restorer", "backend": "codeformer"},
        "absent_swapper": {"file": "inswapper_128.onnx", "kind": "swapper", "backend": "inswapper",
                           "source": "the insightface model zoo"},
    })
    return tmp_path, manifest


@pytest.fixture(scope="module")
def aligned(astronaut):
    from deage.face.backends.dlib_backend import DlibDetector

    return align_face(astronaut, DlibDetector().detect(astronaut)[0], "ffhq", 512)


def test_latent_is_the_normalised_embedding_through_the_last_initializer(models):
    """Wiring: latent = normalise(normalise(e) @ emap), emap read from the graph's last initializer."""
    folder, manifest = models
    swapper = load_swapper("swap_identity", folder, manifest=manifest, device="cpu")
    emap = np.random.default_rng(0).standard_normal((512, 512)).astype(np.float32)
    assert np.array_equal(swapper.emap, emap)
    e = np.random.default_rng(5).standard_normal(512) * 7.0
    expected = (e / np.linalg.norm(e)) @ emap.astype(np.float64)
    expected /= np.linalg.norm(expected)
    latent = swapper.latent(e)
    assert latent.shape == (1, 512) and latent.dtype == np.float32
    assert np.allclose(latent[0], expected, atol=1e-5)


def test_swap_pre_and_post_processing(models, aligned):
    """Wiring: the crop goes in as RGB x/255 NCHW and comes back unchanged through an identity
    model; a model that lifts each plane by a latent value shows the planes are R, G, B in order."""
    folder, manifest = models
    crop = align_face(aligned.image, _face_of(aligned), "arcface", 128).image
    same = load_swapper("swap_identity", folder, manifest=manifest, device="cpu")
    latent = same.latent(np.ones(512))
    assert np.abs(same.swap(crop, latent).astype(int) - crop).max() <= 1
    tint = load_swapper("swap_tint", folder, manifest=manifest, device="cpu")
    latent = np.zeros((1, 512), np.float32)
    latent[0, :3] = [0.2, 0.0, -0.2]
    out = tint.swap(crop, latent).astype(np.float32)
    shift = (out - crop).reshape(-1, 3)
    unclipped = (crop.reshape(-1, 3) > 30).all(1) & (crop.reshape(-1, 3) < 220).all(1)
    assert np.allclose(np.median(shift[unclipped], axis=0), [25.5, 0.0, -25.5], atol=1.0)


def test_detail_mode_interleaves_exactly(models, aligned):
    """Wiring: implode/explode are inverse, and with an identity model a 256 or 512 crop comes
    back pixel for pixel (each of the 4 or 16 sub-images went through the model)."""
    rng = np.random.default_rng(1)
    a = rng.integers(0, 255, (512, 512, 3), dtype=np.uint8)
    tiles = implode(a, 4)
    assert tiles.shape == (16, 128, 128, 3) and np.array_equal(tiles[5], a[1::4, 1::4])
    assert np.array_equal(explode(tiles, 4), a)
    folder, manifest = models
    same = load_swapper("swap_identity", folder, manifest=manifest, device="cpu")
    for n in (256, 512):
        crop = align_face(aligned.image, _face_of(aligned), "arcface", n).image
        assert np.abs(same.swap(crop, same.latent(np.ones(512))).astype(int) - crop).max() <= 1


def _face_of(aligned):
    from deage.types import Face

    k = aligned.keypoints5
    return Face(box=np.concatenate([k.min(0), k.max(0)]), score=1.0, keypoints5=k)


def test_inswapper_backend_in_the_editor(models, aligned):
    """Wiring: the editor embeds the source with the ArcFace stand-in, aligns the target to the
    ArcFace template, runs the swapper (also in detail mode) and warps the result back under a
    face mask; an identity model leaves the face as it was, a tinting one tints it by the latent."""
    folder, manifest = models
    editor = SwapEditor(weights_dir=folder, manifest=manifest, device="cpu")
    base = {"sources": {"h": SOURCE}, "backend": "inswapper", "recognizer": "arcface_test", "colour": 0.0,
            "eyes": "source", "mouth": "source"}
    for detail in (1, 2):
        result = editor.edit(aligned, SwapParams.from_dict({**base, "model": "swap_identity", "detail": detail}))
        inside = result.mask > 0.9
        assert inside.mean() > 0.1 and result.mask[:40].max() == 0 and result.mask[:, :40].max() == 0
        diff = np.abs(result.image.astype(int) - aligned.image)[inside]
        assert np.median(diff) <= 2, detail
    tinted = editor.edit(aligned, SwapParams.from_dict({**base, "model": "swap_tint"}))
    latent = editor._latents[("swap_tint", "arcface_test", "h")][0]
    inside = tinted.mask > 0.9
    shift = np.median((tinted.image.astype(np.float32) - aligned.image)[inside], axis=0)
    assert np.allclose(shift, 0.5 * latent[:3] * 255.0, atol=3.0)
    record = editor.provenance()
    used = {(m["role"], m["name"], m["state"]) for m in record["models"]}
    assert {("swapper", "swap_tint", "ok"), ("recognizer", "arcface_test", "ok")} <= used


def test_restorers(models, aligned):
    """Wiring: RGB [-1, 1] in and out at 512 (GFPGAN stand-in inverts the colours), CodeFormer's
    float64 fidelity input, resizing of a 1024 crop, and the editor's restore amount."""
    folder, manifest = models
    gfpgan = load_restorer("gfpgan_test", folder, manifest=manifest, device="cpu")
    crop = aligned.image
    assert np.abs(gfpgan.restore(crop).astype(int) - (255 - crop.astype(int))).max() <= 1
    big = np.repeat(np.repeat(crop, 2, axis=0), 2, axis=1)
    assert gfpgan.restore(big).shape == (1024, 1024, 3)
    codeformer = load_restorer("codeformer_test", folder, manifest=manifest, device="cpu")
    assert codeformer.weight_input == "weight" and codeformer.weight_dtype == np.float64
    assert np.abs(codeformer.restore(crop, fidelity=1.0).astype(int) - crop).max() <= 1
    assert np.abs(codeformer.restore(crop, fidelity=0.0).astype(int) - 128).max() <= 1
    editor = SwapEditor(weights_dir=folder, manifest=manifest, device="cpu")
    base = {"sources": {"h": SOURCE}}
    plain = editor.edit(aligned, SwapParams.from_dict(base)).image.astype(np.float32)
    half = editor.edit(aligned, SwapParams.from_dict({**base, "restore": "gfpgan_test", "restore_amount": 0.5}))
    full = editor.edit(aligned, SwapParams.from_dict({**base, "restore": "gfpgan_test", "restore_amount": 1.0}))
    centre = (slice(220, 300), slice(200, 312))
    assert np.allclose(full.image[centre], 255 - plain[centre], atol=2)
    assert np.allclose(half.image[centre], 127.5, atol=2)  # halfway between a value and its inverse


def test_missing_and_wrong_model_files(models, tmp_path):
    folder, manifest = models
    with pytest.raises(WeightsError, match=r"inswapper_128.onnx .* is missing.*the insightface model zoo"):
        load_swapper("absent_swapper", folder, manifest=manifest)
    with pytest.raises(WeightsError, match="is a restorer, not a swapper"):
        load_swapper("gfpgan_test", folder, manifest=manifest)
    with pytest.raises(WeightsError, match="is a swapper, not a face restorer"):
        load_restorer("swap_tint", folder, manifest=manifest)
    # The repository's own manifest: without the file the render stops before any frame.
    look = Look(editor="swap", edit={"sources": {"h": SOURCE}, "backend": "inswapper"})
    with pytest.raises(WeightsError, match="inswapper_128.onnx"):
        SwapEditor(weights_dir=tmp_path / "empty").prepare(look)
    odd = tmp_path / "odd"
    odd.mkdir()
    inswapper_model(odd / "vector.onnx", emap_shape=(512,))
    with pytest.raises(WeightsError, match="not the square 'emap' matrix"):
        InSwapper(odd / "vector.onnx", device="cpu")
    projection_model(odd / "one_input.onnx")
    with pytest.raises(WeightsError, match="inswapper has 2"):
        InSwapper(odd / "one_input.onnx", device="cpu")
    with pytest.raises(WeightsError, match=r"the restorer backend expects input\[1,3,512,512\]"):
        FaceRestorer(odd / "one_input.onnx", device="cpu")
