"""Parser backends: the skin/clothes/hair model for real on the astronaut, BiSeNet with stand-ins."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from deage.errors import DeageError, WeightsError
from deage.face.align import align_face
from deage.face.backends import make_backend
from deage.face.backends.bisenet import CLASSES
from standins import bisenet_state, retinaface_anchor_state, write_manifest


@pytest.fixture(scope="module")
def aligned_astronaut(shared_models, astronaut):
    """The astronaut's FFHQ-aligned 512 crop, with PFLD landmarks in crop pixels."""
    face = make_backend("scrfd_500m", shared_models).detect(astronaut)[0]
    face = make_backend("pfld_68", shared_models).fit(astronaut, face)
    return align_face(astronaut, face, "ffhq", 512)


@pytest.fixture(scope="module")
def skin_parser(shared_models):
    return make_backend("skin_hair_seg", shared_models)


def _mean_in(mask, points, radius):
    hit = np.zeros(mask.shape, np.uint8)
    for x, y in points:
        cv2.circle(hit, (int(x), int(y)), radius, 1, -1)
    return float(mask[hit > 0].mean())


def test_skin_and_hair_on_the_aligned_astronaut(skin_parser, aligned_astronaut, artifacts_dir):
    """Real model: skin covers the cheeks, forehead and chin; hair covers the hair above the forehead."""
    masks = skin_parser.parse(aligned_astronaut)
    assert set(masks) == {"skin", "clothes", "hair"}
    for m in masks.values():
        assert m.shape == (512, 512) and m.dtype == np.float32 and 0 <= m.min() and m.max() <= 1
    lm = aligned_astronaut.landmarks
    cheeks = [(lm[2] + lm[31]) / 2, (lm[14] + lm[35]) / 2]
    forehead = [(lm[19] + lm[24]) / 2 - [0, 0.12 * np.linalg.norm(lm[8] - lm[27])]]  # below her fringe
    chin = [(lm[8] + lm[57]) / 2]
    brow_to_chin = np.linalg.norm(lm[8] - lm[27])
    width = lm[16, 0] - lm[0, 0]
    temples = [lm[0] - [0.15 * width, 0.6 * brow_to_chin], lm[16] + [0.15 * width, -0.6 * brow_to_chin]]
    r = 10
    assert _mean_in(masks["skin"], cheeks, r) > 0.8
    assert _mean_in(masks["skin"], forehead + chin, r) > 0.6
    assert _mean_in(masks["hair"], temples, r) > 0.8  # the hair beside the temples
    crown = masks["hair"][: int(lm[17:27, 1].min() - 0.45 * brow_to_chin), int(lm[0, 0]):int(lm[16, 0])]
    assert crown.mean() > 0.3  # her blonde crown is patchier, but is hair, not skin
    assert _mean_in(masks["hair"], cheeks, r) < 0.1 and _mean_in(masks["skin"], temples, r) < 0.1
    strip = np.concatenate([aligned_astronaut.image] + [
        cv2.cvtColor((masks[k] * 255).astype(np.uint8), cv2.COLOR_GRAY2RGB) for k in ("skin", "clothes", "hair")
    ], axis=1)
    cv2.imwrite(str(artifacts_dir / "backends_skin_clothes_hair.png"), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR))


def test_whole_image_masks_come_back_at_its_size(skin_parser, astronaut):
    """Real model on the whole 512 picture resized from 640x480: the suit is clothes, the face is skin."""
    image = cv2.resize(astronaut, (640, 480), interpolation=cv2.INTER_AREA)
    masks = skin_parser.parse_image(image)
    assert masks["skin"].shape == (480, 640)
    sx, sy = 640 / 512, 480 / 512
    face = (int(225 * sx), int(125 * sy))
    suit = (int(100 * sx), int(400 * sy))
    assert masks["skin"][face[1], face[0]] > 0.8 and masks["clothes"][face[1], face[0]] < 0.2
    assert masks["clothes"][suit[1], suit[0]] > 0.8 and masks["skin"][suit[1], suit[0]] < 0.2
    with pytest.raises(DeageError, match="RGB uint8"):
        skin_parser.parse_image(image.astype(np.float32))


def test_bisenet_wiring_class_names(tmp_path, aligned_astronaut):
    """Wiring, not accuracy: a BiSeNet whose classifier always prefers class 17 yields a "hair" mask
    over (nearly) the whole crop, and the 18 named masks are hard and mutually exclusive."""
    bisenet_state(tmp_path / "parsing_bisenet.pth", winner=CLASSES.index("hair"))
    m = write_manifest(tmp_path, {"parse": {"file": "parsing_bisenet.pth", "kind": "parser", "backend": "bisenet"}})
    parser = make_backend("parse", manifest=m, device="cpu")
    masks = parser.parse(aligned_astronaut)
    assert list(masks) == list(CLASSES[1:])
    stack = np.stack(list(masks.values()))
    assert stack.shape == (18, 512, 512) and stack.dtype == np.float32
    assert set(np.unique(stack)) <= {0.0, 1.0} and stack.sum(0).max() <= 1.0
    assert masks["hair"].mean() > 0.9 and masks["skin"].mean() < 0.05
    assert parser.labels(aligned_astronaut.image[:300, :200].copy()).shape == (300, 200)


def test_bisenet_refuses_another_network(tmp_path):
    """Wiring: a RetinaFace state dict given as the BiSeNet parser is refused, naming what does not fit."""
    retinaface_anchor_state(tmp_path / "parsing_bisenet.pth")
    m = write_manifest(tmp_path, {"parse": {"file": "parsing_bisenet.pth", "kind": "parser", "backend": "bisenet"}})
    with pytest.raises(WeightsError, match="not a BiSeNet 19-class state dict.*missing tensors.*unexpected"):
        make_backend("parse", manifest=m, device="cpu")


def test_bisenet_onnx_wiring_colour_order_and_size(tmp_path):
    """Wiring, not accuracy: FaceFusion's ONNX BiSeNet in the manifest's ``bisenet_resnet_34`` place
    (a stand-in that calls red pixels skin and blue ones hair): fed RGB, a red patch is skin and a
    blue one hair; masks come back at the image's size, hard and mutually exclusive, and a Look's
    ``masks.parser`` builds it."""
    import warnings

    from deage.face.learned_masks import LearnedMasks
    from deage.weights import UnverifiedWeightsWarning
    from standins import bisenet_onnx_model

    bisenet_onnx_model(tmp_path / "bisenet_resnet_34.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnverifiedWeightsWarning)
        parser = LearnedMasks.build({"parser": "bisenet_resnet_34"}, weights_dir=tmp_path, device="cpu").parser
    assert type(parser).__name__ == "BiSeNetOnnxParser"
    image = np.full((200, 300, 3), 128, np.uint8)
    image[40:100, 30:110] = (230, 40, 40)
    image[120:180, 180:280] = (40, 40, 230)
    masks = parser.parse_image(image)
    assert list(masks) == list(CLASSES[1:])
    stack = np.stack(list(masks.values()))
    assert stack.shape == (18, 200, 300) and set(np.unique(stack)) <= {0.0, 1.0} and stack.sum(0).max() <= 1.0
    assert masks["skin"][50:90, 40:100].min() == 1.0 and masks["hair"][50:90, 40:100].max() == 0.0
    assert masks["hair"][130:170, 190:270].min() == 1.0 and masks["skin"][130:170, 190:270].max() == 0.0
    assert stack[:, 5:30, 5:20].max() == 0.0  # grey: background
