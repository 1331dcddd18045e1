"""Do 2 islands do as well as one process for the same evaluations? (issue 13)

    python benchmarks/ray_quality.py [--seeds 6] [--generations 150] [--mnist-seeds 3]

For the same total evaluations, the median confidence and the classes at >= 0.99 of
one process against 2 islands, each island running the same generations with half
the population, merging every 10 generations (the default) and every generation:
MNIST LeNet (CPPN, 200 x 200 in all) and a 100-class subset of EfficientNet-Lite0
(CPPN, every 10th class, `--generations` x 100 in all), over `--seeds` seeds each.
Short Lite0 runs differ a lot from seed to seed, so the figures are per seed, with
the mean of the paired differences (islands - one process) and its standard error.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine, save

import fooling
from fooling.distributed.cluster import connect
from fooling.encodings import make_encoding
from fooling.search.evolution import Evolution
from fooling.search.islands import evolve_islands

MERGES = (10, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=6)
    parser.add_argument("--generations", type=int, default=150, help="of the Lite0 runs")
    parser.add_argument("--mnist-seeds", type=int, default=3)
    args = parser.parse_args()
    cases = {
        "mnist": ("lenet-mnist", None, 200, 200, args.mnist_seeds),
        "lite0_100_classes": ("efficientnet-lite0", list(range(0, 1000, 10)), args.generations,
                              100, args.seeds),
    }  # fmt: skip
    figures = {"benchmark": "ray_quality", **machine(torch.device("cpu")), "cases": {}}
    connect(cpus=2)
    for case, (name, classes, generations, population, seeds) in cases.items():
        if seeds == 0:
            continue
        classifier = fooling.load_classifier(name, "cpu")

        def run(population: int, seed: int, classifier=classifier, classes=classes) -> Evolution:
            encoding = make_encoding("cppn", classifier.input_shape)
            return Evolution(classifier, encoding, population=population, seed=seed,
                             classes=classes)  # fmt: skip

        rows = []
        for seed in range(seeds):
            started = time.perf_counter()
            single = run(population, seed).run(generations, progress=False)
            row = {"seed": seed, "single": figures_of(single, time.perf_counter() - started)}
            for every in MERGES:
                started = time.perf_counter()
                islands = evolve_islands(run(population // 2, seed), generations, workers=2,
                                         migrate_every=every, progress=False)  # fmt: skip
                assert islands.evaluations == single.evaluations
                row[f"islands_every_{every}"] = figures_of(islands, time.perf_counter() - started)
            rows.append(row)
            print(case, row, flush=True)
        summary = {}
        for every in MERGES:
            key = f"islands_every_{every}"
            for figure in ("median", "fooled_at_0.99"):
                differences = [row[key][figure] - row["single"][figure] for row in rows]
                error = statistics.stdev(differences) / len(rows) ** 0.5 if len(rows) > 1 else None
                summary[f"{key}_{figure}"] = {
                    "islands_mean": statistics.mean(row[key][figure] for row in rows),
                    "single_mean": statistics.mean(row["single"][figure] for row in rows),
                    "mean_difference": statistics.mean(differences), "standard_error": error,
                }  # fmt: skip
                print(f"{case} {key} {figure}: {summary[f'{key}_{figure}']}")
        figures["cases"][case] = {
            "classifier": name, "classes": len(classes or range(classifier.num_classes)),
            "generations": generations, "population": population,
            "population_per_island": population // 2, "seeds": rows, "summary": summary,
        }  # fmt: skip
    save("ray_quality_cpu" if args.generations == 150 else f"ray_quality_{args.generations}_cpu",
         figures)  # fmt: skip


def figures_of(result, seconds: float) -> dict:
    return {"median": result.median_confidence, "fooled_at_0.99": result.fooled(),
            "evaluations": result.evaluations, "seconds": round(seconds, 1)}  # fmt: skip


if __name__ == "__main__":
    main()
