"""Glasses: found on real and drawn frames and on no bare face (``deage.face.glasses``), and kept
over a swapped face (``SwapParams.glasses``), dark lenses included."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from conftest import REPO, read_rgb
from deage.edit.base import crop_size_for
from deage.face.align import align_face
from deage.face.glasses import find_glasses
from deage.look import Look, load_look
from deage.render import render_image
from facehelpers import GOLD, GUNMETAL, SILVER, detect_faces, largest_face, wear_glasses, wear_sunglasses
from mediahelpers import smeared

STILLS = ("driving_d19", "driving_d30", "source_s11", "source_s12", "source_s2")


def _found(image: np.ndarray, face=None):
    """``find_glasses`` on the FFHQ crop of ``face`` (default: the largest) and that crop."""
    face = largest_face(image) if face is None else face
    aligned = align_face(image, face, "ffhq", crop_size_for(face))
    return find_glasses(aligned.image, aligned.landmarks), aligned


def _swap(image: np.ndarray, glasses: float) -> np.ndarray:
    data = load_look(REPO / "examples" / "looks" / "swap.json").to_dict()
    data["edit"]["glasses"] = glasses
    return render_image(image, Look.from_dict(json.loads(json.dumps(data))))


@pytest.fixture(scope="module")
def bare_faces(astronaut, shared_media):
    """(name, image, face): faces without glasses, of several people, ages and skin tones."""
    out = [("astronaut", astronaut, largest_face(astronaut))]
    for name in STILLS:
        image = read_rgb(shared_media / f"{name}.jpg")
        out.append((name, image, largest_face(image)))
    selfie = read_rgb(shared_media / "fo_selfie_diverse_group.jpg")
    out += [(f"selfie_{i}", selfie, face) for i, face in enumerate(detect_faces(selfie)) if face.width > 60]
    return out


def test_glasses_are_found_on_real_and_drawn_frames_and_on_no_bare_face(older_face, bare_faces):
    """Grace Hopper's cat-eye glasses (a dark browline, amber rims) are found; so is a pair of
    thin dark frames drawn on the astronaut and three shared stills (``facehelpers.wear_glasses``:
    at least 85 % of the drawn frame within the eyes' reach found, 87-100 % when written); on
    the 10 bare faces (a smile's creases under the eyes, brows, lash lines, hair across a cheek)
    nothing is."""
    assert _found(older_face)[0].present == 1.0
    for name, image, face in bare_faces:
        if name in ("astronaut", "driving_d19", "driving_d30", "source_s11"):
            worn, drawn = wear_glasses(image, face)
            glasses, aligned = _found(worn)
            assert glasses.present == 1.0, name
            on_crop = cv2.warpAffine(drawn.astype(np.float32), aligned.matrix[:2].astype(np.float64),
                                     (aligned.size, aligned.size)) > 0.5
            reach = cv2.resize(glasses.frames, (aligned.size, aligned.size)) > 0.3
            assert (reach & on_crop).sum() > 0.85 * on_crop.sum(), name
    found = {name: _found(image, face)[0].present for name, image, face in bare_faces}
    assert len(found) >= 10 and not any(found.values()), found


def test_thin_metal_frames_are_found_by_their_colour_and_kept(bare_faces):
    """Thin silver, gold and gunmetal frames (0.015 eye distances, about as light as the skin or
    lighter) have no dark bridge: the grey search missed all 15 pairs drawn on five faces, and
    the de-ager at 30 years wiped half a lower rim off (driving_d30: gold frames changed 27
    levels on average, up to 141; silver 18, up to 55) and a swap dropped them (the frames
    changed as much with ``glasses`` 1 as with 0). Searched by colour (``glasses.TINT``) they
    are found (75-100 % of each drawn frame, when written), the de-ager leaves them (0.05
    levels) and a swap keeps them as the plate shows them (1.5 and 1.8 levels against 62.5 and
    45.6 taken off). The bare faces, searched the same way, show none (the first test)."""
    shown = {}
    for name, image, face in bare_faces[:5]:
        for colour in (SILVER, GOLD, GUNMETAL):
            worn, drawn = wear_glasses(image, face, colour, thickness=0.015)
            glasses, aligned = _found(worn, face)
            on_crop = cv2.warpAffine(drawn.astype(np.float32), aligned.matrix[:2].astype(np.float64),
                                     (aligned.size, aligned.size)) > 0.5
            reach = cv2.resize(glasses.frames, (aligned.size, aligned.size)) > 0.3
            shown[name, colour] = glasses.present, (reach & on_crop).sum() / on_crop.sum()
    assert all(present == 1.0 and share > 0.7 for present, share in shown.values()), shown
    assert np.median([share for _, share in shown.values()]) > 0.95, shown
    name, image, face = bare_faces[2]
    assert name == "driving_d30"
    look = Look.from_dict({"editor": "makeup", "edit": {"years": 30}, "blend": {"mode": "multiband", "feather": 8}})
    hull = np.zeros(image.shape[:2], np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.round(face.landmarks[:27]).astype(np.int32)), 1)
    for colour in (SILVER, GOLD):
        worn, drawn = wear_glasses(image, face, colour, thickness=0.015)
        frame = (cv2.erode(drawn.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0) & (hull > 0)
        change = np.abs(render_image(worn, look).astype(np.int16) - worn).max(-1)
        assert change[frame].mean() < 0.5 and change[frame].max() <= 10, (colour, change[frame].mean())
        kept, removed = (np.abs(_swap(worn, g).astype(np.int16) - worn).max(-1)[frame].mean() for g in (1.0, 0.0))
        assert kept < 5.0 and removed > 30.0, (colour, kept, removed)


def test_a_swap_keeps_the_plates_glasses_on_the_new_face(astronaut, shared_media):
    """The example look swaps the face inside a pair of glasses; ``glasses`` (default 1) keeps
    the frame over the new face: the drawn frame changes by 39 (the astronaut: dlib fits her eyes
    onto the thick rims' lower edges, and the rim under one is lost with them) and 7.5
    (driving_d30) levels on average, its largest channel, against 93 and 147 with ``glasses`` 0,
    which took the frame off with the face and left its arms hanging at the temples, when
    written. The eyes inside the lenses are the new face's either way."""
    for image in (astronaut, read_rgb(shared_media / "driving_d30.jpg")):
        worn, drawn = wear_glasses(image, largest_face(image))
        frame = cv2.erode(drawn.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        kept, removed = (np.abs(_swap(worn, g).astype(np.int16) - worn).max(-1) for g in (1.0, 0.0))
        assert kept[frame].mean() < 0.5 * removed[frame].mean(), (kept[frame].mean(), removed[frame].mean())
        face = largest_face(worn)
        lens = np.zeros(frame.shape, np.uint8)
        cv2.fillPoly(lens, [np.round(face.landmarks[36:48]).astype(np.int32)], 1)
        assert kept[lens > 0].mean() > 15 and removed[lens > 0].mean() > 15


def test_a_swap_keeps_dark_lenses_over_the_eyes(astronaut):
    """Behind dark sunglasses (``facehelpers.wear_sunglasses``) the plate's eyes are hidden, and
    the swap painted the source's eyes over the lenses; now the lenses stay: mean change over
    them 18.6 levels against 69.8 with ``glasses`` 0, when written."""
    worn, glasses = wear_sunglasses(astronaut, largest_face(astronaut))
    lens = cv2.erode(glasses.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    kept, removed = (np.abs(_swap(worn, g).astype(np.int16) - worn).max(-1)[lens].mean() for g in (1.0, 0.0))
    assert kept < removed / 3.0, (kept, removed)


def test_the_de_ager_neither_bends_nor_recolours_glasses_frames(astronaut, shared_media, older_face):
    """At 30 years the de-ager's warp (eyes opened, cheeks filled) bent the rims and its under-eye
    lift lightened them: a drawn frame changed 1.8 (the astronaut) and 7.3 (driving_d30) levels on
    average, up to 17 and 94, and Grace Hopper's own frames 5.6. Found (``find_glasses``), the
    frames are now left as they are (0.34 / 0.03 levels, at most 6 / 3; hers 0.70, when written),
    while the skin around and inside the lenses is still retouched."""
    look = Look.from_dict({"editor": "makeup", "edit": {"years": 30}, "blend": {"mode": "multiband", "feather": 8}})
    for image, limit in ((astronaut, 1.0), (read_rgb(shared_media / "driving_d30.jpg"), 0.5)):
        face = largest_face(image)
        worn, drawn = wear_glasses(image, face)
        change = np.abs(render_image(worn, look).astype(np.int16) - worn).max(-1)
        frame = cv2.erode(drawn.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        assert change[frame].mean() < limit and change[frame].max() <= 10, (change[frame].mean(), change[frame].max())
        skin = np.zeros(frame.shape, np.uint8)
        cv2.fillConvexPoly(skin, cv2.convexHull(np.round(face.landmarks[:17]).astype(np.int32)), 1)
        assert change[(skin > 0) & ~drawn].mean() > 1.0
    glasses, aligned = _found(older_face)
    on_crop = cv2.resize(glasses.frames, (aligned.size, aligned.size))
    frames = cv2.warpAffine(on_crop, cv2.invertAffineTransform(aligned.matrix[:2]),
                            (older_face.shape[1], older_face.shape[0])) > 0.5
    change = np.abs(render_image(older_face, look).astype(np.int16) - older_face).max(-1)
    assert frames.sum() > 2000 and change[frames].mean() < 1.5, (frames.sum(), change[frames].mean())


def _smeared(image: np.ndarray, length: int = 7, noise: float = 4.0, quality: int = 35) -> np.ndarray:
    """``image`` as a soft video frame: a horizontal motion blur of ``length`` pixels, sensor
    noise and JPEG compression (RGB uint8)."""
    out = smeared(image, length, noise, np.random.default_rng(0))
    ok, data = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(data, cv2.IMREAD_UNCHANGED)


def test_a_face_known_to_wear_glasses_is_searched_more_keenly(older_face, bare_faces):
    """Grace Hopper's thin bridge reads fainter on a smeared frame and on a small face (40 %:
    75 px wide). In colour the search by colour finds her amber rims on the small face, and
    part of them on the smeared frame (0.41, when written); in black and white the search misses
    them on both. Told the face wears glasses (``worn``, as a render tells a track whose best
    frames show them) it finds them, and still finds none on the bare faces."""
    small = cv2.resize(older_face, None, fx=0.4, fy=0.4, interpolation=cv2.INTER_AREA)
    face = largest_face(small)
    aligned = align_face(small, face, "ffhq", crop_size_for(face))
    assert find_glasses(aligned.image, aligned.landmarks).present == 1.0
    for image in (_smeared(older_face), small):
        image = np.repeat(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
        face = largest_face(image)
        aligned = align_face(image, face, "ffhq", crop_size_for(face))
        assert find_glasses(aligned.image, aligned.landmarks).present == 0.0
        found = find_glasses(aligned.image, aligned.landmarks, worn=True)
        assert found.present == 1.0 and (found.frames > 0.5).sum() > 100
    for name, image, face in bare_faces:
        aligned = align_face(image, face, "ffhq", crop_size_for(face))
        assert find_glasses(aligned.image, aligned.landmarks, worn=True).present == 0.0, name


def test_a_track_is_looked_at_for_glasses_once_on_its_best_frames(older_face, astronaut, monkeypatch):
    """A render measures which tracks wear glasses on their best-seen frames
    (``glasses.measure_tracks``, ``Analysis.glasses``): Grace Hopper's track, one frame of three
    smeared, wears them, and her smeared frame is edited with the keener search, its frames
    spared where a search of that frame alone found none; the astronaut's track wears none, and
    her frames are not searched at all, rendering the same as when they were."""
    import deage.edit.makeup.editor as editor_module
    from deage.edit.makeup import MakeupParams
    from deage.face.analysis import analyse_frames
    from deage.face.glasses import measure_tracks, wears_glasses
    from deage.render import FrameRenderer

    look = Look.from_dict({"editor": "makeup", "edit": {"years": 30}, "blend": {"mode": "multiband", "feather": 8}})
    frames = [older_face, older_face, _smeared(older_face)]
    analysis = analyse_frames(frames, 25)
    (track,) = analysis.track_ids
    read = []
    assert measure_tracks(analysis, [track], lambda i: read.append(i) or frames[i]) == {track: pytest.approx(2 / 3)}
    assert read == [0, 1, 2] and wears_glasses(2 / 3) is True
    measure_tracks(analysis, [track], lambda i: pytest.fail("measured twice"))
    renderer = FrameRenderer(look, analysis=analysis)
    assert renderer.params_for(MakeupParams(years=30), track).wears_glasses is True
    assert renderer.params_for(MakeupParams(years=30, wears_glasses=False), track).wears_glasses is False
    face = analysis.faces_at(2)[track]
    aligned = align_face(frames[2], face, "ffhq", crop_size_for(face))
    glasses = find_glasses(aligned.image, aligned.landmarks, worn=True)
    frames_there = cv2.warpAffine(cv2.resize(glasses.frames, (aligned.size, aligned.size)),
                                  cv2.invertAffineTransform(aligned.matrix[:2]),
                                  (older_face.shape[1], older_face.shape[0])) > 0.5
    keen = np.abs(renderer.render(frames[2], 2, analysis.faces_at(2))[0].astype(np.int16) - frames[2]).max(-1)
    analysis.glasses.clear()  # each frame searched alone: the smeared one shows none
    alone = np.abs(renderer.render(frames[2], 2, analysis.faces_at(2))[0].astype(np.int16) - frames[2]).max(-1)
    assert frames_there.sum() > 500
    assert keen[frames_there].mean() < 0.5 * alone[frames_there].mean(), (keen[frames_there].mean(),
                                                                          alone[frames_there].mean())

    bare = analyse_frames([astronaut, astronaut], 25)
    (track,) = bare.track_ids
    searched = FrameRenderer(look, analysis=bare).render(astronaut, 0, bare.faces_at(0))[0]
    assert measure_tracks(bare, [track], lambda i: astronaut) == {track: 0.0}
    monkeypatch.setattr(editor_module, "find_glasses", lambda *args, **kwargs: pytest.fail("searched"))
    assert np.array_equal(FrameRenderer(look, analysis=bare).render(astronaut, 0, bare.faces_at(0))[0], searched)
