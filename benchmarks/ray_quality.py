"""Do 2 islands do as well as one process for the same evaluations? (issue 13)

    python benchmarks/ray_quality.py

For the same total evaluations, the median confidence and the classes at >= 0.99 of
one process against 2 islands (merging every 10 generations; each island runs the
same generations with half the population): MNIST LeNet (CPPN, 200 x 200 in all)
and a 100-class subset of EfficientNet-Lite0 (CPPN, every 10th class, 300 x 100).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine, save

import fooling
from fooling.distributed.cluster import connect
from fooling.distributed.islands import evolve_islands
from fooling.encodings import make_encoding
from fooling.search.evolution import Evolution

CASES = {
    "mnist": ("lenet-mnist", None, 200, 200),
    "lite0_100_classes": ("efficientnet-lite0", list(range(0, 1000, 10)), 300, 100),
}


def main() -> None:
    figures = {"benchmark": "ray_quality", **machine(torch.device("cpu")), "cases": {}}
    connect(cpus=2)
    for case, (name, classes, generations, population) in CASES.items():
        classifier = fooling.load_classifier(name, "cpu")

        def run(classifier=classifier, classes=classes, population=population) -> Evolution:
            encoding = make_encoding("cppn", classifier.input_shape)
            return Evolution(classifier, encoding, population=population, seed=0,
                             classes=classes)  # fmt: skip

        started = time.perf_counter()
        single = run().run(generations, progress=False)
        single_s = time.perf_counter() - started
        started = time.perf_counter()
        islands = evolve_islands(run(population=population // 2), generations, workers=2,
                                 migrate_every=10, progress=False, threads=1)  # fmt: skip
        islands_s = time.perf_counter() - started
        figures["cases"][case] = {
            "classifier": name, "classes": len(single.classes),
            "single": {"evaluations": single.evaluations, "generations": generations,
                       "median": single.median_confidence, "fooled_at_0.99": single.fooled(),
                       "seconds": round(single_s, 1)},
            "two_islands": {"evaluations": islands.evaluations, "generations": generations,
                            "population_each": population // 2,
                            "median": islands.median_confidence,
                            "fooled_at_0.99": islands.fooled(), "seconds": round(islands_s, 1)},
        }  # fmt: skip
        print(f"{case}: one process median {single.median_confidence:.5f}, "
              f"{single.fooled()} at >= 0.99 ({single.evaluations} evaluations, {single_s:.0f} s);"
              f" 2 islands median {islands.median_confidence:.5f}, {islands.fooled()} "
              f"({islands.evaluations}, {islands_s:.0f} s)")  # fmt: skip
    save("ray_quality_cpu", figures)


if __name__ == "__main__":
    main()
