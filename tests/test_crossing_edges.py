"""A thing held in front of the chin (a microphone, a phone, a cup) is not bent by the de-ager's
shape warp, and a bare face's render does not change: ``deage.face.crossing_edges``."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import read_rgb
from deage.edit.makeup import MakeupEditor, MakeupParams
from deage.edit.makeup.editor import _spare_crossing_edges
from deage.edit.makeup.shape import shape_flow
from deage.edit.makeup.texture import luminance
from deage.face.align import align_face
from deage.face.crossing_edges import _join, _segments
from deage.face.masks import face_regions
from facehelpers import hold_bar, largest_face

TEMPLATE = MakeupEditor.template


def _held(image: np.ndarray):
    held, bar = hold_bar(image, largest_face(image))
    aligned = align_face(held, largest_face(held), TEMPLATE, 512)
    on_bar = cv2.warpAffine(bar, aligned.matrix[:2].astype(np.float64), (512, 512)) > 0.5
    return aligned, on_bar


def _warp_inputs(aligned, years: float = 30):
    editor = MakeupEditor()
    work = editor.working_size(aligned)
    small = cv2.resize(aligned.image, (work, work), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    settings = MakeupParams(years=years).resolve()
    flow = shape_flow(aligned.landmarks, aligned.size, jaw_lift=settings.jaw_lift,
                      cheek_fullness=settings.cheek_fullness, eye_aperture=settings.eye_aperture,
                      lip_fullness=settings.lip_fullness, grid=editor.flow_grid)
    return flow, small, face_regions(aligned.image, aligned.landmarks, work, small=small)


@pytest.fixture(scope="module")
def held_faces(astronaut, shared_media):
    return {"astronaut": _held(astronaut),
            "source_s12": _held(read_rgb(shared_media / "source_s12.jpg")),
            "driving_d19": _held(read_rgb(shared_media / "driving_d19.jpg"))}


@pytest.mark.parametrize("name", ["astronaut", "source_s12", "driving_d19"])
def test_a_bar_held_to_the_chin_is_not_bent(held_faces, name):
    """30 years: before, the jaw lift and lip fullness moved the bar's edges by up to 7 px (a
    change of 7.7-12.8 levels on average along them, a third of their pixels over 8). Now the warp
    is stilled around them; what changes along them is the skin beside the bar being retouched."""
    aligned, on_bar = held_faces[name]
    result = MakeupEditor().edit(aligned, MakeupParams(years=30))
    flow = cv2.resize(np.hypot(*np.moveaxis(result.retouch.flow, -1, 0)), (512, 512), interpolation=cv2.INTER_LINEAR)
    assert flow[on_bar].max() < 0.4, flow[on_bar].max()  # crop pixels the warp moves the bar by (2.4-3.8 before)
    band = (cv2.dilate(on_bar.astype(np.uint8), np.ones((5, 5), np.uint8))
            - cv2.erode(on_bar.astype(np.uint8), np.ones((5, 5), np.uint8))) > 0
    change = np.abs(result.image.astype(np.int16) - aligned.image).max(-1)[band]
    assert change.mean() < 4.5 and (change > 8).mean() < 0.15, (change.mean(), (change > 8).mean())
    assert result.retouch.flow.max() > 1.0  # the rest of the face is still shaped


def test_the_bar_is_found_in_every_frame_of_a_moving_face(astronaut):
    """The face moves (shifted and turned a little, frame by frame) with the bar held to it: the
    bar is found fully on every frame, so its warp does not come and go between frames."""
    base_face = largest_face(astronaut)
    held, _ = hold_bar(astronaut, base_face)
    for step in range(5):
        angle, shift = 1.5 * step - 3.0, 3.0 * step
        matrix = cv2.getRotationMatrix2D((256.0, 256.0), angle, 1.0)
        matrix[:, 2] += (shift, -shift / 2)
        frame = cv2.warpAffine(held, matrix, (512, 512), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        aligned = align_face(frame, largest_face(frame), TEMPLATE, 512)
        flow, small, regions = _warp_inputs(aligned, years=10)
        stilled, _ = _spare_crossing_edges(flow, np.zeros(small.shape, np.float32), luminance(small), regions,
                                           aligned.landmarks)
        below_lip = aligned.landmarks[57] + np.array([0.0, 0.1 * regions.frame.eye_distance])
        cell = np.clip((below_lip / aligned.size * flow.shape[0]).astype(int), 0, flow.shape[0] - 1)
        moved = np.abs(flow[cell[1], cell[0]]).max()
        assert moved > 0.3  # the warp would move the chin here (crop pixels)...
        assert np.abs(stilled[cell[1], cell[0]]).max() < 0.1 * moved, step  # ...and is stilled on every frame


def test_a_bare_face_keeps_its_warp(astronaut, older_face, group_photo):
    """Nothing crosses a bare face's outline: its own jaw line, hair, collar and the lines behind
    it do not count, so the warp is exactly as before (on the astronaut, Grace Hopper and the six
    faces of insightface's group photo)."""
    from facehelpers import detect_faces

    faces = [(astronaut, largest_face(astronaut)), (older_face, largest_face(older_face))]
    faces += [(group_photo, face) for face in detect_faces(group_photo)]
    assert len(faces) == 8
    for image, face in faces:
        aligned = align_face(image, face, TEMPLATE, 512)
        flow, small, regions = _warp_inputs(aligned)
        delta = np.zeros(small.shape, np.float32)
        spared, cleared = _spare_crossing_edges(flow, delta, luminance(small), regions, aligned.landmarks)
        assert spared is flow and cleared is delta


def test_pieces_of_one_edge_are_joined_whatever_their_contrast():
    """A bar's edge that is darker than what is beside it above and lighter below (it crosses from
    skin onto a dark coat) comes out of LSD as two pieces; they are joined into one edge. A
    parallel edge a bar's width away is not joined to it."""
    gray = np.full((200, 200), 0.75, np.float32)
    gray[100:] = 0.1  # the coat
    gray[20:, 90:110] = 0.4  # the bar, lighter than the coat, darker than the skin
    edges = [e for e in _join(_segments(gray), eye_distance=60.0) if abs(e[0] - e[2]) < 2 and abs(e[1] - e[3]) > 100]
    assert len(edges) == 2, edges  # its left and its right edge, each whole
    assert np.allclose(sorted(float(e[0]) for e in edges), [89.5, 109.5], atol=1.0)  # the bar's sides
    for e in edges:
        assert min(e[1], e[3]) < 30 and max(e[1], e[3]) > 190
