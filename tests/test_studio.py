"""The notebook studio: controls introspected from the params classes, views, the preview engine
(caching, parity with the render, coalescing of rapid changes) and the ipywidgets panels driven
from code (no browser; see test_browser.py for JupyterLab + Chromium)."""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from deage.errors import DeageError, LookError
from deage.face.analysis import analyse_clip
from deage.look import Look
from deage.preview import LatestWins, PreviewEngine
from deage.render import FrameRenderer
from deage.studio import controls as ctl
from deage.studio import views

from conftest import _load_example_module, insightface_image_path, read_rgb

# ---------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory) -> Path:
    """12 frames of the real-face example clip (1280x720, 24 fps, with audio)."""
    path = tmp_path_factory.mktemp("studio") / "shot.mp4"
    return _load_example_module().make_example_clip(path, seconds=0.5)


@pytest.fixture(scope="module")
def short_analysis(short_clip, tmp_path_factory):
    return analyse_clip(short_clip, cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def group_clip(tmp_path_factory) -> Path:
    """3 frames of insightface's group photo (6 faces), slowly panning, as an mp4."""
    from deage.video import ClipWriter

    photo = read_rgb(insightface_image_path("t1.jpg"))
    h, w = photo.shape[:2]
    h, w = h - h % 2 - 8, w - w % 2 - 8
    path = tmp_path_factory.mktemp("group") / "group.mp4"
    with ClipWriter(path, fps=Fraction(24), width=w, height=h, codec="h264") as out:
        for i in range(3):
            out.write(np.ascontiguousarray(photo[2 * i:2 * i + h, 2 * i:2 * i + w]))
    return path


MAKEUP = Look(editor="makeup", edit={"years": 20.0})


# ---------------------------------------------------------------------------------- controls


def test_swap_choices_are_menus_of_the_params_own_values():
    from deage.edit.swap import params as swap

    controls = {c.key: c for c in ctl.editor_controls("swap")}
    for key, values in (("eyes", swap.EYES), ("gaze", swap.GAZES), ("mouth", swap.MOUTHS),
                        ("backend", swap.BACKENDS)):
        assert (controls[f"edit.{key}"].kind, controls[f"edit.{key}"].choices) == ("choice", values)


def test_makeup_and_blend_get_a_control_per_parameter():
    controls = {c.key: c for c in ctl.editor_controls("makeup") + ctl.blend_controls()}
    years = controls["edit.years"]
    assert (years.kind, years.low, years.high, years.unit) == ("float", 0.0, 30.0, "years")
    assert years.help.startswith("how many years younger")  # from the params docstring
    # every wrinkle region of the masks module gets an optional ("auto") slider
    from deage.face.masks import WRINKLE_REGIONS

    for region in WRINKLE_REGIONS:
        c = controls[f"edit.wrinkles.{region}"]
        assert c.optional and (c.low, c.high) == (0.0, 1.0)
    assert (controls["edit.texture_keep"].low, controls["edit.texture_keep"].high) == (0.0, 2.0)
    assert controls["edit.under_eye"].optional
    target = controls["edit.target_age"]                    # beside years, on the look tab; auto = off
    assert target.optional and (target.low, target.high, target.unit, target.group) == (1.0, 80.0, "years", "look")
    from deage.blend.params import COLOUR_MATCHES, MODES

    assert controls["blend.mode"].kind == "choice" and controls["blend.mode"].choices == MODES
    assert controls["blend.colour_match"].choices == COLOUR_MATCHES
    assert controls["blend.feather"].unit == "px@512" and controls["blend.amount"].high == 1.0
    assert not controls["blend.mode"].keyable and years.keyable


def test_a_new_parameter_gets_a_control_from_its_metadata():
    @dataclass(frozen=True)
    class FancyParams:
        """A params class the studio has never seen.

        Attributes:
            glow: how much glow, in stops,
                spanning two lines.
            flavour: which flavour.
            crisp: sharpen or not.
            maybe: optional amount.
        """

        glow: float = field(default=1.0, metadata={"range": (0.0, 4.0), "unit": "stops", "step": 0.25})
        flavour: str = field(default="a", metadata={"choices": ("a", "b")})
        crisp: bool = False
        maybe: float | None = None
        ignored: tuple[int, ...] = ()

    controls = {c.name: c for c in ctl.controls_for(FancyParams, "edit")}
    assert set(controls) == {"glow", "flavour", "crisp", "maybe"}
    glow = controls["glow"]
    assert (glow.low, glow.high, glow.step, glow.unit) == (0.0, 4.0, 0.25, "stops")
    assert controls["glow"].help == "how much glow, in stops, spanning two lines."
    assert controls["flavour"].choices == ("a", "b") and controls["crisp"].kind == "bool"
    assert controls["maybe"].optional and (controls["maybe"].low, controls["maybe"].high) == (0.0, 1.0)


def test_values_round_trip_through_the_look_and_the_params_class():
    from deage.edit.makeup.params import MakeupParams

    controls = {c.key: c for c in ctl.editor_controls("makeup")}
    look = copy.deepcopy(MAKEUP)
    ctl.set_value(look, controls["edit.wrinkles.forehead"], 0.3)
    ctl.set_value(look, controls["edit.under_eye"], 0.9)
    assert look.edit == {"years": 20.0, "wrinkles": {"forehead": 0.3}, "under_eye": 0.9}
    params = MakeupParams.from_dict(look.edit)
    assert params.wrinkles == {"forehead": 0.3} and params.under_eye == 0.9
    assert ctl.get_value(look, controls["edit.wrinkles.forehead"]) == 0.3
    # a keyframed nested value resolves through Look.at in the flat form; get_value reads both
    look.set_key("edit.wrinkles.forehead", 0, 0.1)
    assert ctl.get_value(look.at(0), controls["edit.wrinkles.forehead"]) == pytest.approx(0.1)
    ctl.set_value(look, controls["edit.wrinkles.forehead"], None)
    ctl.set_value(look, controls["edit.under_eye"], None)
    assert look.edit == {"years": 20.0}
    # "auto" shows what the preset curve resolves to
    expected = MakeupParams(years=20.0).resolve().under_eye
    assert ctl.resolved_value(look, controls["edit.under_eye"]) == pytest.approx(expected) and expected > 0


# ---------------------------------------------------------------------------------- views


@pytest.mark.parametrize("index, fps, text", [
    (0, 24, "00:00:00:00"), (47, 24, "00:00:01:23"), (24 * 3600 + 5, 24, "01:00:00:05"),
    (50, 25, "00:00:02:00"), (1800, Fraction(30000, 1001), "00:01:00;02"),
    (17982, Fraction(30000, 1001), "00:10:00;00"), (1799, 29.97, "00:00:59;29"),
    (100, Fraction(24000, 1001), "00:00:04:04"),
])
def test_timecode(index, fps, text):
    assert views.timecode(index, fps) == text


def test_before_after_views(astronaut):
    before = astronaut
    after = before.copy()
    after[200:260, 200:260] = 255 - after[200:260, 200:260]
    assert views.side_by_side(before, after).shape == (512, 1028, 3)
    wiped = views.wipe(before, after, 0.25)
    assert np.array_equal(wiped[:, :120], before[:, :120]) and np.array_equal(wiped[:, 140:], after[:, 140:])
    heat = views.difference_map(before, after)
    grey = (views.difference_map(before, before)).astype(int)
    assert heat[220:240, 220:240].mean() > 3 * grey[220:240, 220:240].mean()  # changed: bright
    assert np.array_equal(heat[:100, :100], grey[:100, :100])  # unchanged: the dimmed frame
    with pytest.raises(ValueError, match="unknown view"):
        views.compose("sideways", before, after)


def test_overlays_region_and_timeline(astronaut):
    from facehelpers import largest_face

    face = largest_face(astronaut)
    shown = views.draw_overlays(astronaut, {1: face}, [1], landmarks=True)
    x, y = np.round(face.landmarks[30]).astype(int)
    assert tuple(shown[y, x]) == views.SELECTED and not np.array_equal(shown, astronaut)
    x0, y0, x1, y1 = views.face_region([face], astronaut.shape)
    assert 0 <= x0 < face.box[0] and 0 <= y0 < face.box[1] and face.box[2] < x1 <= 512 and face.box[3] < y1 <= 512
    bar = views.timeline_html(48, 10, keyed=[0, 24, 47], no_face=[30, 31, 32])
    assert bar.count('class="deage-key"') == 3 and "no face: frames 30-32" in bar


# ---------------------------------------------------------------------------------- coalescing


def test_latest_wins_collapses_a_burst_and_ends_on_the_last_value():
    seen: list[int] = []
    results: list[int] = []
    gate = threading.Event()

    def work(value: int) -> int:
        gate.wait(5)
        seen.append(value)
        time.sleep(0.02)
        return value * 10

    worker = LatestWins(work, lambda done: results.append(done.result))
    n = 40
    for value in range(n):
        worker.submit(value)
    gate.set()
    assert worker.wait(10)
    assert seen[-1] == n - 1 and results[-1] == (n - 1) * 10
    assert worker.runs < n and worker.runs == len(seen) <= 2
    assert seen == sorted(seen)  # never goes back to an older value
    worker.submit(-1)
    worker.wait(5)
    worker.close()


def test_latest_wins_reports_errors_and_keeps_working():
    def work(value: int) -> int:
        if value < 0:
            raise LookError("bad value")
        return value

    worker = LatestWins(work)
    worker.submit(-1)
    worker.wait(5)
    assert isinstance(worker.last.error, LookError) and worker.last.result is None
    worker.submit(3)
    worker.wait(5)
    assert worker.last.error is None and worker.last.result == 3
    worker.close()


# ---------------------------------------------------------------------------------- preview engine


def test_preview_equals_the_render_and_reuses_its_caches(short_clip, short_analysis):
    engine = PreviewEngine(short_clip, short_analysis, MAKEUP)
    first = engine.render(5)
    assert first.selected == [1] and not first.cached["decode"]
    reference, mattes = FrameRenderer(MAKEUP, analysis=short_analysis).render(engine.frame(5), 5,
                                                                             short_analysis.faces_at(5))
    assert np.array_equal(first.after, reference) and np.array_equal(first.mattes[1], mattes[0])
    assert np.abs(first.after.astype(int) - first.before).max() > 20  # the face was edited

    look = copy.deepcopy(MAKEUP)
    look.edit["years"] = 28.0
    engine.set_look(look)
    second = engine.render(5)
    assert second.cached == {"decode": True, "align": True, "edit": False}
    assert not np.array_equal(second.after, first.after)

    look.blend["feather"] = 20.0  # a blend-only change re-uses the edit
    engine.set_look(look)
    third = engine.render(5)
    assert third.cached == {"decode": True, "align": True, "edit": True}
    reference, _ = FrameRenderer(look, analysis=short_analysis).render(engine.frame(5), 5, short_analysis.faces_at(5))
    assert np.array_equal(third.after, reference)
    engine.close()


def test_preview_applies_keyframes_and_face_choice(short_clip, short_analysis):
    look = copy.deepcopy(MAKEUP)
    look.set_key("edit.years", 0, 0.0)
    look.set_key("edit.years", 10, 30.0)
    engine = PreviewEngine(short_clip, short_analysis, look)
    result = engine.render(5)
    assert result.look.edit["years"] == pytest.approx(15.0)
    flat = copy.deepcopy(MAKEUP)
    flat.edit["years"] = 15.0
    reference, _ = FrameRenderer(flat, analysis=short_analysis).render(engine.frame(5), 5, short_analysis.faces_at(5))
    assert np.array_equal(result.after, reference)
    assert np.array_equal(engine.render(0).after, engine.frame(0))  # 0 years: no change
    engine.set_tracks([])
    untouched = engine.render(5)
    assert untouched.selected == [] and np.array_equal(untouched.after, untouched.before)
    with pytest.raises(DeageError, match="out of range"):
        engine.render(99)
    engine.close()


def test_preview_shows_the_burn_in_label_the_render_stamps(short_clip, short_analysis):
    from deage.review.burn_in import burn_in_label

    look = copy.deepcopy(MAKEUP)
    look.burn_in = True
    engine = PreviewEngine(short_clip, short_analysis, look)
    edited, _ = FrameRenderer(look, analysis=short_analysis).render(engine.frame(2), 2, short_analysis.faces_at(2))
    assert np.array_equal(engine.render(2).after, burn_in_label(edited))
    engine.close()


def test_preview_on_the_torch_path_equals_the_render(short_clip, short_analysis):
    """The GPU code path (run on the CPU here): the preview draws with the renderer's torch code."""
    torch = pytest.importorskip("torch")
    device = torch.device("cpu")
    engine = PreviewEngine(short_clip, short_analysis, MAKEUP, device=device)
    result = engine.render(4)
    reference, _ = FrameRenderer(MAKEUP, analysis=short_analysis, device=device).render(
        engine.frame(4).copy(), 4, short_analysis.faces_at(4))
    assert result.selected == [1] and np.array_equal(result.after, reference)
    assert not np.array_equal(result.after, result.before)
    engine.close()


def test_preview_of_several_faces_equals_the_render(group_clip, tmp_path):
    analysis = analyse_clip(group_clip, cache_dir=tmp_path)
    assert len(analysis.tracks) >= 4
    engine = PreviewEngine(group_clip, analysis, MAKEUP)
    result = engine.render(1)
    reference, _ = FrameRenderer(MAKEUP, analysis=analysis).render(engine.frame(1), 1, analysis.faces_at(1))
    assert len(result.selected) == len(analysis.faces_at(1)) and np.array_equal(result.after, reference)
    engine.close()


def test_a_burst_of_slider_changes_renders_fewer_times_and_ends_on_the_last_value(short_clip, short_analysis):
    """N rapid changes through the worker: fewer than N renders, and the preview shown last is the
    last value's (compared with a fresh render of that value)."""
    engine = PreviewEngine(short_clip, short_analysis, MAKEUP)
    shown = []

    def work(look: Look):
        engine.set_look(look)
        return engine.render(3)

    worker = LatestWins(work, lambda done: shown.append(done.result))
    n = 15
    for i in range(n):
        look = copy.deepcopy(MAKEUP)
        look.edit["years"] = 10.0 + i
        worker.submit(look)
    assert worker.wait(60)
    assert worker.runs < n
    assert shown[-1].look.edit["years"] == 10.0 + n - 1
    last = copy.deepcopy(MAKEUP)
    last.edit["years"] = 10.0 + n - 1
    reference, _ = FrameRenderer(last, analysis=short_analysis).render(engine.frame(3), 3, short_analysis.faces_at(3))
    assert np.array_equal(shown[-1].after, reference)
    worker.close()
    engine.close()


# ---------------------------------------------------------------------------------- studio widgets


@pytest.fixture()
def studio(short_clip, short_analysis, tmp_path):
    from deage.studio import Studio

    s = Studio(short_clip, look=copy.deepcopy(MAKEUP), analysis=short_analysis, output_dir=tmp_path / "out")
    yield s
    s.close()


def test_studio_slider_redraws_the_preview(studio, artifacts_dir):
    first = studio.refresh()
    image = studio.image.value
    assert bytes(image[:2]) == b"\xff\xd8" and "frame 0 · 1 face edited" in studio.status.value
    row = studio.controls.rows["edit.years"]
    row.value.value = 28.0  # as a person moves the slider
    second = studio.refresh()
    assert studio.look.edit["years"] == 28.0 and second.look.edit["years"] == 28.0
    assert studio.image.value != image and not np.array_equal(second.after, first.after)
    studio.view.value = "difference"
    studio.refresh()
    assert studio.image.value != image
    studio.view.value = "side by side"
    studio.zoom.value = "face"
    studio.overlay_masks.value = True
    import cv2

    picture = studio.picture(studio.refresh())
    cv2.imwrite(str(artifacts_dir / "studio_side_by_side_face.png"), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))


def test_studio_shows_how_old_the_edited_face_looks_before_and_after(studio):
    studio.refresh()
    assert "looks" not in studio.status.value  # off by default
    studio.age.value = True
    result = studio.refresh()
    (before, after), = studio.apparent_ages(result)
    assert 15 < before < 70 and after < before           # the de-aged face looks younger
    assert f"looks {before:.1f} → {after:.1f}" in studio.status.value
    studio.view.value = "difference"                      # a redraw reuses the measurement
    studio.refresh()
    assert f"looks {before:.1f} → {after:.1f}" in studio.status.value


def test_studio_collapses_a_burst_of_slider_moves(studio):
    """A person dragging the slider: 20 values arrive faster than previews are drawn."""
    studio.refresh()
    runs = studio._worker.runs
    row = studio.controls.rows["edit.years"]
    for i in range(20):
        row.value.value = 5.0 + i
    result = studio.refresh()
    assert result.look.edit["years"] == 24.0 and studio.look.edit["years"] == 24.0
    assert studio._worker.runs - runs < 20


def test_studio_keyframes(studio):
    studio.set_key("edit.years", 0, 0.0)
    studio.set_key("edit.years", 10, 30.0)
    studio.set_frame(5)
    row = studio.controls.rows["edit.years"]
    assert row.value.value == pytest.approx(15.0) and row.key.description == "◈"
    assert studio.refresh().look.edit["years"] == pytest.approx(15.0)
    row.value.value = 12.0  # moving a keyed parameter keys it at this frame
    assert studio.look.keyframes["edit.years"] == [[0, 0.0], [5, 12.0], [10, 30.0]]
    assert row.key.description == "◆" and studio.look.keyed_frames() == [0, 5, 10]
    assert studio.scrubber.timeline.value.count('class="deage-key"') == 3
    row.key.click()  # removes the key here
    assert studio.look.keyframes["edit.years"] == [[0, 0.0], [10, 30.0]]
    studio.scrubber.jump_key(+1)
    assert studio.frame == 10 and row.value.value == pytest.approx(30.0)
    assert "00:00:00:10" in studio.scrubber.label.value


def test_studio_auto_override_face_choice_and_editor(studio, short_analysis):
    studio.set("edit.under_eye", 0.8)
    assert studio.look.edit["under_eye"] == 0.8
    studio.set("edit.under_eye", None)
    assert "under_eye" not in studio.look.edit and studio.controls.rows["edit.under_eye"].value.disabled
    box = studio.faces.boxes[1]
    box.value = False
    assert studio.look.faces == "all"  # nothing ticked falls back to every face, said on the status line
    assert "no face ticked" in studio.status.value
    studio.burn_in.value = True
    assert studio.look.burn_in
    studio.controls.editor.value = "identity"
    assert studio.look.editor == "identity" and studio.look.edit == {}
    studio.burn_in.value = False
    result = studio.refresh()
    assert np.array_equal(result.after, result.before)


def test_studio_auto_values_follow_the_edited_faces_apparent_age(short_clip, short_analysis, tmp_path):
    """The "auto" sliders show what the preset gives the face being edited: hollows on a face that
    looks 62, no lip or eye work on one that looks 8 (as the render does), not an adult's of
    unknown age. The ages are set by hand here to pin the two cases; the preview measures them."""
    import dataclasses

    from deage.edit.makeup.params import MakeupParams
    from deage.studio import Studio

    track = short_analysis.tracks[0].track_id
    analysis = dataclasses.replace(short_analysis, apparent_ages={track: 62.0})
    studio = Studio(short_clip, look=copy.deepcopy(MAKEUP), analysis=analysis, output_dir=tmp_path / "out")
    try:
        hollows, lips = studio.controls.rows["edit.hollows"], studio.controls.rows["edit.lip_fullness"]
        studio.refresh()
        older = MakeupParams(years=20.0).for_apparent_age(62.0).resolve()
        assert older.hollows > 0.2 and hollows.value.value == pytest.approx(older.hollows, abs=0.01)
        assert hollows.auto.value and hollows.value.disabled and "hollows" not in studio.look.edit
        assert f"face {track}, who looks 62" in studio.controls.age_note.value
        assert "looks 62" in studio.faces.infos[track].value  # and on the face's card
        studio.set_key("edit.hollows", 0)  # a key holds the value shown
        assert studio.look.keyframes["edit.hollows"] == [[0, pytest.approx(older.hollows, abs=1e-3)]]
        studio.controls.toggle_key("edit.hollows", 0)  # removing the last key keeps it as a value
        studio.set("edit.hollows", None)
        analysis.apparent_ages[track] = 8.0
        studio.refresh()
        assert hollows.value.value == 0.0 and lips.value.value == 0.0
        assert MakeupParams(years=20.0).resolve().lip_fullness > 0.05  # what an adult would get
        assert "who looks 8" in studio.controls.age_note.value
        analysis.apparent_ages.clear()  # the next preview drawn measures her (an adult) itself
        studio.set_frame(1)
        studio.refresh()
        age = analysis.apparent_ages[track]
        assert 20 < age < 60 and f"who looks {age:.0f}" in studio.controls.age_note.value
        assert lips.value.value == pytest.approx(MakeupParams(years=20.0).resolve().lip_fullness, abs=0.01)
    finally:
        studio.close()


def test_studio_look_save_load_and_errors(studio, tmp_path):
    studio.set("edit.years", 17.5)
    studio.set_key("edit.years", 2, 5.0)
    saved = studio.save_look(tmp_path / "shot.look.json")
    studio.set("edit.years", 3.0)
    loaded = studio.load_look(saved)
    assert loaded.keyframes == {"edit.years": [[2, 5.0]]} and studio.look.to_dict() == loaded.to_dict()
    bad = tmp_path / "bad.json"
    bad.write_text('{"editor": "makeup", "edit": {"years": 99}}')
    with pytest.raises(LookError, match="out of range"):
        studio.load_look(bad)
    assert "deage-status-error" in studio.status.value and "bad.json" in studio.status.value
    assert studio.look.to_dict() == loaded.to_dict()  # a bad file changes nothing


def test_studio_render_shows_progress_and_the_video(studio):
    result = studio.render(frames=(0, 3))
    assert result.frames == 3 and result.output.is_file() and result.faces_edited == 3
    assert studio.render_panel.progress.value == studio.render_panel.progress.max == 3
    assert studio.render_panel.video.value == result.output.read_bytes()
    assert "rendered" in studio.status.value
    from deage.studio import ComparePanel

    panel = ComparePanel(studio.path, result.output)
    assert panel.offset == 0
    stats = panel.refresh()
    assert stats["max"] > 20 and panel.image.value[:2] == b"\xff\xd8"
    panel.close()
    with pytest.raises(DeageError, match="same as the input"):
        studio.render(studio.path, frames=(0, 1))


def test_studio_mask_models_menu(studio, tmp_path, monkeypatch):
    """The masks tab lists the occluders whose files are in the weights folder (a stand-in here:
    wiring, not accuracy); picking one puts it in the look and the preview renders with it,
    "none" takes it out."""
    import warnings

    from deage.weights import UnverifiedWeightsWarning
    from standins import xseg_model

    xseg_model(tmp_path / "w" / "xseg_1.onnx", "left_cheek")
    monkeypatch.setenv("DEAGE_WEIGHTS", str(tmp_path / "w"))
    before = studio.refresh()
    studio.controls.set_look(studio.look)  # re-reads the folder
    menu = studio.controls.masks["occluder"]
    assert [v for _, v in menu.options] == ["", "xseg_1"] and menu.value == ""
    assert [v for _, v in studio.controls.masks["parser"].options] == [""]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnverifiedWeightsWarning)
        menu.value = "xseg_1"
        assert studio.look.masks == {"occluder": "xseg_1"}
        covered = studio.refresh()
    assert covered.look.masks == {"occluder": "xseg_1"}
    assert not np.array_equal(covered.after, before.after)  # the covered cheek is left alone
    menu.value = ""
    assert studio.look.masks == {} and np.array_equal(studio.refresh().after, before.after)
