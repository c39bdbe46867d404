"""The Look: validation, keyframes, JSON round trip, clear errors on corrupt presets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deage.errors import LookError
from deage.look import Look, default_look, interpolate, load_look, save_look, with_years


def test_interpolate_holds_outside_and_is_linear_between():
    keys = [[10, 0.0], [20, 10.0], [30, 10.0]]
    assert interpolate(keys, 0) == 0.0
    assert interpolate(keys, 15) == pytest.approx(5.0)
    assert interpolate(keys, 25) == pytest.approx(10.0)
    assert interpolate(keys, 99) == 10.0


def test_identity_look_round_trips_through_json(tmp_path):
    look = Look(name="plain", notes="n")
    path = save_look(look, tmp_path / "plain.json")
    again = load_look(path)
    assert again.to_dict() == look.to_dict()


def test_the_default_look_is_the_demos_and_validates():
    """What renders use when no look is given is what `make demo` renders: examples/looks/young10.json."""
    demo = load_look(Path(__file__).resolve().parents[1] / "examples" / "looks" / "young10.json")
    look = default_look()
    look.validate()
    assert look.to_dict() == demo.to_dict()
    assert look.editor == "makeup" and look.edit["years"] == 10
    assert default_look() is not default_look()  # a fresh copy each time: editing one never changes the next


def test_example_looks_validate_and_give_their_named_strength_on_frame_0():
    """A photo is frame 0: a look named "25 years younger" must give 25 there, not a keyframed
    ramp's start (young25 once ramped from 10, so a photo rendered with it got 10 years)."""
    looks = Path(__file__).resolve().parents[1] / "examples" / "looks"
    loaded = {path.stem: load_look(path) for path in sorted(looks.glob("*.json"))}
    assert {"young10", "young25", "subtle", "ramp_in"} <= set(loaded)
    for look in loaded.values():
        look.validate()
    assert loaded["young10"].at(0).edit["years"] == 10
    assert loaded["young25"].at(0).edit["years"] == loaded["young25"].at(500).edit["years"] == 25
    ramp = loaded["ramp_in"]
    assert [ramp.at(i).edit["years"] for i in (0, 12, 24, 100)] == pytest.approx([10, 17.5, 25, 25])


def test_keyframes_resolve_per_frame_and_set_key_replaces():
    look = Look(editor="identity")
    look.keyframes = {}
    look.set_key("blend.amount", 0, 0.0)
    look.set_key("blend.amount", 10, 1.0)
    look.set_key("blend.amount", 10, 0.5)  # replaces the key at 10
    assert look.keyframes["blend.amount"] == [[0, 0.0], [10, 0.5]]
    assert look.at(5).blend["amount"] == pytest.approx(0.25)
    assert look.keyed_frames() == [0, 10]
    look.remove_key("blend.amount", 0)
    look.remove_key("blend.amount", 10)
    assert "blend.amount" not in look.keyframes


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"editor": "nope"}', "unknown editor 'nope'"),
        ('{"colour": 1}', "unknown key"),
        ('{"version": 99}', "version 99"),
        ('{"faces": "everyone"}', "'faces' must be"),
        ('{"keyframes": {"edit.years": [[10, 1], [5, 2]]}}', "ascending"),
        ('{"keyframes": {"edit.years": [[10, "x"]]}}', "pair of numbers"),
        ('{"keyframes": {"years": [[0, 1]]}}', "must be 'edit.<param>'"),
        ('{"edit": {"strength": 1}}', "identity editor takes no parameters"),
    ],
)
def test_corrupt_or_invalid_look_raises_look_error_naming_file(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(LookError) as info:
        load_look(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_missing_look_file(tmp_path):
    with pytest.raises(LookError, match="not found"):
        load_look(tmp_path / "absent.json")


def test_save_look_never_leaves_partial_file(tmp_path):
    path = tmp_path / "keep.json"
    path.write_text(json.dumps(Look(name="old").to_dict()))
    bad = Look(editor="nope")
    with pytest.raises(LookError):
        save_look(bad, path)
    assert load_look(path).name == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.json"]


def test_relative_paths_resolve_against_the_look_files_folder(tmp_path):
    sub = tmp_path / "shot"
    sub.mkdir()
    (sub / "look.json").write_text(json.dumps({"faces": {"reference": "ref.jpg"}}))
    look = load_look(sub / "look.json")
    assert look.resolve_path(look.faces["reference"]) == (sub / "ref.jpg").resolve()
    assert look.resolve_path("/abs/x.jpg") == Path("/abs/x.jpg")
    assert Look().resolve_path("rel.jpg") == Path("rel.jpg")


def test_with_years_replaces_only_the_years():
    """``deage render --years N``: the look at N years, everything else kept, named for it; a look
    for another editor, one that keyframes its years, or years out of range are LookErrors."""
    young25 = load_look(Path(__file__).resolve().parents[1] / "examples" / "looks" / "young25.json")
    at20 = with_years(young25, 20)
    assert at20.edit == {"years": 20, "texture_keep": 0.9} and at20.blend == young25.blend
    assert at20.name == "20 years younger" and young25.edit["years"] == 25  # a copy
    named = with_years(Look(editor="makeup", edit={"years": 10}, name="warm key, subtle"), 7.5)
    assert named.name == "warm key, subtle, 7.5 years younger"
    with pytest.raises(LookError, match="'identity' editor"):
        with_years(Look(), 10)
    with pytest.raises(LookError, match="keyframes edit.years"):
        with_years(Look(editor="makeup", edit={"years": 5}, keyframes={"edit.years": [[0, 5], [10, 20]]}), 10)
    with pytest.raises(LookError, match="out of range"):
        with_years(default_look(), 45)
