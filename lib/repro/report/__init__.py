"""Claims with intervals and regime checks, metrics.json, the figure style and paper/REPORT.md.

A paper's ``claims(results, cfg)`` (``repro.papers.<slug>``) builds its claims here::

    from repro import report
    effect = report.paired_mean_difference(saving_per_day_lt_ua, saving_per_day_reactive)
    regime = report.Regime("mean instances per endpoint, models A/B", 7.3, 5)
    claim = report.direction("C1", "LT-UA saves GPU-hours", "up to 25%", effect, regime, unit="%")

and its notebook writes them::

    report.use_style()
    name = report.save_figure(fig, out_dir, "fig01_x.png")
    report.write_metrics(out_dir, paper=..., slug=..., scale=..., seed=..., claims=claims, figures=[name],
                         figure_sources={name: "repro.papers.demo.run"}, limitations=[...], data={...})
"""
from repro.report.build import build_report, claims_markdown
from repro.report.claims import (STATUSES, TARGETS, Regime, by_construction, cannot, claims_frame, decide_status,
                                 direction, fmt, reproduce, rounded)
from repro.report.figures import save_figure, use_style
from repro.report.intervals import (Interval, improvement_probability, iqm_difference, iqm_interval, mean_difference,
                                    mean_interval, paired_mean_difference)
from repro.report.metrics import MetricsError, read_metrics, validate_metrics, write_metrics


def print_limitations(limitations) -> None:
    """Print the brief's limitations and our documented choices, one per line."""
    for item in limitations:
        print(f"- {item}")


__all__ = ["Interval", "MetricsError", "Regime", "STATUSES", "TARGETS", "build_report", "by_construction", "cannot",
           "claims_frame", "claims_markdown", "decide_status", "direction", "fmt", "improvement_probability",
           "iqm_difference", "iqm_interval", "mean_difference", "mean_interval", "paired_mean_difference", "print_limitations",
           "read_metrics", "reproduce", "rounded", "save_figure", "use_style", "validate_metrics", "write_metrics"]
