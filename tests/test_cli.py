"""The `deage` command: info, identity render that reproduces the input, and one-line errors (exit 2)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from deage.cli import main
from deage.errors import DeageError
from deage.video import open_clip


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deage.cli", *args], capture_output=True, text=True, timeout=300)


def test_info_json_describes_the_clip(example_clip, capsys):
    assert main(["info", str(example_clip), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["width"], info["height"]) == (1280, 720)
    assert info["frame_count"] == 48
    assert info["has_audio"] is True


def test_info_names_a_clips_yuv_colour_and_an_images_rgb(example_clip, astronaut, tmp_path, capsys):
    """The human ``colour`` line: the YUV matrix and range of an H.264 clip; for an RGB image,
    that it has none (it used to print the tags a YUV render would use, "limited range")."""
    from PIL import Image

    assert main(["info", str(example_clip)]) == 0
    assert "BT.709 matrix" in capsys.readouterr().out
    for name in ("photo.png", "photo.jpg"):
        Image.fromarray(astronaut).save(tmp_path / name)
        assert main(["info", str(tmp_path / name)]) == 0
        line = next(li for li in capsys.readouterr().out.splitlines() if li.startswith("colour"))
        assert "RGB values" in line and "limited" not in line


def test_identity_render_reproduces_input_frame_for_frame(example_clip, tmp_path, capsys):
    out = tmp_path / "same.mkv"
    assert main(["render", str(example_clip), "-o", str(out), "--codec", "ffv1", "--look", "identity"]) == 0
    assert str(out) in capsys.readouterr().out
    with open_clip(example_clip) as src, open_clip(out) as dst:
        assert len(src) == len(dst)
        assert dst.info.fps == src.info.fps
        assert dst.info.has_audio
        for a, b in zip(src.frames(), dst.frames()):
            np.testing.assert_array_equal(a, b)
    assert (tmp_path / "same.mkv.provenance.json").is_file()


def test_identity_render_of_a_frame_range_to_mp4(example_clip, tmp_path):
    out = tmp_path / "range.mp4"
    assert main(["render", str(example_clip), "-o", str(out), "--frames", "10:22", "--look", "identity"]) == 0
    with open_clip(example_clip) as src, open_clip(out) as dst:
        assert len(dst) == 12
        for a, b in zip(src.frames(10, 22), dst.frames()):
            mse = np.mean((a.astype(np.float64) - b) ** 2)
            assert 10 * np.log10(255**2 / max(mse, 1e-9)) > 40
    # the last frames, counted from the end, written as a shell user would (not --frames=-3:)
    tail = tmp_path / "tail.mp4"
    assert main(["render", str(example_clip), "-o", str(tail), "--frames", "-3:", "--look", "identity"]) == 0
    with open_clip(example_clip) as src, open_clip(tail) as dst:
        assert len(dst) == 3
        mse = np.mean((next(src.frames(len(src) - 1)).astype(np.float64) - next(dst.frames(2))) ** 2)
        assert 10 * np.log10(255**2 / max(mse, 1e-9)) > 40


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda d, clip: ["info", str(d / "missing.mp4")], "missing.mp4"),
        (lambda d, clip: ["render", str(clip), "-o", str(clip)], "same as the input"),
        (lambda d, clip: ["render", str(clip), "-o", str(d / "no" / "such" / "out.mp4")], "does not exist"),
        (lambda d, clip: ["render", str(clip), "-o", str(d / "o.mp4"), "--frames", "40:999"], "frame range"),
        (lambda d, clip: ["render", str(clip), "-o", str(d / "o.mp4"), "--look", str(d / "nolook.json")], "nolook.json"),
        (lambda d, clip: ["render", str(clip), "-o", str(d / "still.png")], "one image cannot hold"),
        (lambda d, clip: ["render", str(clip), "-o", str(d / "o.mp4"), "--years", "45"], "out of range"),
        (lambda d, clip: ["render", str(clip), "-o", str(d / "o.mp4"), "--look", "identity", "--years", "5"],
         "makeup editor"),
    ],
    ids=["missing-input", "output-is-input", "missing-output-folder", "bad-range", "missing-look", "clip-to-one-image",
         "years-out-of-range", "years-without-makeup"],
)
def test_bad_input_is_one_line_exit_2_without_traceback(example_clip, tmp_path, make_args, message):
    proc = run_cli(*make_args(tmp_path, example_clip))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("deage: ") and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_debug_flag_shows_traceback(tmp_path):
    proc = run_cli("--debug", "info", str(tmp_path / "missing.mp4"))
    assert proc.returncode == 2
    assert "Traceback" in proc.stderr


def test_corrupt_file_names_the_file(tmp_path):
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(b"\x00\x01not a video" * 100)
    proc = run_cli("info", str(bad))
    assert proc.returncode == 2
    assert "corrupt.mp4" in proc.stderr and "Traceback" not in proc.stderr


def test_render_never_overwrites_input_and_leaves_no_partial_file(example_clip, tmp_path):
    before = Path(example_clip).read_bytes()
    proc = run_cli("render", str(example_clip), "-o", str(tmp_path / "x.mp4"), "--look", str(tmp_path / "absent.json"))
    assert proc.returncode == 2
    assert Path(example_clip).read_bytes() == before
    assert not any(p.name.startswith(".x") or p.name == "x.mp4" for p in tmp_path.iterdir())


def test_weights_verify_reports_missing_file_with_where_to_get_it(tmp_path, capsys):
    assert main(["weights", "verify", "pfld_68", "--weights-dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "missing" in out and "pfld_landmarks.onnx" in out and "get it from" in out


def test_weights_verify_accepts_the_real_file(shared_models, capsys):
    assert main(["weights", "verify", "pfld_68", "--weights-dir", str(shared_models)]) == 0
    assert " ok " in capsys.readouterr().out


def test_weights_verify_rejects_a_wrong_file(tmp_path, capsys):
    (tmp_path / "pfld_landmarks.onnx").write_bytes(b"not the model")
    assert main(["weights", "verify", "pfld_68", "--weights-dir", str(tmp_path)]) == 1
    assert "mismatch" in capsys.readouterr().out


def test_weights_unknown_model_is_a_clear_error():
    proc = run_cli("weights", "list", "no_such_model")
    assert proc.returncode == 2 and "no_such_model" in proc.stderr


def test_sequence_output_starts_at_the_chosen_first_frame(example_clip, tmp_path):
    pattern = tmp_path / "shot.####.png"
    assert main(["render", str(example_clip), "-o", str(pattern), "--frames", "0:3", "--first-frame", "1001",
                 "--look", "identity"]) == 0
    assert sorted(p.name for p in tmp_path.glob("shot.*.png")) == ["shot.1001.png", "shot.1002.png", "shot.1003.png"]
    with open_clip(tmp_path / "shot.1002.png") as clip:
        assert (clip.info.first_frame_number, len(clip), clip.info.bit_depth) == (1001, 3, 16)


def test_photo_in_photo_out(astronaut, tmp_path):
    """A photo renders to one image (PNG or JPEG): the face changes, the background stays."""
    import cv2

    from deage.face.analysis import analyse_clip

    photo = tmp_path / "portrait.png"
    cv2.imwrite(str(photo), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    look = Path(__file__).resolve().parents[1] / "examples" / "looks" / "young25.json"
    out_png, out_jpg = tmp_path / "young.png", tmp_path / "young.jpg"
    assert main(["render", str(photo), "-o", str(out_png), "--look", str(look)]) == 0
    assert main(["render", str(photo), "-o", str(out_jpg), "--look", str(look)]) == 0
    assert sorted(p.name for p in tmp_path.glob("young*")) == [
        "young.jpg", "young.jpg.provenance.json", "young.png", "young.png.provenance.json"]
    with open_clip(out_png) as clip:
        assert len(clip) == 1
        result = clip.read(0)
    with open_clip(out_jpg) as clip:
        jpeg = clip.read(0)
    assert result.shape == jpeg.shape == astronaut.shape and result.dtype == np.uint8
    face = analyse_clip(photo, use_cache=False).faces_at(0)
    (x0, y0, x1, y1), = [f.box for f in face.values()]
    w, h = x1 - x0, y1 - y0
    inside = np.zeros(astronaut.shape[:2], bool)
    inside[int(y0):int(y1), int(x0):int(x1)] = True
    far = np.ones(astronaut.shape[:2], bool)
    far[max(int(y0 - h), 0):int(y1 + h), max(int(x0 - w), 0):int(x1 + w)] = False
    diff = np.abs(result.astype(int) - astronaut).sum(2)
    assert diff[inside].mean() > 1.0, "the face did not change"
    assert diff[far].max() == 0, "pixels far from the face changed"
    assert np.abs(jpeg.astype(int) - result).mean() < 3  # best-quality JPEG of the same render
    from deage.provenance import read_provenance

    models = {m["name"] for m in read_provenance(out_png)["analysis"]["models"]}
    assert {"dlib_hog_frontal", "dlib_cnn_detector", "dlib_landmarks68"} <= models  # a photo: the CNN ran
    # without --look: the default look (ten years younger), a gentler edit of the same face
    out_default = tmp_path / "default.png"
    assert main(["render", str(photo), "-o", str(out_default)]) == 0
    with open_clip(out_default) as clip:
        gentle = np.abs(clip.read(0).astype(int) - astronaut).sum(2)
    assert 0.3 < gentle[inside].mean() < diff[inside].mean() and gentle[far].max() == 0
    assert read_provenance(out_default)["look"]["name"] == "10 years younger"
    # --years: the default look at 25 years, a stronger edit than at 10, recorded as such
    out_years = tmp_path / "years.png"
    assert main(["render", str(photo), "-o", str(out_years), "--years", "25"]) == 0
    with open_clip(out_years) as clip:
        strong = np.abs(clip.read(0).astype(int) - astronaut).sum(2)
    assert strong[inside].mean() > 1.2 * gentle[inside].mean() and strong[far].max() == 0
    record = read_provenance(out_years)["look"]
    assert record["edit"]["years"] == 25 and record["name"] == "25 years younger"


def test_a_numbered_photo_renders_alone_and_reviews_alone(astronaut, older_face, tmp_path, capsys):
    """Photos numbered in a row and of one size (a burst, or a test set: face_001.png,
    face_002.png, face_003.png) would open as a 3-frame sequence; rendered into one image, the
    photo given is rendered alone (not the first of the row), the sidecar says so, and the
    report opens it the same way (same content hash: no "not the clip" note)."""
    import cv2

    older = cv2.resize(older_face, astronaut.shape[1::-1], interpolation=cv2.INTER_AREA)
    for number, image in ((1, astronaut), (2, older), (3, astronaut[:, ::-1])):
        cv2.imwrite(str(tmp_path / f"face_{number:03d}.png"), cv2.cvtColor(np.ascontiguousarray(image),
                                                                            cv2.COLOR_RGB2BGR))
    with open_clip(tmp_path / "face_002.png") as row:
        assert len(row) == 3  # as a sequence
    out = tmp_path / "young.png"
    assert main(["render", str(tmp_path / "face_002.png"), "-o", str(out), "--cache-dir", str(tmp_path / "c")]) == 0
    with open_clip(out) as clip:
        assert len(clip) == 1
        rendered = clip.read(0).astype(int)
    assert np.abs(rendered - older).mean() < np.abs(rendered - astronaut).mean() / 4  # that photo
    assert 0 < np.abs(rendered - older).mean()  # edited
    from deage.provenance import read_provenance

    assert read_provenance(out)["source_still"] is True
    capsys.readouterr()
    assert main(["report", str(out), "-o", str(tmp_path / "report.html"), "--cache-dir", str(tmp_path / "c"),
                 "--json", str(tmp_path / "m.json")]) in (0, 1)
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["source_still"] is True and metrics["frame_range"] == [0, 1]
    assert not any("not the clip" in w for w in metrics["warnings"])
    capsys.readouterr()
    assert main(["info", "--still", str(tmp_path / "face_003.png")]) == 0
    assert re.search(r"frame_count +1\n", capsys.readouterr().out)


def test_analysis_options_reach_the_analysis(astronaut, tmp_path, capsys):
    import cv2

    photo = tmp_path / "portrait.png"
    cv2.imwrite(str(photo), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    counts = {}
    for name, extra in {"default": [], "too-big": ["--min-face", "400", "--cnn", "off"]}.items():
        assert main(["analyse", str(photo), "--json", "--no-cache", *extra]) == 0
        printed = json.loads(capsys.readouterr().out)
        counts[name] = len(printed["tracks"])
        assert printed["cuts"] == [] and printed["frame_count"] == 1
    assert counts == {"default": 1, "too-big": 0}
    with pytest.raises(SystemExit):
        main(["analyse", str(photo), "--cnn", "sometimes"])
    from deage.cli import analysis_settings, build_parser

    for command in ("analyse", "render"):
        args = build_parser().parse_args([command, "clip.mp4", *(["-o", "out.mp4"] if command == "render" else []),
                                          "--search-every", "0", "--detect-every", "5"])
        settings = analysis_settings(args)
        assert (settings.search_every, settings.detect_every) == (0, 5)
    assert analysis_settings(build_parser().parse_args(["analyse", "clip.mp4"])).search_every == 48


@pytest.mark.parametrize("size", [(1, 1), (4, 4), (1, 200), (12, 12)])
def test_a_photo_too_small_to_hold_a_face_is_no_face_not_a_crash(tmp_path, size):
    """A few-pixel image (a thumbnail placeholder, a 1-px spacer) is "no face" (exit 2), not a
    dlib error from its CNN detector, whose window does not fit (and which corrupts memory below ~10 px)."""
    from PIL import Image

    photo = tmp_path / "tiny.png"
    Image.fromarray(np.full((*size, 3), 128, np.uint8)).save(photo)
    proc = run_cli("render", str(photo), "-o", str(tmp_path / "out.png"))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == f"deage: {photo}: no face was found in the photo"


def test_output_cut_short_by_its_reader_stops_quietly(example_clip):
    """`deage info clip | head -1`: the reader closing the pipe stops the command as SIGPIPE
    would (exit 141), without a BrokenPipeError traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "deage.cli", "info", str(example_clip)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # nobody reads: the first write fails
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 141 and b"Traceback" not in err and err == b""


def test_render_without_output_writes_beside_the_clip(example_clip, astronaut, tmp_path, capsys):
    """``deage render CLIP`` without -o: NAME_deaged beside the clip, of its own type where deage
    writes it (.mp4 for types it does not, .jpg for such photos); an image sequence needs -o."""
    import shutil

    from PIL import Image

    from deage.cli import default_output

    clip = tmp_path / "shot.mp4"
    shutil.copy(example_clip, clip)
    assert main(["render", str(clip), "--frames", "0:3", "--look", "identity"]) == 0
    assert f"-> {tmp_path / 'shot_deaged.mp4'}" in capsys.readouterr().out
    with open_clip(tmp_path / "shot_deaged.mp4") as out:
        assert len(out) == 3
    photo = tmp_path / "IMG_0042.heic"
    Image.fromarray(astronaut).save(photo, quality=90)
    assert main(["render", str(photo), "--look", "identity"]) == 0
    with open_clip(tmp_path / "IMG_0042_deaged.jpg") as out:
        assert len(out) == 1 and out.info.width == 512
    assert default_output(tmp_path / "loop.gif") == tmp_path / "loop_deaged.mp4"
    frames = [Image.fromarray(np.roll(astronaut, k, axis=1)) for k in (0, 8)]
    frames[0].save(tmp_path / "avatar.gif")
    frames[0].save(tmp_path / "wave.gif", save_all=True, append_images=frames[1:], duration=100)
    assert default_output(tmp_path / "avatar.gif") == tmp_path / "avatar_deaged.png"
    assert default_output(tmp_path / "wave.gif") == tmp_path / "wave_deaged.mp4"
    assert default_output(tmp_path / "plate.mxf") == tmp_path / "plate_deaged.mp4"
    assert default_output(tmp_path / "shot.mp4", "prores") == tmp_path / "shot_deaged.mov"
    for sequence in ("plate.%04d.exr", "plate.####.dpx"):
        with pytest.raises(DeageError, match="needs an output named with -o"):
            default_output(tmp_path / sequence)
