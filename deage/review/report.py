"""The review report: one self-contained HTML file per render, and the ``deage report`` command.

Example (a notebook shows the same pieces inline)::

    from deage.review.metrics import compute_metrics
    from deage.review.report import build_report, checks_html, write_report
    from deage.review.plots import plot_metrics
    from deage.review.thresholds import Thresholds, evaluate

    m = compute_metrics("young.mov", "plate.mov")
    plot_metrics(m)                                     # a matplotlib Figure
    HTML(checks_html(evaluate(m, Thresholds(max_identity=0.4))))
    write_report("young.review.html", m)                # plots, worst frames, provenance, verdict

Command line (wired into ``deage`` by ``add_report_arguments`` / ``report_command``)::

    deage report young.mov --source plate.mov --max-identity 0.4 -o review.html

The page embeds its plot (PNG) and thumbnails (JPEG) as data: URLs, has no scripts and loads
nothing (a Content-Security-Policy says so), so it can be mailed or archived as one file.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import cv2

from deage import __version__
from deage.review.metrics import REGIONS, RenderMetrics
from deage.review.thresholds import Check, Thresholds, evaluate, passed
from deage.review.thumbnails import Thumbnail
from deage.types import Image


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "&ndash;"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return _e(value)


def data_url(image: Image, fmt: str = ".jpg") -> str:
    """A ``data:`` URL of an RGB uint8 (H, W, 3) image (JPEG quality 90, or PNG with ``fmt=".png"``)."""
    params = [cv2.IMWRITE_JPEG_QUALITY, 90] if fmt == ".jpg" else []
    ok, buf = cv2.imencode(fmt, cv2.cvtColor(image, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise ValueError(f"cannot encode a {image.shape} image as {fmt}")
    mime = "image/jpeg" if fmt == ".jpg" else "image/png"
    return f"data:{mime};base64,{base64.b64encode(buf.tobytes()).decode('ascii')}"


# ------------------------------------------------------------------------------- fragments


def checks_html(checks: list[Check]) -> str:
    """The verdict table: one row per check (status, what, value, limit, worst frame)."""
    rows = []
    for c in checks:
        limit = "&ndash;" if c.limit is None else f"{'&le;' if c.better == 'lower' else '&ge;'} {c.limit:g}"
        frame = "" if c.frame is None or not math.isfinite(c.value) else str(c.frame)
        rows.append(f'<tr><td class="status {_e(c.status)}">{_e(c.status)}</td><td>{_e(c.label)}</td>'
                    f'<td class="num">{_e(c.text)}</td><td class="num">{limit}</td><td class="num">{frame}</td></tr>')
    return ('<table class="checks"><thead><tr><th>status</th><th>check</th><th>value</th><th>limit</th>'
            '<th>worst frame</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table>")


def summary_html(metrics: RenderMetrics) -> str:
    """Every summary figure beside its no-change value, and the per-region wrinkle changes."""
    s = metrics.summary()
    pct = lambda v: "&ndash;" if not math.isfinite(v) else f"{v * 100:+.1f} %"  # noqa: E731
    rows = [
        ("frames compared / with faces", f"{s['frames']} / {s['frames_with_faces']}", ""),
        ("faces missed (total)", str(s["faces_missed"]), "0"),
        (f"identity distance, worst / mean ({_e(s['identity_backend'])})",
         f"{_fmt(s['identity_distance_max'])} / {_fmt(s['identity_distance_mean'])}", "0"),
        ("flicker ratio, shot / worst frame", f"{_fmt(s['flicker_ratio'])} / {_fmt(s['flicker_ratio_max'])}", "1"),
        ("edit flicker, mean (8-bit code values)", _fmt(s["edit_flicker_mean"], 2), "0"),
        ("landmark jitter, render / source (% eye distance)",
         f"{_fmt(s['landmark_jitter'] * 100, 2)} / {_fmt(s['landmark_jitter_source'] * 100, 2)}", "equal"),
        ("landmark jitter ratio", _fmt(s["landmark_jitter_ratio"]), "1"),
        ("landmark shift, mean (% eye distance)", _fmt(s["landmark_shift_mean"] * 100, 2), "0"),
        ("seam ratio, worst / mean", f"{_fmt(s['seam_ratio_max'])} / {_fmt(s['seam_ratio_mean'])}", "1"),
        ("crease depth change, all facial skin (negative = shallower)", pct(s["crease_change"]), "0"),
        ("detail kept in eyes, brows, lips (render / source), shot / worst frame",
         f"{_fmt(s['feature_detail'])} / {_fmt(s['feature_detail_min'])}", "1"),
        ("grain over the faces' skin (render / source, where it shows), shot / worst frame",
         f"{_fmt(s['grain_match'])} / {_fmt(s['grain_match_min'])}", "1"),
        ("apparent age, source / change (years; negative = looks younger)",
         f"{_fmt(s['apparent_age_source'], 1)} / {_fmt(s['apparent_age_change'], 1)}", "0"),
    ]
    body = "".join(f"<tr><td>{label}</td><td class='num'>{value}</td><td class='num'>{same}</td></tr>"
                   for label, value, same in rows)
    wr = s["wrinkle_change"]
    regions = "".join(f"<th>{_e('all skin' if r == 'face' else r.replace('_', ' '))}</th>" for r in REGIONS)
    values = "".join(f"<td class='num'>{pct(wr[r])}</td>" for r in REGIONS)
    ages = "".join(f"<tr><td class='num'>{_e(t)}</td><td class='num'>{_fmt(a, 1)}</td><td class='num'>{_fmt(b, 1)}</td>"
                   f"<td class='num'>{_fmt(b - a, 1)}</td></tr>" for t, (a, b) in s["apparent_age_by_track"].items())
    if ages:
        ages = ("<p>Apparent age per face (years, means over the sampled frames; a yardstick within a few years):</p>"
                '<table class="ages"><thead><tr><th>track</th><th>source</th><th>render</th><th>change</th></tr></thead>'
                f"<tbody>{ages}</tbody></table>")
    return ('<table class="summary"><thead><tr><th>figure</th><th>value</th><th>no change</th></tr></thead>'
            f"<tbody>{body}</tbody></table>{ages}"
            "<p>Wrinkle-band energy change per region (negative = fewer fine lines; no change = 0):</p>"
            f'<table class="wrinkles"><thead><tr>{regions}</tr></thead><tbody><tr>{values}</tr></tbody></table>')


def plot_html(metrics: RenderMetrics, thresholds: Thresholds | None = None, dpi: int = 96) -> str:
    """The metric plots as an embedded PNG ``<img>``."""
    from deage.review.plots import figure_png, plot_metrics

    png = figure_png(plot_metrics(metrics, thresholds), dpi=dpi)
    b64 = base64.b64encode(png).decode("ascii")
    return f'<img class="plot" id="plot" alt="metrics over time" src="data:image/png;base64,{b64}">'


def thumbnails_html(thumbnails: list[Thumbnail]) -> str:
    """Before / after / difference crops of each picked frame."""
    if not thumbnails:
        return "<p>No face was measured, so there is no frame to single out.</p>"
    items = []
    for t in thumbnails:
        figs = "".join(
            f'<figure><img alt="{_e(kind)} frame {t.frame}" src="{data_url(img)}"><figcaption>{_e(kind)}</figcaption></figure>'
            for kind, img in (("before (source)", t.before), ("after (render)", t.after),
                              ("difference x4", t.difference)))
        items.append(f'<div class="thumb"><h3>Frame {t.frame}: {_e(t.reason)}</h3>{figs}</div>')
    return '<div class="thumbs">' + "".join(items) + "</div>"


def provenance_html(record: dict[str, Any] | None, hash_ok: bool | None = None) -> str:
    """The render's provenance: Look, editor, models with sha256, software, operator, consent, hash check."""
    if record is None:
        return '<p class="warn">This render has no provenance sidecar: its Look and models are unknown.</p>'
    check = {None: "not checked", True: "OK: the output's bytes match the sidecar",
             False: "MISMATCH: the output changed after the render"}[hash_ok]
    facts = [
        ("output", record.get("output")),
        ("output sha256", record.get("output_sha256")),
        ("output hash check", check),
        ("source", record.get("source")),
        ("source content hash", record.get("source_content_hash")),
        ("frame range", record.get("frame_range")),
        ("editor", record.get("editor")),
        ("AI-altered label burnt in", record.get("ai_altered_label")),
        ("operator", record.get("operator")),
        ("host", record.get("host")),
        ("time (UTC)", record.get("time_utc")),
        ("faces edited", record.get("faces_edited")),
    ]
    rows = "".join(f"<tr><th>{_e(k)}</th><td class='{'hash' if k.endswith(('sha256', 'content hash')) else ''}'>{_e(v)}</td></tr>"
                   for k, v in facts if v is not None)
    analysis = record.get("analysis") or {}
    models = [*(record.get("models") or []), *(analysis.get("models") or [] if isinstance(analysis, dict) else [])]
    model_rows = "".join(
        f"<tr><td>{_e(m.get('name', ''))}</td><td>{_e(m.get('file') or m.get('path') or '-')}</td>"
        f"<td class='hash'>{_e(m.get('sha256') or m.get('actual_sha256') or m.get('note') or m.get('error') or '')}</td>"
        f"<td>{_e(m.get('role') or m.get('licence') or '')}</td></tr>"
        for m in models if isinstance(m, dict))
    models_table = (f"<table><thead><tr><th>model</th><th>file</th><th>sha256</th><th>role</th></tr>"
                    f"</thead><tbody>{model_rows}</tbody></table>") if model_rows else "<p>No model files were used.</p>"
    software = record.get("software") or {}
    soft = ", ".join(f"{_e(k)} {_e(v)}" for k, v in software.items())
    consent = record.get("consent") or []
    consent_html = (f"<pre>{_e(json.dumps(consent, indent=2))}</pre>" if consent
                    else "<p>No consent records (none needed unless a face is replaced by another person's).</p>")
    return (f'<table class="provenance">{rows}</table>'
            f"<h3>Look</h3><pre id='look'>{_e(json.dumps(record.get('look'), indent=2))}</pre>"
            f"<h3>Models</h3>{models_table}<h3>Software</h3><p>{soft}</p><h3>Consent</h3>{consent_html}")


def build_report(
    metrics: RenderMetrics,
    thresholds: Thresholds | None = None,
    *,
    thumbnails: list[Thumbnail] | None = None,
    hash_ok: bool | None = None,
    title: str | None = None,
) -> str:
    """The whole review page as one HTML string (self-contained).

    Args:
        metrics: from ``compute_metrics``.
        thresholds: the limits of the verdict (default ``Thresholds()``).
        thumbnails: worst frames (``deage.review.thumbnails.worst_frame_thumbnails``); None = none shown.
        hash_ok: result of ``deage.provenance.check_provenance`` on the render, if it was checked.
        title: page title (default: "Review of <render name>").
    """
    thresholds = thresholds or Thresholds()
    checks = evaluate(metrics, thresholds)
    verdict = "PASS" if passed(checks) else "FAIL"
    notes = list(metrics.warnings)
    if hash_ok is False:
        notes.append("the render's bytes no longer match its provenance sidecar")
    warnings_html = "".join(f'<p class="warn">{_e(w)}</p>' for w in notes)
    meta = (f"render <code>{_e(metrics.render)}</code> &middot; source <code>{_e(metrics.source)}</code> &middot; "
            f"frames {metrics.frame_range[0]}&ndash;{metrics.frame_range[1] - 1} ({len(metrics)} frames, "
            f"{metrics.width}x{metrics.height} @ {metrics.fps:.3f} fps)"
            + (f" &middot; matte <code>{_e(metrics.matte)}</code>" if metrics.matte else ""))
    from deage.review.template import PAGE, STYLE

    return PAGE.substitute(
        version=_e(__version__),
        title=_e(title or f"Review of {Path(metrics.render).name}"),
        style=STYLE,
        meta=meta,
        verdict=verdict,
        warnings=warnings_html,
        checks=checks_html(checks) + f"<p>Thresholds: <code>{_e(json.dumps(thresholds.to_dict()))}</code></p>",
        summary=summary_html(metrics),
        plot=plot_html(metrics, thresholds),
        thumbnails=thumbnails_html(thumbnails or []),
        provenance=provenance_html(metrics.provenance, hash_ok),
        generated=_e(time.strftime("%Y-%m-%d %H:%M:%S %Z")),
    )


def default_report_path(render: str | Path) -> Path:
    """``<render>.review.html`` beside the render (``shot.exr.review.html`` for ``shot.####.exr``)."""
    from deage.provenance import output_base_name

    r = Path(render)
    return r.with_name(output_base_name(r) + ".review.html")


def write_report(
    path: str | Path | None,
    metrics: RenderMetrics,
    thresholds: Thresholds | None = None,
    *,
    thumbnails: list[Thumbnail] | str | None = "auto",
    check_hash: bool = True,
    title: str | None = None,
) -> Path:
    """Write the review page atomically; returns its path.

    Args:
        path: the HTML file (None: ``default_report_path(metrics.render)``); never the render or source.
        thumbnails: "auto" reads the worst frames from the files, a list uses those, None shows none.
        check_hash: check the render's bytes against its provenance sidecar (when it has one).
    """
    from deage.provenance import check_provenance
    from deage.review.thumbnails import worst_frame_thumbnails
    from deage.safe_write import atomic_output, check_output_path

    out = check_output_path(path if path is not None else default_report_path(metrics.render),
                            metrics.render, metrics.source)
    if thumbnails == "auto":
        thumbnails = worst_frame_thumbnails(metrics)
    hash_ok = check_provenance(metrics.render) if (check_hash and metrics.provenance is not None) else None
    page = build_report(metrics, thresholds, thumbnails=thumbnails, hash_ok=hash_ok, title=title)
    with atomic_output(out) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return out


# ------------------------------------------------------------------------------------- CLI


_THRESHOLD_FLAGS = (
    ("--max-identity", "max_identity", float, "largest identity distance, dlib (default %(default)s)"),
    ("--max-identity-arcface", "max_identity_arcface", float, "the same with ArcFace (default %(default)s)"),
    ("--max-flicker", "max_flicker_ratio", float, "largest flicker ratio of the shot (default %(default)s)"),
    ("--max-seam", "max_seam_ratio", float, "largest seam ratio on any frame (default %(default)s)"),
    ("--max-faces-missed", "max_faces_missed", int, "most faces missed (default %(default)s)"),
    ("--max-jitter", "max_jitter_ratio", float, "largest landmark jitter ratio (default %(default)s)"),
    ("--max-wrinkle-change", "max_wrinkle_change", float,
     "require the wrinkle change over all skin to be at most this, e.g. -0.1 (default: not checked)"),
    ("--max-crease-change", "max_crease_change", float,
     "require the crease-depth change over all skin to be at most this, e.g. -0.2 (default: not checked)"),
    ("--max-age-change", "max_age_change", float,
     "require the faces to look this many years older at most, e.g. -3 for at least 3 years younger "
     "(apparent age; default: not checked)"),
    ("--min-feature-detail", "min_feature_detail", float,
     "least edge strength kept in eyes, brows and lips on any frame, render / source (default %(default)s; "
     "not checked for a face replacement, which brings another face's features)"),
    ("--min-grain", "min_grain_match", float,
     "least grain (noise) over the faces' skin on any frame, render / source, where the source shows grain "
     "(default %(default)s; 0 turns it off)"),
    ("--min-swap-margin", "min_swap_margin", float,
     "a face replacement's least mean identity margin: distance to the plate's face less distance to the "
     "source photo (default %(default)s: nearer the source)"),
)


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``deage report`` arguments to ``parser`` (a subcommand's parser)."""
    defaults = Thresholds()
    parser.add_argument("render", help="the rendered clip or image sequence")
    parser.add_argument("--source", default=None, help="the clip it was rendered from (default: from its sidecar)")
    parser.add_argument("-o", "--output", default=None, help="HTML file (default: <render>.review.html)")
    parser.add_argument("--frames", default=None, help="A:B source frames the render covers (default: from its sidecar)")
    parser.add_argument("--matte", default=None, help="the render's matte clip, if one was written")
    parser.add_argument("--cache-dir", default=None, help="analysis cache folder")
    parser.add_argument("--recognizer", choices=["auto", "dlib", "arcface"], default="auto",
                        help="identity descriptor (auto: ArcFace when its weights are present)")
    parser.add_argument("--identity-every", type=int, default=1, help="measure identity on every n-th frame")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the metrics as JSON")
    for flag, dest, kind, text in _THRESHOLD_FLAGS:
        parser.add_argument(flag, dest=dest, type=kind, default=getattr(defaults, dest), help=text)
    parser.add_argument("--no-thumbnails", action="store_true", help="leave out the worst-frame thumbnails")


def thresholds_from_args(args: argparse.Namespace) -> Thresholds:
    """The ``Thresholds`` the command-line flags ask for."""
    return Thresholds(**{dest: getattr(args, dest) for _, dest, _, _ in _THRESHOLD_FLAGS})


def report_command(args: argparse.Namespace) -> int:
    """Run ``deage report``: measure, write the page, print the verdict. Returns 0 (pass) or 1 (fail)."""
    from deage.render import parse_frame_range
    from deage.review.metrics import compute_metrics, save_metrics
    from deage.video import open_clip

    thresholds = thresholds_from_args(args)
    frame_range = None
    if args.frames:
        from deage.errors import MediaError
        from deage.provenance import read_provenance, recorded_source
        from deage.review.metrics import source_opened_still

        try:
            record = read_provenance(args.render)
        except MediaError:
            if args.source is None:
                raise
            record = None  # the source is given: the sidecar is optional
        source = args.source if args.source is not None else recorded_source(record, args.render)
        with open_clip(source, still=source_opened_still(record, source)) as clip:
            frame_range = parse_frame_range(args.frames, len(clip))
    bar = _progress(args)
    try:
        metrics = compute_metrics(args.render, args.source, frame_range=frame_range, matte=args.matte,
                                  cache_dir=args.cache_dir, recognizer=args.recognizer,
                                  identity_every=args.identity_every, progress=bar)
    finally:
        bar.close()
    if args.json:
        save_metrics(metrics, args.json)
    path = write_report(args.output, metrics, thresholds, thumbnails=None if args.no_thumbnails else "auto")
    checks = evaluate(metrics, thresholds)
    ok = passed(checks)
    for c in checks:
        print(c.line())
    ages = metrics.summary()["apparent_age_by_track"]
    if ages:
        print("apparent age per face (years, source -> render): "
              + ", ".join(f"track {t}: {a:.1f} -> {b:.1f}" for t, (a, b) in ages.items()))
    for w in metrics.warnings:
        print(f"warning: {w}")
    print(f"{'PASS' if ok else 'FAIL'}: report written to {path}")
    return 0 if ok else 1


class _progress:
    """A tqdm bar on a terminal, silent otherwise; callable as progress(done, total)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(desc="review", unit="frame", leave=False)

    def __call__(self, done: int, total: int) -> None:
        if self.bar is not None:
            self.bar.total = total
            self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def main(argv: list[str] | None = None) -> int:
    """``python -m deage.review.report RENDER ...`` until ``deage report`` is wired into the CLI."""
    from deage.errors import DeageError

    parser = argparse.ArgumentParser(prog="deage report", description="Review a render against its source.")
    add_report_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return report_command(args)
    except DeageError as exc:
        print(f"deage: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())


__all__ = [
    "add_report_arguments",
    "build_report",
    "checks_html",
    "data_url",
    "default_report_path",
    "plot_html",
    "provenance_html",
    "report_command",
    "summary_html",
    "thresholds_from_args",
    "thumbnails_html",
    "write_report",
]
