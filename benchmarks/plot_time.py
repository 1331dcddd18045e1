"""The two plots every run draws: margins set by hand against matplotlib's constrained layout.

    python benchmarks/plot_time.py [--repeats 5]

In this process, on one thread: the confidence-over-generations plot of 201 generations
and the per-class plot of 10 digits (`fooling.report.plots`), written as PNGs 10 times,
the fastest of `--repeats` runs each; with the margins the plots set (`_margins`, now)
and with matplotlib's constrained layout working them out instead (before), in turns, so
that other work on the machine slows both alike. The ratio is before's seconds over
now's (> 1: now is faster).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine, save

import fooling.report.plots as plots
from fooling.records import ProgressRow

DRAWS = 10


def seconds_per_pair(folder: Path, repeats: int) -> tuple[float, float]:
    """The fastest seconds for both plots, now and before."""
    rows = [ProgressRow(g, 200 * g, 0.1 * g, 0.99, 0.5 + g / 400, 0.5, g // 20, 0.1)
            for g in range(201)]  # fmt: skip
    labels, confidences = [str(digit) for digit in range(10)], list(np.linspace(0.5, 1, 10))
    by_hand = plots._margins

    def constrained(figure, **_) -> None:
        figure.set_layout_engine("constrained")

    def draw() -> None:
        plots.plot_confidence_over_generations(rows, folder / "curve.png", "evolve direct")
        plots.plot_per_class_confidence(labels, confidences, folder / "classes.png", "evolve")

    draw()  # (fonts loaded)
    best = {by_hand: float("inf"), constrained: float("inf")}
    try:
        for _ in range(repeats):
            for margins in best:
                plots._margins = margins
                started = time.perf_counter()
                for _ in range(DRAWS):
                    draw()
                best[margins] = min(best[margins], (time.perf_counter() - started) / DRAWS)
    finally:
        plots._margins = by_hand
    return best[by_hand], best[constrained]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        now, before = seconds_per_pair(Path(folder), args.repeats)
    print(f"both plots: now {now:.3f} s, before {before:.3f} s: {before / now:.2f}x")
    save("plot_time_cpu", {
        "benchmark": "plot_time",
        **machine(torch.device("cpu")),
        "threads": 1,
        "seconds_now": round(now, 4),
        "seconds_before": round(before, 4),
        "ratio_before_over_now": round(before / now, 3),
    })  # fmt: skip


if __name__ == "__main__":
    main()
