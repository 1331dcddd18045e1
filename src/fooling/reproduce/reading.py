"""Figures read back from the run directories of a report's steps."""

from __future__ import annotations

import statistics
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

from fooling.reproduce.steps import run_folder
from fooling.runs.directory import RunDirectory
from fooling.runs.progress import read_progress
from fooling.search import load_run

PAPER_LEVEL = 0.9999
"""The paper's "99.99%": every class at or above it counts as fooled at the paper's level."""


def summary_of(out: Path, name: str) -> dict[str, Any]:
    """The `summary.json` of step `name` of the report in `out`.

    Raises:
        FoolingError: the step's run holds none.
    """
    return RunDirectory(run_folder(out, name)).read_summary()


def evolve_figures(out: Path, name: str) -> dict[str, Any]:
    """An evolve (or ascend) run's figures, and when it got there.

    Returns:
        The summary's figures (`median_confidence`, `fooled_at_0.99`, `classes`,
        `evaluations`, `confidences`), plus, by the search's own scores in
        `progress.csv`: `all_at_0.9999`, the first generation at which every class's
        elite was at ≥ 99.99% (None if none was); `half_fooled_after`, the evaluations
        until half the classes were at ≥ 0.99 (None if never); and `fooled_after`,
        those until the run's final count at ≥ 0.99 was reached (all its evaluations
        where the search's own count ends short of the fp32 one).
    """
    summary = summary_of(out, name)
    rows = read_progress(run_folder(out, name) / "progress.csv")
    classes, fooled = len(summary["classes"]), summary["fooled_at_0.99"]
    return {
        "median_confidence": summary["median_confidence"],
        "fooled_at_0.99": fooled,
        "classes": classes,
        "evaluations": summary["evaluations"],
        "confidences": [entry["confidence"] for entry in summary["classes"]],
        "all_at_0.9999": next(
            (row.generation for row in rows if row.lowest_confidence >= PAPER_LEVEL), None
        ),
        "half_fooled_after": next(
            (row.evaluations for row in rows if row.fooled * 2 >= classes), None
        ),
        "fooled_after": next(
            (row.evaluations for row in rows if fooled and row.fooled >= fooled),
            summary["evaluations"],
        ),
    }


def adversarial_figures(out: Path, name: str) -> dict[str, Any]:
    """An `adversarial` run's success rate, size, and mean confidence in the wrong class."""
    summary = summary_of(out, name)
    wrong = [item["adversarial"]["confidence"] for item in summary["items"] if item["success"]]
    return {
        "success_rate": summary["success_rate"],
        "mean_l2": summary["mean_l2"],
        "mean_linf": summary["mean_linf"],
        "images": summary["images"],
        "mean_confidence": statistics.fmean(wrong) if wrong else 0.0,
    }


def percent(value: float, digits: int = 2) -> str:
    """A probability as a percentage, cut (not rounded) so that 99.99% means ≥ 0.9999."""
    step = Decimal(1).scaleb(-digits)
    return f"{(Decimal(repr(float(value))) * 100).quantize(step, rounding=ROUND_DOWN)}%"


def cppn_size(out: Path, name: str) -> dict[str, Any]:
    """How many hidden nodes a CPPN run's elites use, against the most they may have.

    Returns:
        `max_hidden`, `elites`, `at_cap` (elites with every hidden slot in use) and
        `mean_hidden`.
    """
    run = load_run(run_folder(out, name))
    encoding = run.make_encoding()
    filled = run.confidences >= 0
    hidden = run.genomes["alive"][filled][:, encoding.hidden].sum(dim=1)
    return {
        "max_hidden": encoding.max_hidden,
        "elites": len(hidden),
        "at_cap": int((hidden == encoding.max_hidden).sum()),
        "mean_hidden": float(hidden.float().mean()) if len(hidden) else 0.0,
    }


def detection_cells(out: Path, name: str = "detect") -> tuple[list[str], dict[str, list[str]]]:
    """A `detect` step's fooling sources and, per detector, `AUROC / caught` for each."""
    summary = summary_of(out, name)
    sources = [source["name"] for source in summary["sources"][1:]]
    cells = {(row["detector"], row["source"]): row for row in summary["table"]}
    return sources, {
        detector: [f"{cells[detector, source]['auroc']:.3f} / "
                   f"{percent(cells[detector, source]['caught'], 0)}" for source in sources]
        for detector in summary["detectors"]
    }  # fmt: skip


def detection_table(out: Path, name: str = "detect") -> tuple[str, list[str], list[list[str]]]:
    """A `detect` step's table for a report page, marked as beyond the paper."""
    sources, cells = detection_cells(out, name)
    return (
        "Beyond the paper: would an out-of-distribution detector catch them?",
        ["detector", *(f"{source}: AUROC / caught" for source in sources)],
        [[detector, *shown] for detector, shown in cells.items()],
    )
