"""The ``deage`` command: info, analyse, render, weights, provenance.

Every deliberate error (``DeageError``) prints one line ``deage: <file>: <problem>`` and exits 2;
``--debug`` shows the traceback. Warnings print one line ``deage: warning: <message>``. Ctrl-C exits 130 and leaves no half-written output.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path

from deage import __version__
from deage.errors import DeageError


def _progress_bar(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="frame", disable=not sys.stderr.isatty(), leave=False)


def cmd_info(args: argparse.Namespace) -> int:
    from deage.video import open_clip
    from deage.video.pixels import is_yuv_format

    with open_clip(args.clip, still=args.still) as clip:
        info = clip.info.to_dict()
        # RGB and grey pixels have no YUV matrix or range (the tags are only what a YUV render of them would use)
        colour = (clip.info.colour.describe() if is_yuv_format(clip.info.pix_fmt)
                  else "RGB values (no YUV matrix or range)")
    if args.json:
        print(json.dumps(info, indent=2, default=str))
    else:
        info["colour"] = colour
        info.update({f"metadata.{key}": value for key, value in info.pop("metadata").items()})
        width = max(len(k) for k in info)
        for key, value in info.items():
            print(f"{key:<{width}}  {value}")
    return 0


def cmd_analyse(args: argparse.Namespace) -> int:
    from deage.face.analysis import analyse_clip
    from deage.video import open_clip

    settings = analysis_settings(args)
    with open_clip(args.clip, still=args.still) as clip:
        bar = _progress_bar(len(clip), "analyse")
        try:
            analysis = analyse_clip(
                clip, settings, cache_dir=args.cache_dir, use_cache=not args.no_cache,
                progress=lambda done, total: bar.update(done - bar.n),
            )
        finally:
            bar.close()
        if args.ages:
            from deage.face.apparent_age import measure_tracks

            measure_tracks(analysis, analysis.track_ids, clip.read)
    if args.json:
        print(json.dumps({"tracks": analysis.summary(), "frames_without_face": analysis.frames_without_face,
                          "frame_count": analysis.frame_count, "cuts": analysis.cuts}, indent=2))
        return 0
    rows = analysis.summary()
    print(f"{args.clip}: {analysis.frame_count} frames, {len(rows)} track(s)")
    print(f"{'track':>5}  {'first':>6}  {'last':>6}  {'missing':>7}  {'score':>6}" + ("  looks" if args.ages else ""))
    for row in rows:
        missing = row["frames_without_face"]
        looks = f"  {row['apparent_age']:>5.1f}" if "apparent_age" in row else ""
        print(f"{row['id']:>5}  {row['first_frame']:>6}  {row['last_frame']:>6}  {len(missing):>7}  "
              f"{row['mean_score']:>6.2f}{looks}")
    if analysis.frames_without_face:
        print(f"frames without any face: {_ranges(analysis.frames_without_face)}")
    if analysis.cuts:
        print(f"cuts (first frames of new shots): {', '.join(map(str, analysis.cuts))}")
    return 0


def add_analysis_arguments(p: argparse.ArgumentParser) -> None:
    """The face-analysis options shared by ``analyse`` and ``render``."""
    p.add_argument("--detect-every", type=int, default=None, help="keyframe detection interval (frames)")
    p.add_argument("--min-face", type=float, default=None, metavar="PX",
                   help="smallest face to find, box width in pixels (default: 80 px or 1/12 of the short side; "
                        "smaller is slower)")
    p.add_argument("--cnn", choices=["stills", "keyframes", "off"], default=None,
                   help="also run dlib's CNN face detector: on single photos (default), on every keyframe "
                        "(finds turned and dim faces; ~1-3 s a keyframe on a CPU), or never")
    p.add_argument("--search-every", type=int, default=None, metavar="FRAMES",
                   help="search keyframes for small (40 px) and tilted faces: while no face is tracked at most "
                        "every FRAMES frames (ever more rarely while none is found); while faces are tracked, "
                        "for small faces beside them every 8 x FRAMES frames, and FRAMES / 2 after one was lost "
                        "inside the frame (default 48; 0 = never)")


def add_still_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--still", action="store_true",
                   help="open CLIP, an image, as just that image even if its name has a frame number "
                        "(face_007.jpg; otherwise its numbered siblings open as a sequence; a render into "
                        "one image does this by itself)")


def analysis_settings(args: argparse.Namespace):
    """``AnalysisSettings`` from the command's analysis options (defaults where not given)."""
    from deage.face.analysis import AnalysisSettings

    given = {"detect_every": args.detect_every, "min_face_size": args.min_face, "cnn": args.cnn,
             "search_every": args.search_every}
    return AnalysisSettings(**{k: v for k, v in given.items() if v is not None})


def _ranges(frames: list[int]) -> str:
    """[1, 2, 3, 7] -> '1-3, 7'."""
    parts: list[str] = []
    for f in sorted(frames):
        if parts and f == parts[-1][1] + 1:
            parts[-1] = (parts[-1][0], f)
        else:
            parts.append((f, f))
    return ", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in parts)


def default_output(clip: Path, codec: str | None = None) -> Path:
    """Where ``deage render CLIP`` writes without ``-o``: ``CLIP_deaged`` beside the clip, of the
    clip's own type where deage writes it (``shot.mov`` -> ``shot_deaged.mov``, ``face.png`` ->
    ``face_deaged.png``), else ``.mp4`` for a movie or an animation, ``.jpg`` for a photo (HEIC,
    AVIF...) and ``.png`` for a GIF of one frame (a saved still: lossless, as GIF is); with
    ``codec``, a type that codec writes.

    Raises:
        DeageError: the clip is an image sequence or a folder of one (name the output's frames).
    """
    from deage.video.animation import is_animation
    from deage.video.sequence import has_frame_pattern, is_image_path, is_numbered_file
    from deage.video.writer import codec_extension, resolve_codec

    if clip.is_dir() or has_frame_pattern(clip) or (is_numbered_file(clip) and not clip.is_file()):
        raise DeageError(f"{clip}: an image sequence needs an output named with -o (shot_young.%04d.exr...)")
    still_gif = _is_still_gif(clip)
    photo = still_gif or (is_image_path(clip) and not is_animation(clip))
    candidates = [clip.suffix.lower(), ".png" if still_gif else ".jpg" if photo else ".mp4"]
    if codec is not None:
        candidates.insert(1, codec_extension(codec))
    for suffix in candidates:
        try:
            if resolve_codec(Path("out" + suffix), codec).sequence == photo:  # photos to a still, clips to a movie
                return clip.with_name(f"{clip.stem}_deaged{suffix}")
        except DeageError:
            continue
    raise DeageError(f"{clip}: no output type for codec {codec!r}; name the output with -o")


def _is_still_gif(path: Path) -> bool:
    """True for a GIF file that Pillow reads as one frame."""
    if path.suffix.lower() != ".gif" or not path.is_file():
        return False
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return int(getattr(image, "n_frames", 1)) == 1
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
        return False


def cmd_render(args: argparse.Namespace) -> int:
    from deage.look import IDENTITY, Look, default_look, load_look, with_target_age, with_years
    from deage.render import parse_frame_range, render_clip, still_source
    from deage.video import open_clip

    if args.look == IDENTITY and not Path(args.look).exists():
        look = Look()
    else:
        look = load_look(args.look) if args.look else default_look()
    if args.years is not None and args.target_age is not None:
        raise DeageError("give --years or --target-age, not both (with a target age each face gets the years it "
                         "looks older than it)")
    if args.years is not None:
        look = with_years(look, args.years)
    if args.target_age is not None:
        look = with_target_age(look, args.target_age)
    if args.burn_in:
        look.burn_in = True
    for key in ("parser", "occluder"):
        name = getattr(args, key)
        if name is not None:  # "none" turns off what the look names
            look.set_mask(key, None if name.lower() == "none" else name)
    if args.output is None:
        args.output = str(default_output(Path(args.clip), args.codec))
    still = True if args.still else still_source(args.clip, args.output, args.codec)
    with open_clip(args.clip, still=still) as clip:
        frame_range = parse_frame_range(args.frames, len(clip))
    bar = _progress_bar(frame_range[1] - frame_range[0], "render")
    try:
        kwargs = dict(frames=frame_range, codec=args.codec, cache_dir=args.cache_dir, matte=args.matte,
                      analysis_settings=analysis_settings(args),
                      device=args.device, progress=lambda done, total: bar.update(done - bar.n))
        if args.ray is not None:
            if args.processes:
                raise DeageError("--processes does not combine with --ray (Ray gives each range its own process)")
            if args.first_frame is not None:
                raise DeageError("--first-frame is not supported with --ray yet; render without --ray")
            if still:
                raise DeageError("--ray renders clips; render one image without --ray")
            from deage.scale.ray_render import render_clip_ray

            result = render_clip_ray(args.clip, args.output, look, address=args.ray or None, workers=args.workers,
                                     chunk=args.chunk, work_dir=args.work_dir, resume=not args.no_resume, **kwargs)
        else:
            result = render_clip(args.clip, args.output, look, workers=args.workers, first_frame=args.first_frame,
                                 processes=args.processes, still=still, **kwargs)
    finally:
        bar.close()
    print(f"rendered {result.frames} frames ({result.fps:.1f} fps) with look '{look.name or look.editor}' -> {result.output}")
    if result.frames_without_face:
        print(f"frames passed through without a face: {_ranges(result.frames_without_face)}")
    if getattr(result, "matte", None):
        print(f"matte: {result.matte}")
    if result.provenance:
        print(f"provenance: {result.provenance}")
    return 0


def cmd_weights(args: argparse.Namespace) -> int:
    from deage.weights import Manifest

    manifest = Manifest.load(weights_dir=args.weights_dir)
    if args.action == "where":
        print(manifest.weights_dir if not args.name else manifest.where(args.name))
        return 0
    if args.name:
        manifest.entry(args.name)  # unknown name -> WeightsError naming it
    statuses = manifest.verify_all() if args.action == "verify" else manifest.status_all()
    statuses = [s for s in statuses if args.name in (None, s.name)]
    if args.json:
        print(json.dumps([s.to_dict() for s in statuses], indent=2))
    elif args.action == "list" and not args.name:
        print(f"{'model':<24} {'state':<10} {'kind':<12} file")
        for s in statuses:
            print(f"{s.name:<24} {s.state:<10} {s.kind:<12} {s.file}")
        print(f"weights folder: {manifest.weights_dir}  ('deage weights list NAME' says where to get a file)")
    else:
        for s in statuses:
            print(s.line())
    bad = [s for s in statuses if s.state in ("missing", "mismatch")]
    return 1 if args.action == "verify" and bad else 0


def cmd_provenance(args: argparse.Namespace) -> int:
    from deage.provenance import check_provenance, read_provenance

    record = read_provenance(args.file)
    print(json.dumps(record, indent=2))
    if not Path(args.file).name.endswith(".provenance.json"):
        ok = check_provenance(args.file)
        print(f"output hash check: {'OK' if ok else 'MISMATCH (the output changed after the render)'}",
              file=sys.stderr)
        return 0 if ok else 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deage", description="De-age and replace faces in video clips.")
    parser.add_argument("--version", action="version", version=f"deage {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("info", help="describe a clip or image sequence")
    p.add_argument("clip")
    add_still_argument(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("analyse", aliases=["analyze"], help="detect, landmark and track faces (cached)")
    p.add_argument("clip")
    add_still_argument(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--ages", action="store_true",
                   help="also say how old each face looks (apparent age, years; median of 5 of its frames where it is seen best)")
    add_analysis_arguments(p)
    p.add_argument("--cache-dir", default=None, help="analysis cache folder (default: .deage-cache beside the clip)")
    p.add_argument("--no-cache", action="store_true", help="recompute even if cached")
    p.set_defaults(func=cmd_analyse)

    p = sub.add_parser("render", help="render a clip with a look")
    p.add_argument("clip")
    add_still_argument(p)
    p.add_argument("-o", "--output", default=None,
                   help="output file (.mp4, .mov, .webm, shot.%%04d.exr, young.jpg...); default: beside the clip, "
                        "NAME_deaged with the clip's own type (.mp4 for types deage does not write, .jpg for "
                        "such photos, .png for a one-frame GIF)")
    p.add_argument("--look", default=None,
                   help="look JSON, or 'identity' to change nothing (default: the embedded de-ager, ten years "
                        "younger, as examples/looks/young10.json)")
    p.add_argument("--years", type=float, default=None,
                   help="years younger, 0-30, for the makeup de-ager: replaces the look's edit.years "
                        "(with no --look: the default look at that many years)")
    p.add_argument("--target-age", type=float, default=None, metavar="AGE",
                   help="make every face look AGE (1-80) with the makeup de-ager: each face gets as many years as "
                        "it looks older than AGE (measured by the apparent-age model; 0-30), one that already "
                        "looks AGE or younger is left alone")
    p.add_argument("--frames", default=None, help="A:B, 0-based clip indices, B exclusive; negative ones count from the end (-24: = the last 24)")
    p.add_argument("--codec", default=None, help="force an output codec (see docs)")
    p.add_argument("--cache-dir", default=None, help="analysis cache folder")
    add_analysis_arguments(p)
    p.add_argument("--burn-in", action="store_true", help="burn a visible 'AI-altered' label into every frame")
    p.add_argument("--occluder", default=None, metavar="MODEL",
                   help="occlusion model from weights/ (xseg_1...): hands, hair and objects in front of the face "
                        "keep their pixels; 'none' turns off the look's")
    p.add_argument("--parser", default=None, metavar="MODEL",
                   help="face parser from weights/ (bisenet_resnet_34, bisenet_19, skin_hair_seg) instead of the "
                        "skin-colour model; 'none' turns off the look's")
    p.add_argument("--first-frame", type=int, default=None,
                   help="number of the first file of a sequence output (default: the source's, or 1001)")
    p.add_argument("--matte", default=None, help="also write the blend matte (e.g. matte.%%04d.png, matte.mov)")
    p.add_argument("--device", default=None, help="cpu, cuda[:N] or auto (default $DEAGE_DEVICE or cpu)")
    p.add_argument("--workers", type=int, default=None, help="ranges at once with --ray, else editing threads")
    p.add_argument("--processes", type=int, default=0,
                   help="edit on N worker processes instead of threads (many-core / GPU machines; same pixels)")
    p.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="render frame ranges on Ray (no ADDRESS: a local cluster); write it after CLIP")
    p.add_argument("--chunk", type=int, default=240, help="frames per Ray task")
    p.add_argument("--work-dir", default=None, help="Ray: folder for finished ranges (resume)")
    p.add_argument("--no-resume", action="store_true", help="Ray: re-render every range")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("weights", help="list, verify or locate model files")
    p.add_argument("action", choices=["list", "verify", "where"])
    p.add_argument("name", nargs="?", default=None)
    p.add_argument("--weights-dir", default=None, help="weights folder (default: $DEAGE_WEIGHTS or ./weights)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_weights)

    from deage.review.report import add_report_arguments, report_command

    p = sub.add_parser("report", help="review a render against its source: one self-contained HTML page")
    add_report_arguments(p)
    p.set_defaults(func=report_command)

    p = sub.add_parser("provenance", help="print a render's provenance and check the output's hash")
    p.add_argument("file", help="a rendered output or its .provenance.json")
    p.set_defaults(func=cmd_provenance)
    return parser


def _warning_line(message, category, filename, lineno, file=None, line=None) -> None:
    """``warnings.showwarning`` for the command: one line ``deage: warning: <message>``."""
    print(f"deage: warning: {message}", file=file or sys.stderr)


def _glued_ranges(argv: Sequence[str]) -> list[str]:
    """``argv`` with ``--frames -5:`` glued into ``--frames=-5:`` (argparse takes a value that starts
    with a dash for an option: "expected one argument")."""
    out: list[str] = []
    args = iter(argv)
    for arg in args:
        value = next(args, None) if arg == "--frames" else None
        if value is not None and not re.fullmatch(r"-\d*:-?\d*", value):
            out += [arg, value]
        else:
            out.append(arg if value is None else f"--frames={value}")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_glued_ranges(sys.argv[1:] if argv is None else argv))
    with warnings.catch_warnings():
        if not args.debug:
            warnings.showwarning = _warning_line
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        return int(args.func(args) or 0)
    except DeageError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"deage: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("deage: interrupted; no partial output was left under the final name", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our output went away (`deage info clip | head -1`): stop quietly, as a
        # command killed by SIGPIPE does. Point stdout at /dev/null so the exit flush cannot fail.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
