"""Resident memory over a long MNIST run, both encodings: does anything leak?

    python benchmarks/memory_growth.py [--generations 20000] [--population 200]

Runs each encoding against the built-in LeNet as `fooling evolve --out DIR`
runs it (a run directory, progress.csv, a checkpoint every 50 generations),
in this process, while a thread samples the process's resident set size
(RSS) with the generation it has reached. Growth is the RSS at the end over
the RSS once the run has warmed up (generation 1,000), minus 1. The report's
libraries (matplotlib) are imported before the runs, so that their one-time
cost when the finished run is written does not count as growth. Goal
(issue 9): growth <= 5% for both encodings over 20,000 generations.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine, save

from fooling import Evolution, load_classifier, make_encoding
from fooling.report.pages import write_pages
from fooling.runs.directory import RunDirectory
from fooling.search.driver import run_in_directory

GOAL = 0.05
WARM_UP = 1000  # generations before the baseline sample
PAGE = os.sysconf("SC_PAGE_SIZE")


def resident_bytes() -> int:
    """This process's resident set size now (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


def measure(encoding: str, generations: int, population: int, folder: Path) -> dict:
    """Run one encoding to `generations`, sampling RSS; returns its figures."""
    classifier = load_classifier("lenet-mnist", "cpu")
    evolution = Evolution(
        classifier, make_encoding(encoding, classifier.input_shape), population=population
    )
    samples: list[tuple[int, int]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.25):
            samples.append((evolution.generation, resident_bytes()))

    sampler = threading.Thread(target=sample, daemon=True)
    started = time.perf_counter()
    sampler.start()
    with RunDirectory(folder / encoding).claim() as directory:
        result = run_in_directory(
            evolution, directory, generations, fresh=True, progress=False, pages=write_pages
        )  # as `fooling evolve --out DIR`
    done.set()
    sampler.join()
    samples.append((evolution.generation, resident_bytes()))
    warm = next(rss for generation, rss in samples if generation >= WARM_UP)
    end = samples[-1][1]
    figures = {
        "generations": generations,
        "population": population,
        "seconds": round(time.perf_counter() - started, 1),
        "rss_after_warm_up_mib": round(warm / 2**20, 1),
        "rss_at_end_mib": round(end / 2**20, 1),
        "rss_peak_mib": round(max(rss for _, rss in samples) / 2**20, 1),
        "growth": round(end / warm - 1, 4),
        "goal": GOAL,
        "met": end / warm - 1 <= GOAL,
        "median_confidence": result.median_confidence,
        "rss_mib_by_generation": _every_thousand(samples),
    }
    print(
        f"{encoding:>6}: RSS {figures['rss_after_warm_up_mib']} MiB at generation {WARM_UP}, "
        f"{figures['rss_at_end_mib']} MiB at {generations} (growth {figures['growth']:+.2%}, "
        f"goal <= {GOAL:.0%}: {'met' if figures['met'] else 'MISSED'}), {figures['seconds']} s"
    )
    return figures


def _every_thousand(samples: list[tuple[int, int]]) -> list[list[float]]:
    """The first sample at or past each 1,000 generations, and the last (after the report)."""
    kept, next_mark = [], 0
    for generation, rss in samples:
        if generation >= next_mark:
            kept.append([generation, round(rss / 2**20, 1)])
            next_mark = (generation // 1000 + 1) * 1000
    return [*kept, [samples[-1][0], round(samples[-1][1] / 2**20, 1)]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=20_000)
    parser.add_argument("--population", type=int, default=200)
    args = parser.parse_args()
    import fooling.report.search_report  # noqa: F401  (see the module's docstring)

    figures = {"benchmark": "memory_growth", **machine(torch.device("cpu")), "runs": {}}
    with tempfile.TemporaryDirectory() as folder:
        for encoding in ("direct", "cppn"):
            figures["runs"][encoding] = measure(
                encoding, args.generations, args.population, Path(folder)
            )
    save("memory_growth_cpu", figures)


if __name__ == "__main__":
    main()
