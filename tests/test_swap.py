"""Face replacement with the embedded (no weights) swap editor, on real faces.

Sources and targets are real photos: scikit-image's astronaut, insightface's Tom Hanks crop and
t1.jpg group photo, and the stills in ../shared/media. Each pair is swapped, composited with the
multi-band blender and checked: the output is re-identified as the source (dlib descriptor), its
re-detected landmarks follow where the swap put them (the target's pose and expression, ``shape``
of the way to the source's proportions), the frame is untouched outside the mask, and the seam
is no sharper than the plate along the mask's edge.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass

import cv2
import numpy as np
import pytest

from conftest import REPO, SHARED, read_rgb
from deage.blend.composite import composite
from deage.blend.params import BlendParams
from deage.edit.base import crop_size_for
from deage.edit.swap import SwapEditor, SwapParams, resolve_source_path
from deage.edit.swap.mesh import (
    MEAN_FACE_512,
    mesh_points,
    mesh_triangles,
    piecewise_affine_maps,
    reshaped,
    shape_weight,
)
from deage.edit.swap.params import SourceSpec
from deage.edit.swap.source import SourceWarning, find_faces
from deage.errors import AmbiguousFaceError, ConsentError, DeageError, LookError, MediaError, NoFaceError
from deage.face.align import align_face, invert_affine, transform_points
from deage.face.masks import FaceFrame
from deage.look import Look, load_look
from deage.render import FrameRenderer, render_image
from deage.types import Face
from swap_pairs import HANKS, PAIRS, T1, nearest, source_specs, swap_targets

CONSENT = {"name": "test subject", "reference": "test fixture, not for publication"}
BLEND = BlendParams(mode="multiband", feather=8)


@pytest.fixture(scope="module")
def engines():
    from deage.face.backends.dlib_backend import DlibDetector, DlibRecognizer

    return DlibDetector(), DlibRecognizer()


def _params(**sources) -> SwapParams:
    return SwapParams.from_dict({"sources": {k: {**v, "consent": CONSENT} for k, v in sources.items()}})


def _eye_distance(face: Face) -> float:
    lm = face.landmarks
    return float(np.linalg.norm(lm[36:42].mean(0) - lm[42:48].mean(0)))


# ---- parameters, sources, consent ----------------------------------------------------------------

def test_params_round_trip_through_json():
    data = {
        "sources": {"a": {"photo": "a.jpg", "consent": CONSENT},
                    "b": {"clip": "b.mov", "frame": 12, "face": "largest", "consent": {"id": "t-7", "reference": "r"}}},
        "mappings": [{"source": "a", "tracks": [2, 1]}, {"source": "b", "reference": "ref.jpg"}],
        "eyes": "target", "mouth": "interior", "shape": 0.1, "colour": 0.5, "restore": "gfpgan_1_4", "detail": 2,
        "focus": 0.5, "wears_glasses": True,
    }
    params = SwapParams.from_dict(data)
    assert SwapParams.from_dict(json.loads(json.dumps(params.to_dict()))) == params
    assert params.mappings[0].tracks == (1, 2) and params.source("b").frame == 12
    # One source and no mappings: it goes onto every selected track.
    single = SwapParams.from_dict({"sources": {"a": {"photo": "a.jpg"}}})
    assert single.mappings[0].source == "a" and single.mappings[0].tracks == "all"


@pytest.mark.parametrize(("data", "message"), [
    ({}, "'sources' must be an object"),
    ({"sources": {"a": {"photo": "a.jpg"}}, "eyse": "x"}, "unknown parameter 'eyse'"),
    ({"sources": {"a": {"phot": "a.jpg"}}}, "sources.a: unknown key 'phot'"),
    ({"sources": {"a": {"photo": "a.jpg", "clip": "b.mp4"}}}, "exactly one of"),
    ({"sources": {"a": {"photo": "a.jpg", "face": -1}}}, "sources.a.face"),
    ({"sources": {"a": {"photo": "a.jpg", "consent": "yes"}}}, "sources.a.consent must be an object"),
    ({"sources": {"a": {"photo": "a.jpg"}, "b": {"photo": "b.jpg"}}}, "2 sources"),
    ({"sources": {"a": {"photo": "a.jpg"}}, "mappings": [{"source": "c"}]}, "mappings\\[0\\].source 'c'"),
    ({"sources": {"a": {"photo": "a.jpg"}}, "mappings": [{"source": "a", "tracks": [0]}]}, "mappings\\[0\\].tracks"),
    ({"sources": {"a": {"photo": "a.jpg"}}, "mouth": "open"}, "'mouth' must be one of"),
    ({"sources": {"a": {"photo": "a.jpg"}}, "colour": 1.5}, "'colour' = 1.5 is out of range"),
    ({"sources": {"a": {"photo": "a.jpg"}}, "focus": 2}, "'focus' = 2 is out of range"),
    ({"sources": {"a": {"photo": "a.jpg"}}, "detail": 3}, "'detail' must be one of"),
    ({"sources": {"a": {"photo": "a.jpg"}}, "wears_glasses": "yes"}, "'wears_glasses' must be true, false or null"),
])
def test_bad_params_name_the_key(data, message):
    with pytest.raises(LookError, match=message):
        SwapParams.from_dict(data)


def test_source_paths(tmp_path):
    astronaut = resolve_source_path("pkg:skimage/astronaut")
    assert astronaut.name == "astronaut.png" and astronaut.is_file()
    assert resolve_source_path(T1).is_file()
    assert resolve_source_path("actor.jpg", tmp_path) == tmp_path / "actor.jpg"
    assert resolve_source_path(str(tmp_path / "x.jpg"), "/elsewhere") == tmp_path / "x.jpg"
    with pytest.raises(MediaError, match="not installed"):
        resolve_source_path("pkg:no_such_package_here/face.png")


def test_consent_is_required_and_checked_before_loading(tmp_path):
    missing = tmp_path / "nobody.jpg"  # never read: the consent check comes first
    look = Look(editor="swap", edit={"sources": {"x": {"photo": str(missing)}}})
    with pytest.raises(ConsentError, match="swap source 'x' has no consent record") as err:
        SwapEditor().prepare(look)
    assert str(missing) in str(err.value)
    incomplete = Look(editor="swap", edit={"sources": {"x": {"photo": str(missing), "consent": {"name": "X"}}}})
    with pytest.raises(ConsentError, match="lacks a consent reference"):
        SwapEditor().prepare(incomplete)
    # A record in the Look's top-level consent list, naming the source, is accepted.
    listed = Look(editor="swap", edit={"sources": {"x": {"photo": "pkg:skimage/astronaut"}}},
                  consent=[{"source": "x", "id": "talent-1", "reference": "release 17"}])
    editor = SwapEditor()
    editor.prepare(listed)
    assert editor.sources["x"].consent.id == "talent-1"
    assert editor.provenance()["swap_sources"][0]["consent"] == {"id": "talent-1", "reference": "release 17"}


def test_source_without_a_face_names_the_file():
    look = Look(editor="swap", edit={"sources": {"cup": {"photo": "pkg:skimage/coffee", "consent": CONSENT}}})
    with pytest.raises(NoFaceError, match="no face found in the source image of source 'cup'") as err:
        SwapEditor().prepare(look)
    assert "coffee.png" in str(err.value)


def test_source_with_several_faces_needs_a_choice():
    look = Look(editor="swap", edit={"sources": {"g": {"photo": T1, "consent": CONSENT}}})
    with pytest.raises(AmbiguousFaceError, match=r"6 faces in the source image .* add \"face\"") as err:
        SwapEditor().prepare(look)
    assert "t1.jpg" in str(err.value)
    with pytest.raises(NoFaceError, match="face 9 asked for"):
        SwapEditor().prepare(Look(editor="swap", edit={"sources": {"g": {"photo": T1, "face": 9, "consent": CONSENT}}}))
    editor = SwapEditor()
    editor.prepare(Look(editor="swap", edit={"sources": {"g": {"photo": T1, "face": "largest", "consent": CONSENT}}}))
    source = editor.sources["g"]
    faces = find_faces(read_rgb(resolve_source_path(T1)))
    assert source.faces_in_image == len(faces) == 6
    assert source.face_index == int(np.argmax([f.area for f in faces]))
    assert [f.center[0] for f in faces] == sorted(f.center[0] for f in faces)  # indices count left to right


def test_a_source_that_will_show_in_its_replacements_is_named_and_recorded():
    """A laughing face's narrowed eyes smeared its replacements' eyes (t1's third face, the
    example look's source before), and a small or turned face gives soft or stretched ones: the
    editor warns of each when it loads the source, naming it and its file, and the render's
    provenance records them. A face in glasses passes them on, painted on and cut off at the
    face's edge (Grace Hopper's swapped onto the astronaut: her frames without their arms). A
    sharp, frontal face with open eyes raises nothing."""
    from deage.edit.swap.source import SourceWarning

    hopper = "pkg:matplotlib/mpl-data/sample_data/grace_hopper.jpg"
    cases = {"pkg:skimage/astronaut": (None, ()), T1: (2, ("narrowed",)), HANKS: (None, ("small", "turned")),
             hopper: (None, ("glasses",))}
    for photo, (face, expected) in cases.items():
        source = {"photo": photo, "consent": CONSENT} | ({"face": face} if face is not None else {})
        editor = SwapEditor()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            editor.prepare(Look(editor="swap", edit={"sources": {"s": source}}))
        said = [str(w.message) for w in caught if issubclass(w.category, SourceWarning)]
        assert len(said) == len(expected), (photo, said)
        for line, word in zip(said, expected):
            assert word in line and line.startswith("swap source 's' (") and resolve_source_path(photo).name in line
        assert len(editor.provenance()["swap_sources"][0]["concerns"]) == len(expected)


def test_source_from_a_clip_frame(example_clip):
    editor = SwapEditor()
    editor.prepare(Look(editor="swap", edit={"sources": {"c": {"clip": str(example_clip), "frame": 30,
                                                               "consent": CONSENT}}}))
    source = editor.sources["c"]
    assert source.frame == 30 and source.landmarks.shape == (68, 2)
    with pytest.raises(MediaError, match="frame 999 asked for"):
        SwapEditor().prepare(Look(editor="swap", edit={"sources": {"c": {"clip": str(example_clip), "frame": 999,
                                                                         "consent": CONSENT}}}))


# ---- the mesh ------------------------------------------------------------------------------------

def test_shape_takes_the_sources_proportions_but_not_its_mouth(astronaut, engines, shared_media):
    """``mesh.reshaped`` on two real faces: ``shape`` 0 is the target's landmarks; at 0.5 the
    nose and the eye corners lie halfway to the source's, the jaw halfway sideways and a quarter
    of the way up or down, and the mouth (its place and width: partly a smile) and the lids'
    opening stay the target's."""
    detector, _ = engines
    src = align_face(astronaut, detector.detect(astronaut)[0], "ffhq", 512).landmarks
    image = read_rgb(shared_media / "source_s12.jpg")
    tgt = align_face(image, max(detector.detect(image), key=lambda f: f.area), "ffhq", 512).landmarks
    assert np.array_equal(reshaped(src, tgt, 0.0), tgt)
    half = reshaped(src, tgt, 0.5)
    weight = shape_weight(src, tgt)
    assert 0.5 < weight <= 1.0  # turned alike enough for their proportions to count
    assert np.allclose(half[27:36], tgt[27:36] + 0.5 * weight * (src - tgt)[27:36])
    assert np.allclose(half[[36, 39, 42, 45]], tgt[[36, 39, 42, 45]] + 0.5 * weight * (src - tgt)[[36, 39, 42, 45]])
    assert np.allclose(half[0:17], tgt[0:17] + 0.5 * weight * (src - tgt)[0:17] * [1.0, 0.5])
    assert np.array_equal(half[48:68], tgt[48:68])
    for first in (36, 42):  # each lid moves with its corners: the opening is the target's
        assert np.allclose(half[first + 1] - tgt[first + 1], 0.5 * (half - tgt)[[first, first + 3]].sum(0))
    assert np.abs(half[27:36] - tgt[27:36]).max() > 1.0  # the two faces do differ


def test_mesh_warp_carries_landmarks_onto_landmarks(astronaut, engines):
    """The backward maps send every target control point to the matching source point, and the
    identity mesh (same points) is the identity warp."""
    detector, _ = engines
    aligned = align_face(astronaut, detector.detect(astronaut)[0], "ffhq", 512)
    src = mesh_points(aligned.landmarks, 512)
    dst = mesh_points(MEAN_FACE_512, 512)
    map_x, map_y = piecewise_affine_maps(dst, src, mesh_triangles(), 512)
    inner = dst[:68]
    xi, yi = np.round(inner).astype(int).T
    sampled = np.column_stack([map_x[yi, xi], map_y[yi, xi]])
    expected = src[:68] + (np.round(inner) - inner)  # maps are exact affines: offsets carry over ~1:1
    assert np.abs(sampled - expected).max() < 1.5
    ident_x, ident_y = piecewise_affine_maps(src, src, mesh_triangles(), 512)
    grid = np.arange(512, dtype=np.float32)
    inner = slice(2, -2)  # the map is resized from a coarser grid: its outermost pixels are held
    assert np.abs(ident_x - grid[None, :])[inner, inner].max() < 0.05
    assert np.abs(ident_y - grid[:, None])[inner, inner].max() < 0.05


def test_a_mesh_is_never_folded_over(shared_media, engines):
    """driving_d12 frame 92: the actor's mouth is an "o", and dlib puts his left inner mouth
    corner (60) outside his outer lips (49, 59): that triangle of the example look's source turned
    inside out, and the warp folded her skin over itself at his mouth's corner. ``unfolded`` moves
    the vertices of a turned triangle towards the source's own configuration until none is
    turned (the mouth's points only, 0.035 eye distances at most); a mesh with none (frame 0) is
    left exactly as it was. Over driving_d12, driving_d0 and source_s18 (543 frames) it acts on 3."""
    import av

    from deage.edit.swap.mesh import signed_areas, unfolded

    look = load_look(REPO / "examples" / "looks" / "swap.json")
    editor = SwapEditor()
    editor.prepare(look)
    source = editor.sources["demo"]
    with av.open(str(shared_media / "driving_d12.mp4")) as clip:
        frames = {i: f.to_ndarray(format="rgb24") for i, f in zip(range(93), clip.decode(video=0)) if i in (0, 92)}
    detector, _ = engines
    triangles = mesh_triangles()
    for index, frame in frames.items():
        face = max(detector.detect(frame), key=lambda f: f.area)
        aligned = align_face(frame, face, "ffhq", crop_size_for(face))
        scale = aligned.size / source.aligned.size
        dst = mesh_points(reshaped(source.landmarks * scale, aligned.landmarks, 0.5), aligned.size)
        src = mesh_points(source.landmarks, source.aligned.size)
        turned = np.sign(signed_areas(dst, triangles)) != np.sign(signed_areas(src, triangles))
        fixed = unfolded(dst, src, triangles)
        assert (np.sign(signed_areas(fixed, triangles)) == np.sign(signed_areas(src, triangles))).all(), index
        if index == 92:
            assert turned.any()  # the fold this guards against is there
            moved = np.linalg.norm(fixed - dst, axis=1)
            assert set(np.nonzero(moved > 1e-9)[0].tolist()) <= set(range(48, 68))  # the mouth's points only
            eye = FaceFrame.from_landmarks(aligned.landmarks).eye_distance
            assert moved.max() < 0.1 * eye  # 0.035 when written
        else:
            assert not turned.any() and np.array_equal(fixed, dst), index


# ---- swaps on real faces -------------------------------------------------------------------------

@dataclass
class Swap:
    name: str
    frame: np.ndarray
    face: Face
    out: np.ndarray
    matte: np.ndarray
    found: Face
    to_source: float
    to_target: float
    placed: np.ndarray  # float (68, 2) frame pixels: where the swap put the landmarks (mesh.reshaped)


@pytest.fixture(scope="module")
def targets(shared_media, engines):
    """Target faces: name -> (frame, face) (``swap_pairs.swap_targets``)."""
    return swap_targets(engines[0], shared_media)


@pytest.fixture(scope="module")
def swaps(targets, shared_media, engines, artifacts_dir):
    """Every pair of PAIRS swapped (default parameters) and composited; strips saved for review."""
    detector, recognizer = engines
    sources = source_specs(shared_media)
    editor = SwapEditor()
    results, rows = [], []
    for source_name, target_name in PAIRS:
        frame, face = targets[target_name]
        params = _params(**{source_name: sources[source_name]})
        aligned = align_face(frame, face, "ffhq", crop_size_for(face))
        result = editor.edit(aligned, params)
        out, matte = composite(frame, aligned, result, BLEND, return_mask=True)
        found = nearest(detector.detect(out), face)
        after = recognizer.describe(out, found)
        source = editor.sources[source_name]
        placed = reshaped(source.landmarks * (aligned.size / source.aligned.size), aligned.landmarks, params.shape)
        results.append(Swap(f"{source_name}->{target_name}", frame, face, out, matte, found,
                            recognizer.distance(after, source.descriptor),
                            recognizer.distance(after, recognizer.describe(frame, face)),
                            transform_points(placed, invert_affine(aligned.matrix))))
        thumb = [cv2.resize(source.image, (192, 192), interpolation=cv2.INTER_AREA),
                 align_face(frame, face, "ffhq", 192).image, align_face(out, face, "ffhq", 192).image]
        rows.append(np.hstack(thumb))
    half = (len(rows) + 1) // 2
    left, right = rows[:half], rows[half:] + [np.zeros_like(rows[0])] * (2 * half - len(rows))
    strip = np.hstack([np.vstack(left), np.full((192 * half, 16, 3), 255, np.uint8), np.vstack(right)])
    cv2.imwrite(str(artifacts_dir / "swap_pairs.png"), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR))
    return results


def test_output_is_reidentified_as_the_source(swaps):
    """The dlib descriptor of the swapped face is closer to the source than to the original
    target: by 0.125 or more on average over the 21 pairs (0.138 when written), and in at least
    75 % of the pairs (16 of 21; 18 when written). The average margin is the figure to hold: the
    count moves with the pairs that sit within 0.01 of even. History: at ``shape`` 0.25 (the
    default until 2026-12-07) the margin was 0.101 and the count moved 19 -> 18 -> 17 -> 15 with
    OpenCV versions and the fringe's gate; at 0.5 with the mouth left where the plate has it
    (``mesh.shape_offsets``) 0.138 and 18. Three of the misses involve the 112 px Tom Hanks crop."""
    report = [f"{s.name}: source {s.to_source:.3f} target {s.to_target:.3f}" for s in swaps]
    wins = sum(s.to_source < s.to_target for s in swaps)
    margin = float(np.mean([s.to_target - s.to_source for s in swaps]))
    print("\n".join(report))
    assert margin >= 0.125, f"mean margin {margin:.4f}:\n" + "\n".join(report)
    assert wins >= 0.75 * len(swaps), f"{wins}/{len(swaps)} re-identified as the source:\n" + "\n".join(report)


def test_pose_and_expression_follow_the_target(swaps):
    """Landmarks re-detected on the output lie, on average, within 5 % of the target's eye
    distance of where the swap put them (the target's own, moved ``shape`` of the way to the
    source's proportions, its expression kept: ``mesh.reshaped``): the 51 inner landmarks (brows,
    eyes, nose, mouth) in every pair, all 68 in at least 90 % of the pairs.

    The 17 jaw-contour points are the loose ones: dlib places them on the face's outline, which on
    some of these targets is hidden by hair or a neighbour's head (their position on the plate is
    itself a guess), and which it also reads from the shading a strongly side-lit source brings.
    """
    inner, whole, jaw, own = {}, {}, {}, {}
    for s in swaps:
        err = np.linalg.norm(s.found.landmarks - s.placed, axis=1) / _eye_distance(s.face)
        inner[s.name], whole[s.name], jaw[s.name] = float(err[17:].mean()), float(err.mean()), float(err[:17].mean())
        moved = np.linalg.norm(s.found.landmarks - s.face.landmarks, axis=1) / _eye_distance(s.face)
        own[s.name] = float(moved[17:].mean())
    print("landmark error / eye distance (inner 51, all 68, jaw 17; inner 51 from the target's own):\n" + "\n".join(
        f"{k}: {inner[k]:.3f} {whole[k]:.3f} {jaw[k]:.3f}; {own[k]:.3f}" for k in inner))
    bad = {k: round(v, 3) for k, v in inner.items() if v > 0.05}
    assert not bad, f"inner landmarks moved more than 5 % of the eye distance: {bad}"
    bad = {k: round(v, 3) for k, v in whole.items() if v > 0.05}
    assert len(bad) <= 0.1 * len(whole), f"landmarks moved more than 5 % of the eye distance: {bad}"


def test_background_untouched_and_mask_on_the_face(swaps):
    for s in swaps:
        inside = cv2.dilate((s.matte > 0).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        assert np.array_equal(s.out[~inside], s.frame[~inside]), s.name
        assert inside.any() and not np.array_equal(s.out, s.frame), s.name
        ys, xs = np.nonzero(s.matte > 0)
        x0, y0, x1, y1 = s.face.box
        w, h = x1 - x0, y1 - y0
        assert xs.min() >= x0 - 0.5 * w and xs.max() <= x1 + 0.5 * w, s.name
        assert ys.min() >= y0 - 0.8 * h and ys.max() <= y1 + 0.5 * h, s.name


def _gradient(image: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return np.hypot(cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3))


def test_seam_is_no_sharper_than_the_plate(swaps):
    """Mean gradient magnitude along the mask's boundary (its 0.5 level) in the output is at most
    1.2x that of the input along the same curve."""
    ratios = {}
    for s in swaps:
        contours, _ = cv2.findContours((s.matte >= 0.5).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        pts = np.vstack([c.reshape(-1, 2) for c in contours])
        g_in = _gradient(s.frame)[pts[:, 1], pts[:, 0]].mean()
        g_out = _gradient(s.out)[pts[:, 1], pts[:, 0]].mean()
        ratios[s.name] = float(g_out / max(g_in, 1e-6))
    bad = {k: round(v, 2) for k, v in ratios.items() if v > 1.2}
    assert not bad, f"seams sharper than the plate: {bad}"


def test_the_swapped_skin_takes_the_plates_tone_not_its_colour_patches(older_face):
    """The colour match carries the plate's skin tone and its light's tint: matched at a tenth of
    an eye distance it also printed the plate's own colour patches onto the new face (a grey
    nose where the plate's was lit white, the amber of Grace Hopper's glasses round the eyes), so
    the swapped face came out blotchier than anything in the source: its colour varied over the
    face almost as much as the plate's (0.92-0.95 of it). Matched at a quarter of an eye distance
    (light's broad shading still at half) it varied 0.57-0.76 as much when written; since, with
    the plate's focus and the fringe's gate, source_s18's frame measures 0.85 (0.848 at the swap's
    ``shape`` 0.25, 0.851 at 0.5)."""
    import av

    look = load_look(REPO / "examples" / "looks" / "swap.json")
    frames = {"grace_hopper": older_face}
    turned = SHARED / "media" / "source_s18.mp4"  # a young woman, head turned (where the media is)
    if turned.exists():
        with av.open(str(turned)) as clip:
            frames["source_s18"] = next(f for i, f in enumerate(clip.decode(video=0)) if i == 100).to_ndarray(
                format="rgb24")
    for name, frame in frames.items():
        face = max(find_faces(frame), key=lambda f: f.area)
        lm = np.asarray(face.landmarks, np.float64)
        inside = np.zeros(frame.shape[:2], np.uint8)
        cv2.fillConvexPoly(inside, cv2.convexHull(lm[0:17].astype(np.int32)), 1)
        inside = cv2.erode(inside, np.ones((int(0.2 * _eye_distance(face)),) * 2, np.uint8)) > 0
        out = render_image(frame, look)
        ratio = _chroma_spread(out, inside) / _chroma_spread(frame, inside)
        assert ratio < 0.88, (name, round(ratio, 2))


def test_a_pale_source_takes_the_tone_of_the_darkest_skin(astronaut):
    """The colour gain reaches far enough for any skin: the astronaut's face as the source, the
    same face at a quarter of its light with a warm cast (blue at 0.6 of red, as the darkest skin
    tones) as the plate: blue needs a gain of 0.15, past the 1/3 the gain was bounded to, and an
    offset of 4 levels in its means biased it further; the matched skin came out (68, 56, 48)
    against the plate's (51, 34, 22), ashy. Now the mean is the plate's within 3 %."""
    from deage.edit.swap.colour import light_gain

    face = max(find_faces(astronaut), key=lambda f: f.area)
    inside = np.zeros(astronaut.shape[:2], np.uint8)
    cv2.fillConvexPoly(inside, cv2.convexHull(np.asarray(face.landmarks[0:17], np.int32)), 1)
    source = astronaut.astype(np.float32)
    plate = source * np.array([0.25, 0.2, 0.15], np.float32)
    gain = light_gain(plate, source, inside.astype(np.float32), light_sigma=20.0)
    matched, wanted = (source * gain)[inside > 0].mean(0), plate[inside > 0].mean(0)
    assert np.all(np.abs(matched / wanted - 1.0) < 0.03), (matched, wanted)


def test_a_smiling_source_leaves_no_line_of_teeth_between_closed_lips(older_face):
    """The example look's source smiles with her teeth showing; the warp closes her mouth onto a
    plate's closed one, but her teeth stayed as a pale line between the lips (Grace Hopper's
    closed mouth: 32 levels of change on average along where her lips meet, their redness down
    5 CIE a* units). ``mouth="auto"`` now keeps the plate's lips' meeting line as far as the
    source's mouth is open wider (``mouth_closing``)."""
    from deage.edit.swap.editor import mouth_closing

    look = load_look(REPO / "examples" / "looks" / "swap.json")
    face = max(find_faces(older_face), key=lambda f: f.area)
    lm = np.asarray(face.landmarks, np.float64)
    editor = SwapEditor()
    editor.prepare(look)
    assert mouth_closing(editor.sources["demo"].landmarks, lm) > 0.9  # eye-distance units: any scale
    line = np.zeros(older_face.shape[:2], np.uint8)
    cv2.fillPoly(line, [lm[60:68].round().astype(np.int32)], 1)
    cv2.polylines(line, [lm[60:68].round().astype(np.int32)], True, 1, 1)
    radius = int(0.06 * _eye_distance(face))
    line = cv2.dilate(line, np.ones((2 * radius + 1,) * 2, np.uint8)) > 0
    out = render_image(older_face, look)
    change = np.abs(out.astype(np.int16) - older_face).max(-1)[line]
    assert change.mean() < 15, change.mean()
    redness = [cv2.cvtColor(a.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)[..., 1][line].mean() for a in (older_face, out)]
    assert abs(redness[1] - redness[0]) < 2, redness


def test_what_is_left_of_a_smiling_sources_teeth_is_cleared_from_closed_lips(shared_media, monkeypatch):
    """Closed by the warp onto source_s18's closed lips, the example look's smiling source left a
    filigree of pale and dark lines one or two pixels wide along where the lips meet. Fine detail
    there (each pixel's largest channel off its 5x5 median, over the lips within 0.06 eye
    distances of their meeting line) measured 3.6-3.8 levels against the plate's own 3.1-3.3;
    ``clear_teeth_line`` took it to 2.7. Since the source's teeth are kept off the plate's lips
    too (``SourceFace.teeth``, the plate's own lips there): 3.2-3.3 with neither (other changes
    since), 2.6-2.8 with both; clearing alone 2.4-2.6."""
    import av

    from deage.edit.swap import editor as swap_editor
    from deage.edit.swap import source as swap_source

    look = load_look(REPO / "examples" / "looks" / "swap.json")
    with av.open(str(shared_media / "source_s18.mp4")) as clip:
        frames = [f.to_ndarray(format="rgb24") for i, f in zip(range(101), clip.decode(video=0)) if i in (20, 100)]
    cleared, teeth = swap_editor.clear_teeth_line, swap_source.teeth_mask
    for frame in frames:
        face = max(find_faces(frame), key=lambda f: f.area)
        lm = np.asarray(face.landmarks, np.float64)
        lips = np.zeros(frame.shape[:2], np.uint8)
        cv2.fillPoly(lips, [lm[48:60].round().astype(np.int32)], 1)
        line = np.zeros(frame.shape[:2], np.uint8)
        cv2.polylines(line, [lm[60:68].round().astype(np.int32)], True, 1, 1)
        r = int(0.06 * _eye_distance(face))
        band = (lips > 0) & (cv2.dilate(line, np.ones((2 * r + 1,) * 2, np.uint8)) > 0)

        def filigree(image: np.ndarray) -> float:
            return float(np.abs(image.astype(np.int16) - cv2.medianBlur(image, 5)).max(-1)[band].mean())

        monkeypatch.setattr(swap_editor, "clear_teeth_line", lambda swapped, regions, amount: swapped)
        monkeypatch.setattr(swap_source, "teeth_mask", lambda image, landmarks: np.zeros(image.shape[:2], np.float32))
        left = filigree(render_image(frame, look))
        monkeypatch.setattr(swap_editor, "clear_teeth_line", cleared)
        monkeypatch.setattr(swap_source, "teeth_mask", teeth)
        now = filigree(render_image(frame, look))
        assert now < 0.9 * left and now < filigree(frame), (left, now, filigree(frame))


def test_teeth_are_marked_only_where_a_source_shows_them(shared_media):
    """``SourceFace.teeth``: the astronaut's smile shows her teeth (and the dark gaps at its
    corners); source_s12's closed mouth under a moustache, driving_d19's mouth open in an "o"
    without teeth, and Tom Hanks' colourless photo show none, and nothing is marked on them (a
    moustache or a lip's highlight kept off the plate would take it out of the swap). When
    written: 0.11 eye distances squared on the astronaut, under 0.0002 on the three others."""
    from deage.edit.swap.source import load_source

    specs = source_specs(shared_media)
    area = {}
    for name in ("astronaut", "source_s12", "driving_d19", "hanks"):
        source = load_source(SourceSpec(name=name, **specs[name]))
        eye = FaceFrame.from_landmarks(source.landmarks).eye_distance
        area[name] = float(source.teeth.sum()) / eye ** 2  # eye distances squared
    assert area["astronaut"] > 0.05, area
    assert all(area[n] < 0.005 for n in ("source_s12", "driving_d19", "hanks")), area


def test_a_smiling_sources_teeth_stay_off_a_narrower_mouths_lips(shared_media, engines, monkeypatch):
    """driving_d12 frame 92: the actor's mouth is an "o", narrower and taller than the example
    look's smiling astronaut's. Her teeth and the dark gaps at her mouth's corners, which lie past
    dlib's inner-lip points, were stretched over his lips at the corners: fine detail there (each
    pixel's largest channel off its 5x5 median, over his lips outside their inner outline) 2.45
    levels against the plate's own 1.40. ``SourceFace.teeth`` keeps the plate there: 1.75."""
    import av

    from deage.edit.swap import source as swap_source

    with av.open(str(shared_media / "driving_d12.mp4")) as clip:
        frame = next(f for i, f in enumerate(clip.decode(video=0)) if i == 92).to_ndarray(format="rgb24")
    detector, _ = engines
    face = max(detector.detect(frame), key=lambda f: f.area)
    aligned = align_face(frame, face, "ffhq", crop_size_for(face))
    lm = np.asarray(face.landmarks, np.float64)
    lips, inner = np.zeros(frame.shape[:2], np.uint8), np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(lips, [lm[48:60].round().astype(np.int32)], 1)
    centre = lm[60:68].mean(0)
    cv2.fillPoly(inner, [(centre + (lm[60:68] - centre) * 1.15).round().astype(np.int32)], 1)
    ring = (lips > 0) & (inner == 0)

    def fine(image: np.ndarray) -> float:
        return float(np.abs(image.astype(np.int16) - cv2.medianBlur(image, 5)).max(-1)[ring].mean())

    params = _params(a={"photo": "pkg:skimage/astronaut"})
    with_mask = fine(composite(frame, aligned, SwapEditor().edit(aligned, params), BLEND))
    monkeypatch.setattr(swap_source, "teeth_mask", lambda image, landmarks: np.zeros(image.shape[:2], np.float32))
    without = fine(composite(frame, aligned, SwapEditor().edit(aligned, params), BLEND))
    plate = fine(frame)
    assert without > 1.5 * plate, (without, plate)  # the streaks this guards against are there without it
    assert with_mask < 1.35 * plate and with_mask < 0.8 * without, (with_mask, without, plate)


def test_a_smile_is_read_from_the_mouth(astronaut, older_face):
    """The astronaut smiles with her teeth showing; Grace Hopper's mouth is straight. The measure
    is in eye distances, so it is the same at any scale, and the mismatch is symmetric."""
    from deage.edit.swap.folds import smile, smile_mismatch

    smiling = max(find_faces(astronaut), key=lambda f: f.area).landmarks
    straight = max(find_faces(older_face), key=lambda f: f.area).landmarks
    assert smile(smiling) > 0.9 and smile(np.asarray(smiling) * 3.0) == pytest.approx(smile(smiling))
    assert smile(straight) < 0.1
    assert smile_mismatch(smiling, straight) == pytest.approx(smile_mismatch(straight, smiling))
    assert smile_mismatch(smiling, straight) > 0.8


def _fold_shading(image: np.ndarray, eye_distance: float) -> np.ndarray:
    """Log-luminance of RGB uint8 ``image`` between the fold scales (``deage.edit.swap.folds.BAND``)."""
    from deage.edit.swap.folds import BAND

    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32) + 4.0
    return np.log(cv2.GaussianBlur(grey, (0, 0), BAND[0] * eye_distance)) - np.log(
        cv2.GaussianBlur(grey, (0, 0), BAND[1] * eye_distance))


def test_a_smiling_sources_folds_follow_a_straight_faced_plate(older_face):
    """The example look's source smiles; warped onto a straight face, her smile's folds (nose to
    mouth corners, the bunched cheeks) put a grin on it. Where the two smile differently the swap
    now takes the plate's shading at the folds' scales there (``folds``), and is warped from her
    photo with its folds smoothed (``SourceFace.unsmiling``): over the fold regions the output's
    shading at those scales departs from the plate's 0.63 (source_s18) and 0.73 (Grace Hopper,
    whose own folds are deep) as much as with ``folds`` 0, and nothing moves further than 0.6 eye
    distances from them (on source_s18's turned face her smoothed cheeks land up to 0.56 beyond)."""
    import av

    from deage.edit.swap.folds import fold_weight

    frames = {"grace_hopper": older_face}
    turned = SHARED / "media" / "source_s18.mp4"
    if turned.exists():
        with av.open(str(turned)) as clip:
            frames["source_s18"] = next(f for i, f in enumerate(clip.decode(video=0)) if i == 100).to_ndarray(
                format="rgb24")
    data = load_look(REPO / "examples" / "looks" / "swap.json").to_dict()
    looks = {}
    for folds in (0.0, 1.0):
        data["edit"]["folds"] = folds
        looks[folds] = Look.from_dict(json.loads(json.dumps(data)))
    for name, frame in frames.items():
        face = max(find_faces(frame), key=lambda f: f.area)
        d = _eye_distance(face)
        h, w = frame.shape[:2]
        region = fold_weight(face.landmarks, max(h, w))[:h, :w] > 0.5
        flat, followed = (render_image(frame, looks[f]) for f in (0.0, 1.0))
        plate = _fold_shading(frame, d)
        departs = [float(np.abs(_fold_shading(out, d) - plate)[region].mean()) for out in (flat, followed)]
        assert departs[1] < 0.85 * departs[0], (name, departs)
        moved = np.abs(followed.astype(np.int16) - flat).max(-1) > 2
        near = cv2.distanceTransform((~region).astype(np.uint8), cv2.DIST_L2, 5) < 0.6 * d
        assert moved[region].mean() > 0.3 and not moved[~near].any(), name


def _fold_lines(image: np.ndarray, eye_distance: float, where: np.ndarray) -> float:
    """Mean depth of the dark lines plus height of the bright ones narrower than a tenth of an eye
    distance (a grey closing and opening of RGB uint8 ``image``), relative, in %, over ``where``."""
    from deage.face.masks import disk

    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32) + 4.0
    element = disk(max(1, int(round(0.045 * eye_distance))))
    closed = cv2.morphologyEx(grey, cv2.MORPH_CLOSE, element)
    opened = cv2.morphologyEx(grey, cv2.MORPH_OPEN, element)
    return float(((closed - grey) / closed + (grey - opened) / grey)[where].mean() * 100.0)


def test_a_smiling_photo_is_unsmiled_over_its_folds_alone(shared_media):
    """``SourceFace.unsmiling``: the astronaut's smile folds (nose to mouth corners) are smoothed,
    their lines (``_fold_lines``) 2.90 % before, 1.66 % after, when written; source_s12's
    moustache, which lies in the same regions and which the skin mask half takes for skin, is kept
    (mean change 1.1 levels; 4-7 without the guard on what changes more than a fold,
    ``folds.FEATURE``); nothing outside the fold regions changes at all."""
    from deage.edit.swap.folds import fold_weight
    from deage.edit.swap.source import load_source

    specs = source_specs(shared_media)
    for name in ("astronaut", "source_s12"):
        source = load_source(SourceSpec(name=name, **specs[name]))
        image, flat, lm = source.image, source.unsmiling, source.landmarks
        size = image.shape[0]
        weight = fold_weight(lm, size)
        assert np.array_equal(flat[weight == 0], image[weight == 0]), name
        if name == "astronaut":
            folds = (weight > 0.5) & (source.skin > 0.5)
            d = FaceFrame.from_landmarks(lm).eye_distance
            before, after = _fold_lines(image, d, folds), _fold_lines(flat, d, folds)
            assert after < 0.7 * before, (before, after)
        else:
            ys, xs = np.mgrid[:size, :size]
            lip = lm[48:55]
            moustache = (source.skin < 0.3) & (ys > lm[33, 1]) & (ys < lip[:, 1].min()) \
                & (xs > lip[:, 0].min()) & (xs < lip[:, 0].max())
            assert moustache.sum() > 1000
            assert float(np.abs(flat.astype(np.int16) - image)[moustache].mean()) < 2.0


def test_a_broad_smile_is_not_squeezed_into_lines_on_a_narrower_mouth(shared_media, monkeypatch):
    """The example look's astronaut smiles broadly; warped onto a straight mouth or an "o", her
    folds were squeezed into sharp lines from the nose's wings to the mouth's corners (a dark
    crease with a bright ridge beside it), finer than the plate's shading ``folds`` takes. Warped
    from her unsmiled photo, the lines over the plates' fold regions (``_fold_lines``) are lower:
    driving_d19 ("o") 2.20 -> 1.47 %, driving_d30 5.10 -> 4.02, source_s11 2.26 -> 1.17 when
    written (the plates' own 1.89, 6.47, 0.91)."""
    from deage.edit.swap import editor as swap_editor
    from deage.edit.swap.folds import fold_weight, smile

    look = load_look(REPO / "examples" / "looks" / "swap.json")
    for name in ("driving_d19", "driving_d30", "source_s11"):
        frame = read_rgb(shared_media / f"{name}.jpg")
        face = max(find_faces(frame), key=lambda f: f.area)
        assert smile(face.landmarks) < 0.1, name
        h, w = frame.shape[:2]
        region = fold_weight(face.landmarks, max(h, w))[:h, :w] > 0.5
        d = _eye_distance(face)
        now = _fold_lines(render_image(frame, look), d, region)
        monkeypatch.setattr(swap_editor, "smile", lambda landmarks: 0.0)  # the warp as it was
        before = _fold_lines(render_image(frame, look), d, region)
        monkeypatch.undo()
        assert now < 0.9 * before, (name, before, now)


def test_folds_leave_a_plate_that_smiles_like_the_source_alone(astronaut):
    """The astronaut onto herself: the smiles match, so ``folds`` changes nothing."""
    data = load_look(REPO / "examples" / "looks" / "swap.json").to_dict()
    outs = []
    for folds in (0.0, 1.0):
        data["edit"]["folds"] = folds
        outs.append(render_image(astronaut, Look.from_dict(json.loads(json.dumps(data)))))
    assert np.array_equal(outs[0], outs[1])
    assert np.abs(outs[1].astype(np.int16) - astronaut).max() > 20  # the swap itself did change her


def _chroma_spread(image: np.ndarray, where: np.ndarray) -> float:
    """How much the colour (CIE a*, b*, blurred 3 px) of RGB uint8 ``image`` varies over ``where``."""
    lab = cv2.GaussianBlur(cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab), (0, 0), 3)
    return float(np.sqrt(lab[..., 1:][where].var(axis=0).sum()))


def _chroma(image: np.ndarray) -> np.ndarray:
    """CIE a*, b* chroma (float32, H x W) of uint8 RGB ``image``."""
    lab = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    return np.hypot(lab[..., 1], lab[..., 2])


def test_a_black_and_white_plate_gets_a_black_and_white_face(swaps, targets):
    """source_s2 is a black-and-white photo: every source swapped onto it (a colour photo with red
    lips and coloured eyes) comes out as grey as the plate, lips and eyes included. Colour plates
    measure full colour, so their swaps keep the source's colours (Tom Hanks' photo in insightface
    is grey too)."""
    from deage.edit.swap.colour import plate_colour

    grey = [s for s in swaps if s.name.endswith("->source_s2")]
    assert len(grey) >= 2
    for s in grey:
        inside = s.matte > 0.5
        plate = np.percentile(_chroma(s.frame)[inside], 99.9)
        out = _chroma(s.out)[inside]
        assert np.percentile(out, 99.9) <= plate + 2.0, (s.name, float(np.percentile(out, 99.9)), float(plate))
    for name, (frame, face) in targets.items():
        crop = align_face(frame, face, "ffhq", 256).image
        expected = 0.0 if name in ("source_s2", "hanks") else 1.0
        assert plate_colour(crop) == pytest.approx(expected, abs=0.02), name


def test_a_grey_plate_gets_a_grey_face(older_face):
    """Grace Hopper's portrait made grey (R = G = B): the swapped face takes the plate skin's tint
    (neutral), not its photo's own finer colour (cheeks redder than its skin's average), which had
    left a fifth of the face 2-4 levels off grey; now no more than Lab's round trip (2 levels)."""
    grey = np.repeat(cv2.cvtColor(older_face, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    out = render_image(grey, load_look(REPO / "examples" / "looks" / "swap.json")).astype(np.int16)
    spread = out.max(axis=2) - out.min(axis=2)
    changed = np.any(out != grey, axis=2)
    assert changed.sum() > 20000
    assert spread.max() <= 2 and (spread[changed] > 1).mean() < 0.001, (spread.max(), (spread[changed] > 1).mean())


def test_the_sources_fringe_leaves_no_dark_band_on_the_forehead(older_face, group_photo):
    """The example source wears a fringe down to a narrow forehead: its lower edge passed for
    skin, and beyond the face's mask the crop still held the source (for the blend's low bands),
    so a dark band was laid along the plate's forehead, 0.1-0.4 eye distances above the brows:
    on Grace Hopper and t1.jpg's rightmost face 17-18 % of the band darker by over 12 levels. Above
    the brows the source's skin now ends where it first turns hair-dark, and the crop holds the
    plate beyond the forehead's gate: under 2 %. The forehead right above the brows (up to 0.12
    eye distances, where the forehead's gate begins) is still replaced, 0.58-0.70 of it changed
    (the band under her fringe, in its shadow, is no longer taken: ``out_of_the_fringes_shadow``)."""
    look = load_look(REPO / "examples" / "looks" / "swap.json")
    faces = [(older_face, max(find_faces(older_face), key=lambda f: f.area)),
             (group_photo, max(find_faces(group_photo), key=lambda f: f.box[0]))]
    for frame, face in faces:
        lm = np.asarray(face.landmarks, np.float64)
        d = _eye_distance(face)
        brows = lm[17:27]
        band = np.zeros(frame.shape[:2], bool)
        top = brows[:, 1].min()
        band[int(top - 0.4 * d):int(top - 0.1 * d), int(brows[:, 0].min()):int(brows[:, 0].max())] = True
        out = FrameRenderer(look).render(frame, 0, {1: face})[0]
        darker = (cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.int16)
                  - cv2.cvtColor(out, cv2.COLOR_RGB2GRAY))[band]
        assert (darker > 12).mean() < 0.02, (darker > 12).mean()
        lower = np.zeros(frame.shape[:2], bool)  # the forehead right above the brows is still the source's
        lower[int(top - 0.12 * d):int(top - 0.02 * d), int(brows[:, 0].min()):int(brows[:, 0].max())] = True
        assert (np.abs(out.astype(np.int16) - frame)[lower].max(-1) > 2).mean() > 0.45


def test_the_shadow_under_the_sources_fringe_stays_off_the_plates_forehead(shared_media, monkeypatch):
    """The band of the astronaut's forehead under her fringe lies in its shadow (216 levels just
    above her brows, 150 where the hair begins) and passed for skin: pasted at the top of the
    swap's forehead, it drew a dark wavy line across the plate's. The source's skin now ends
    where its forehead turns darker than 0.9 of its brightness near the hair
    (``source.out_of_the_fringes_shadow``). Share of the forehead band (0.05-0.4 eye distances
    above the brows) darker than the plate by over 6 levels: driving_d30 4.4 -> 0.4 %, source_s2
    13.2 -> 3.9, driving_d19 4.3 -> 0.4, source_s12 14.2 -> 2.3, when written."""
    from deage.edit.swap import source as swap_source

    look = load_look(REPO / "examples" / "looks" / "swap.json")
    kept = swap_source.out_of_the_fringes_shadow
    for name in ("driving_d30", "source_s2", "driving_d19", "source_s12"):
        frame = read_rgb(shared_media / f"{name}.jpg")
        face = max(find_faces(frame), key=lambda f: f.area)
        lm, d = np.asarray(face.landmarks, np.float64), _eye_distance(face)
        top = lm[17:27, 1].min()
        band = np.zeros(frame.shape[:2], bool)
        band[int(top - 0.4 * d):int(top - 0.05 * d), int(lm[17:27, 0].min()):int(lm[17:27, 0].max())] = True
        darker = {}
        for trimmed in (True, False):
            monkeypatch.setattr(swap_source, "out_of_the_fringes_shadow",
                                kept if trimmed else (lambda image, landmarks, skin: skin))
            out = FrameRenderer(look).render(frame, 0, {1: face})[0]
            diff = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.int16) - cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)
            darker[trimmed] = float((diff[band] > 6).mean())
        assert darker[True] < 0.05 and darker[True] < 0.35 * darker[False], (name, darker)


def test_only_a_half_the_source_photo_foreshortens_is_filled_from_its_mirror_image(older_face):
    """Soft symmetry fills the half of a turned source photo that the turn foreshortens from the
    mirror image of its other half. It had acted whenever source and plate were turned
    differently, so a frontal photo on a turned plate had its far cheek painted from its near
    one, whose light comes from the other side: grey patches on the far cheek. The frontal demo
    source on source_s18's turned face now renders the same with and without symmetry, bit for
    bit; that face used as the source, onto Grace Hopper's frontal one, is still filled."""
    import av

    path = SHARED / "media" / "source_s18.mp4"
    if not path.exists():
        pytest.skip(f"shared media not found: {path}")
    with av.open(str(path)) as clip:
        turned = next(f for i, f in enumerate(clip.decode(video=0)) if i == 100).to_ndarray(format="rgb24")
    data = load_look(REPO / "examples" / "looks" / "swap.json").to_dict()

    def render(frame: np.ndarray, symmetry: float, source: dict | None = None) -> np.ndarray:
        edit = {**data["edit"], "symmetry": symmetry}
        if source is not None:
            edit["sources"] = {"demo": {**data["edit"]["sources"]["demo"], **source}}
            edit["sources"]["demo"].pop("photo")
        look = Look.from_dict(json.loads(json.dumps({**data, "edit": edit})))
        return FrameRenderer(look).render(frame, 0, {1: max(find_faces(frame), key=lambda f: f.area)})[0]

    assert np.array_equal(render(turned, 1.0), render(turned, 0.0))
    as_source = {"clip": str(path), "frame": 100}
    with pytest.warns(SourceWarning, match="turned to one side"):
        filled, stretched = render(older_face, 1.0, as_source), render(older_face, 0.0, as_source)
    moved = np.abs(filled.astype(np.int16) - stretched).max(-1) > 8
    assert moved.sum() > 2000


def test_swap_is_deterministic_and_unmapped_tracks_untouched(astronaut, engines):
    detector, _ = engines
    aligned = align_face(astronaut, detector.detect(astronaut)[0], "ffhq", 512)
    editor = SwapEditor()
    params = SwapParams.from_dict({"sources": {"h": {"photo": HANKS, "consent": CONSENT}},
                                   "mappings": [{"source": "h", "tracks": [1]}]})
    first = editor.edit(aligned, params, track_id=1)
    again = editor.edit(aligned, params, track_id=1)
    assert np.array_equal(first.image, again.image) and np.array_equal(first.mask, again.mask)
    assert first.mask.max() > 0.99 and set(first.layers) == {"face", "skin", "eyes", "mouth"}
    other = editor.edit(aligned, params, track_id=2)
    assert not other.mask.any() and np.array_equal(other.image, aligned.image)
    with pytest.raises(DeageError, match="square RGB uint8 crop"):
        editor.edit(type(aligned)(aligned.image[:, :100], aligned.matrix, aligned.keypoints5, aligned.landmarks,
                                  "ffhq"), params, track_id=1)
    with pytest.raises(NoFaceError, match="68 finite landmarks"):
        editor.edit(type(aligned)(aligned.image, aligned.matrix, aligned.keypoints5, None, "ffhq"), params,
                    track_id=1)


# ---- mappings and rendering ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def group_analysis(group_photo):
    """The group photo as a two-frame clip, analysed with descriptors (six tracks)."""
    from deage.face.analysis import analyse_frames

    return analyse_frames([group_photo, group_photo], 25)


def test_mappings_by_track_id_and_by_reference_photo(group_analysis, group_photo, tmp_path):
    analysis = group_analysis
    assert len(analysis.tracks) == 6
    faces = analysis.faces_at(0)
    # A reference photo of one person (cropped from the group) picks that person's track.
    by_x = sorted(faces, key=lambda t: faces[t].center[0])
    wanted = by_x[3]
    x0, y0, x1, y1 = (int(v) for v in faces[wanted].box)
    pad = int(0.6 * (x1 - x0))
    crop = group_photo[max(0, y0 - pad):y1 + pad, max(0, x0 - pad):x1 + pad]
    cv2.imwrite(str(tmp_path / "ref.jpg"), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
    others = [t for t in analysis.track_ids if t != wanted][:2]
    look = Look(editor="swap", edit={
        "sources": {"a": {"photo": "pkg:skimage/astronaut", "consent": CONSENT},
                    "h": {"photo": HANKS, "consent": CONSENT}},
        "mappings": [{"source": "a", "tracks": others}, {"source": "h", "reference": "ref.jpg"}]})
    editor = SwapEditor(base_dir=tmp_path)
    editor.prepare(look, analysis)
    assert editor.assignments == {others[0]: "a", others[1]: "a", wanted: "h"}
    assert editor.source_for(others[0]).name == "a" and editor.source_for(wanted).name == "h"
    untouched = next(t for t in analysis.track_ids if t not in editor.assignments)
    assert editor.source_for(untouched) is None
    # Two mappings claiming one track is an error; "all" only takes what is left.
    clash = Look(editor="swap", edit={**look.edit, "mappings": [{"source": "a", "tracks": [wanted]},
                                                               {"source": "h", "reference": "ref.jpg"}]})
    with pytest.raises(LookError, match=f"track {wanted} is mapped to both 'a' and 'h'"):
        editor.prepare(clash, analysis)
    rest = Look(editor="swap", edit={**look.edit, "mappings": [{"source": "h", "reference": "ref.jpg"},
                                                              {"source": "a", "tracks": "all"}]})
    editor.prepare(rest, analysis)
    assert editor.source_for(wanted).name == "h" and editor.source_for(untouched).name == "a"
    # Without the clip's analysis, a reference mapping cannot be resolved.
    with pytest.raises(DeageError, match="needs the clip's face analysis"):
        SwapEditor(base_dir=tmp_path).prepare(look, None)


def test_render_replaces_faces_and_passes_faceless_frames(example_clip, tmp_path):
    """render_clip with the example look: face frames change, blank frames pass through
    bit-identical and are listed, and the provenance carries the consent record."""
    from deage.face.analysis import AnalysisSettings
    from deage.provenance import read_provenance
    from deage.render import render_clip
    from deage.video import ClipWriter, open_clip

    clip = tmp_path / "shot.mkv"
    with open_clip(example_clip) as source:
        frames = list(source.frames(0, 5))
        fps = source.info.fps
    blank = np.full_like(frames[0], 40)
    sequence = frames[:3] + [blank, blank] + frames[3:5]
    with ClipWriter(clip, fps=fps, width=blank.shape[1], height=blank.shape[0], codec="ffv1") as writer:
        for f in sequence:
            writer.write(f)
    look = load_look(REPO / "examples" / "looks" / "swap.json")
    output = tmp_path / "out.mkv"
    result = render_clip(clip, output, look, cache_dir=tmp_path, analysis_settings=AnalysisSettings(detect_every=1))
    assert result.frames_without_face == [3, 4]
    assert result.faces_edited == 5
    with open_clip(output) as rendered:
        out = list(rendered.frames())
    assert np.array_equal(out[3], blank) and np.array_equal(out[4], blank)
    for i in (0, 1, 2, 5, 6):
        assert not np.array_equal(out[i], sequence[i]), f"frame {i} unchanged"
    record = read_provenance(output)
    assert record["look"]["edit"]["sources"] == look.edit["sources"]
    (used,) = record["editor_details"]["swap_sources"]
    assert used["consent"] == look.edit["sources"]["demo"]["consent"]
    assert used["file"].endswith("astronaut.png") and len(used["file_sha256"]) == 64 and used["face_index"] == 0
    assert record["editor_details"]["swap_mappings"] == {"*": "demo"}


def test_a_repeated_picture_gets_the_same_replacement(example_clip, tmp_path):
    """A clip on twos (each picture twice): the swap warps the source by the landmarks, so when
    they were re-fitted on the repeat it moved by 4-7 levels over the face though the picture had
    not. The tracker now keeps the faces of a repeated picture, and the replacement is the same
    to the bit once the edit has faded in."""
    from deage.face.analysis import AnalysisSettings
    from deage.render import render_clip
    from deage.video import ClipWriter, open_clip

    with open_clip(example_clip) as source:
        frames = list(source.frames(0, 12))
        fps = source.info.fps
    clip = tmp_path / "twos.mkv"
    with ClipWriter(clip, fps=fps, width=frames[0].shape[1], height=frames[0].shape[0], codec="ffv1") as writer:
        for f in frames:
            writer.write(f)
            writer.write(f)
    output = tmp_path / "out.mkv"
    look = load_look(REPO / "examples" / "looks" / "swap.json")
    render_clip(clip, output, look, cache_dir=tmp_path, analysis_settings=AnalysisSettings())
    with open_clip(output) as rendered:
        out = list(rendered.frames())
    fade = int(look.blend["fade"]) if "fade" in look.blend else int(BlendParams().fade)
    for k in range(fade // 2 + 1, 12):
        assert np.array_equal(out[2 * k], out[2 * k + 1]), k
    assert not np.array_equal(out[2 * fade], out[2 * fade + 2])  # the clip and its swap do move


def test_example_look_is_valid_and_consented():
    look = load_look(REPO / "examples" / "looks" / "swap.json")
    params = SwapParams.from_dict(look.edit)
    for spec in params.sources:
        assert resolve_source_path(spec.path).is_file(), spec.path
        assert spec.consent and (spec.consent.get("name") or spec.consent.get("id")) and spec.consent.get("reference")
    assert look.blend.get("mode") in ("multiband", "poisson")
