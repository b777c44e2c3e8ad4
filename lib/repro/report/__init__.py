"""Claims, metrics.json, the shared figure style and paper/REPORT.md (DESIGN.md, "metrics.json").

Notebooks use only this facade::

    from repro import report
    report.use_style()
    name = report.save_figure(fig, out_dir, "fig01_x.png")
    claims = [report.reproduce("C1", "...", "≈0.2", ours, 0.2, 0.3, name)]
    report.write_metrics(out_dir, paper=..., slug=..., scale=..., seed=..., claims=claims,
                         figures=[name], limitations=[...])
"""
from repro.report.build import build_report, claims_markdown
from repro.report.claims import cannot, direction, reproduce, rounded
from repro.report.figures import save_figure, use_style
from repro.report.metrics import MetricsError, read_metrics, validate_metrics, write_metrics


def show_claims(claims):
    """The claims as a pandas DataFrame, for display at the end of a notebook."""
    import pandas as pd

    return pd.DataFrame(claims, columns=["id", "claim", "paper_value", "our_value", "target", "status", "evidence"])


def print_limitations(limitations) -> None:
    """Print the brief's limitations and our documented choices, one per line."""
    for item in limitations:
        print(f"- {item}")


__all__ = ["build_report", "cannot", "claims_markdown", "direction", "MetricsError", "print_limitations",
           "read_metrics", "reproduce", "rounded", "save_figure", "show_claims", "use_style",
           "validate_metrics", "write_metrics"]
