"""Review of a render against its source: metrics, pass / fail, and a one-file HTML report.

- ``metrics``: ``compute_metrics(render, source) -> RenderMetrics`` (per-frame arrays, ``summary()``,
  ``to_dict()``); ``ShotMeter`` measures frames held in memory.
- ``measures``: the per-face measurements on plain arrays (wrinkle band, seam, flicker, jitter).
- ``thresholds``: ``Thresholds`` (the reviewer's limits), ``evaluate`` -> ``Check`` rows, ``passed``.
- ``plots``: ``plot_metrics(metrics) -> matplotlib Figure``.
- ``thumbnails``: before / after crops of the worst frames.
- ``report``: ``build_report`` (HTML string), ``write_report`` (atomic file), HTML fragments for
  notebooks, and ``deage report`` (``add_report_arguments`` / ``report_command``).
- ``burn_in``: the visible "AI-altered" label.

Nothing is imported here, so ``import deage.review.burn_in`` stays light (no matplotlib).
"""
