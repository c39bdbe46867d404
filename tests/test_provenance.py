"""Provenance sidecars: written by every render, round-trip, catch tampering, name the models,
and the visible "AI-altered" label."""

from __future__ import annotations

import hashlib
import json
import re
import time

import numpy as np
import pytest

from deage.cli import main
from deage.errors import MediaError
from deage.look import Look
from deage.provenance import (
    check_provenance,
    hash_output,
    output_base_name,
    output_files,
    read_provenance,
    sidecar_path,
)
from deage.render import render_clip
from deage.review.burn_in import burn_in_label
from deage.video import open_clip

CONSENT = [{"person": "Eileen Collins (NASA portrait, public domain)", "use": "test render", "reference": "none"}]


@pytest.fixture
def identity_render(example_clip, tmp_path):
    out = tmp_path / "same.mkv"
    result = render_clip(example_clip, out, Look(name="plate", consent=CONSENT), frames=(2, 6), codec="ffv1",
                         operator="reviewer-1")
    return out, result


def test_sidecar_round_trips_everything_a_reviewer_needs(identity_render, example_clip):
    out, result = identity_render
    assert result.provenance == sidecar_path(out) == out.with_name("same.mkv.provenance.json")
    record = read_provenance(out)
    assert record == read_provenance(result.provenance)       # by output or by sidecar
    assert record["output"] == "same.mkv"
    assert record["output_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert record["output_files"] == 1
    with open_clip(example_clip) as clip:
        assert record["source_content_hash"] == clip.content_hash()
    assert record["frame_range"] == [2, 6]
    assert Look.from_dict(record["look"]) == Look(name="plate", consent=CONSENT)
    assert record["consent"] == CONSENT and record["operator"] == "reviewer-1"
    assert record["software"]["deage"] and record["software"]["av"]
    assert abs(time.mktime(time.strptime(record["time_utc"], "%Y-%m-%dT%H:%M:%SZ")) - time.mktime(time.gmtime())) < 600
    assert record["analysis"] is None                          # the identity look analyses nothing
    assert record["ai_altered_label"] is False


def test_tampering_changes_the_hash_check(identity_render, capsys):
    out, _ = identity_render
    assert check_provenance(out) is True
    assert main(["provenance", str(out)]) == 0
    printed = capsys.readouterr()
    assert json.loads(printed.out)["frame_range"] == [2, 6] and "OK" in printed.err
    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 0x01                                # one bit, mid-file
    out.write_bytes(bytes(data))
    assert check_provenance(out) is False
    assert main(["provenance", str(out)]) == 1
    assert "MISMATCH" in capsys.readouterr().err


def test_sequence_output_is_hashed_frame_by_frame(example_clip, tmp_path):
    out = tmp_path / "shot.####.png"
    result = render_clip(example_clip, out, Look(), frames=(0, 3))
    files = output_files(out)
    assert [f.name for f in files] == ["shot.1001.png", "shot.1002.png", "shot.1003.png"]
    assert output_base_name(out) == output_base_name(tmp_path / "shot.%04d.png") == "shot.png"
    assert result.provenance == tmp_path / "shot.png.provenance.json"
    record = read_provenance(tmp_path / "shot.1002.png")     # any frame finds the sequence's sidecar
    assert record["output_files"] == 3 and record["first_frame_number"] == 1001
    assert record["output_sha256"] == hash_output(tmp_path / "shot.%04d.png")
    assert check_provenance(out)
    (tmp_path / "shot.1003.png").unlink()                      # a lost frame is a changed output
    assert not check_provenance(out)


def test_face_render_records_analysis_models_with_hashes(example_clip, tmp_path):
    out = tmp_path / "young.mkv"
    render_clip(example_clip, out, Look(editor="makeup", edit={"years": 10}, burn_in=True), frames=(0, 2),
                codec="ffv1")
    record = read_provenance(out)
    models = {m["name"]: m for m in record["analysis"]["models"]}
    assert models["dlib_landmarks68"]["file"] == "shape_predictor_68_face_landmarks.dat"
    assert re.fullmatch(r"[0-9a-f]{64}", models["dlib_landmarks68"]["sha256"])
    assert models["dlib_descriptor"]["role"] == "recognizer"
    assert "dlib_cnn_detector" not in models  # a clip: only on photos by default
    assert record["analysis"]["settings"]["detector"] == "dlib"
    assert record["ai_altered_label"] is True and record["editor"] == "makeup"


def test_editor_provenance_is_recorded(identity_render, example_clip):
    """Wiring: an editor's own ``provenance()`` (the face swap's sources and models) reaches the sidecar."""
    from deage.provenance import write_provenance

    out, result = identity_render

    class SwapLike:
        def provenance(self):
            return {"swap_sources": [{"file": "actor.jpg", "consent": "ref-42"}],
                    "models": [{"role": "swapper", "name": "inswapper_128", "sha256": "ab" * 32}]}

    class Broken:
        def provenance(self):
            raise RuntimeError("no state")

    write_provenance(result, source=example_clip, look=Look(), editor=SwapLike(),
                     models=[{"role": "editor", "name": "x"}])
    record = read_provenance(out)
    assert [m["name"] for m in record["models"]] == ["x", "inswapper_128"]
    assert record["editor_details"] == {"swap_sources": [{"file": "actor.jpg", "consent": "ref-42"}]}
    write_provenance(result, source=example_clip, look=Look(), editor=Broken())
    assert "no state" in read_provenance(out)["editor_details"]["error"]
    assert check_provenance(out)


def test_burn_in_label_is_visible_and_local(example_clip, tmp_path):
    with open_clip(example_clip) as clip:
        frame = clip.read(0)
    labelled = burn_in_label(frame)
    changed = np.any(labelled != frame, axis=2)
    ys, xs = np.nonzero(changed)
    h, w = frame.shape[:2]
    assert ys.min() > 0.8 * h and xs.max() < 0.35 * w         # bottom-left only
    box = labelled[ys.min():ys.max() + 1, xs.min():xs.max() + 1].astype(int)
    assert (box.min(axis=2) > 230).sum() > 200                # white text pixels
    assert box.mean() < frame[ys.min():ys.max() + 1, xs.min():xs.max() + 1].mean()   # on a darkened box
    small = burn_in_label(np.full((360, 640, 3), 128, np.uint8))
    assert np.any(small != 128)                               # still drawn on a small frame


def test_missing_or_corrupt_sidecar_is_one_clear_error(tmp_path, identity_render):
    out, result = identity_render
    lonely = tmp_path / "lonely.mp4"
    lonely.write_bytes(b"x")
    with pytest.raises(MediaError, match="lonely.mp4: no provenance sidecar found"):
        read_provenance(lonely)
    result.provenance.write_text("{not json")
    with pytest.raises(MediaError, match="corrupt provenance sidecar"):
        read_provenance(out)
    result.provenance.write_text(json.dumps({"kind": "something else"}))
    with pytest.raises(MediaError, match="not a deage provenance sidecar"):
        check_provenance(out)

