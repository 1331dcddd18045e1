"""Islands on Ray against one process (issue 13): evaluations per second, and merge overhead.

    python benchmarks/ray_scaling.py [--generations 1600] [--repeats 3]

MNIST LeNet, CPPN encoding, 200 images per generation, every process on one torch
thread, islands on a local Ray cluster of 2 CPUs (bound to 127.0.0.1) merging every
20 generations. Scaling efficiency = the islands' evaluations per second / (islands x
one process on one thread). Each repeat times, in turn, the baseline (one process),
1 island and 2 islands, each island run twice: whole (its actors started inside the
timing) and steady (the same run again on the warm cluster); the figures are the
medians of the repeats' ratios, so a slow moment of the machine moves one ratio, not
all. Goal >= 0.8 with 2 islands on 2 cores. The overhead per merge is measured with
rounds of one generation against rounds of 20.
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

POPULATION = 200
MIGRATE_EVERY = 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=1600)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    classifier = fooling.load_classifier("lenet-mnist", "cpu", backend="torch")

    def run() -> Evolution:
        encoding = make_encoding("cppn", classifier.input_shape)
        return Evolution(classifier, encoding, population=POPULATION, seed=0)

    def rate(workers: int) -> float:
        started = time.perf_counter()
        if workers == 0:
            result = run().run(args.generations, progress=False)
        else:
            result = evolve_islands(run(), args.generations, workers=workers,
                                    migrate_every=MIGRATE_EVERY, progress=False)  # fmt: skip
        return result.evaluations / (time.perf_counter() - started)

    connect(cpus=2)
    repeats = []
    for repeat in range(args.repeats):
        rates = {"single_process": rate(0)}
        for workers in (1, 2):
            rates[f"{workers}_islands_whole"] = rate(workers)  # (Ray starts new actors each run)
            rates[f"{workers}_islands_steady"] = rate(workers)
        repeats.append({key: round(value) for key, value in rates.items()})
        print(f"repeat {repeat}: " + ", ".join(f"{key} {value:,.0f}/s"
                                               for key, value in rates.items()))  # fmt: skip
    figures = {"benchmark": "ray_scaling", **machine(classifier.device),
               "generations": args.generations, "population": POPULATION,
               "migrate_every": MIGRATE_EVERY, "evaluations_per_s": repeats}  # fmt: skip
    for workers in (1, 2):
        for kind in ("whole", "steady"):
            key = f"{workers}_islands_{kind}"
            ratios = [row[key] / row["single_process"] / workers for row in repeats]
            figures[f"{key}_efficiency"] = round(statistics.median(ratios), 3)
            figures[f"{key}_efficiency_range"] = [round(min(ratios), 3), round(max(ratios), 3)]
            print(f"{workers} island(s), {kind}: efficiency {statistics.median(ratios):.2f} "
                  f"(repeats {min(ratios):.2f}-{max(ratios):.2f})")  # fmt: skip
    short = 200
    timings = {}
    for every in (1, MIGRATE_EVERY):
        started = time.perf_counter()
        evolve_islands(run(), short, workers=2, migrate_every=every, progress=False)
        timings[every] = time.perf_counter() - started
    merges = (short + 1) - -(-(short + 1) // MIGRATE_EVERY)  # extra merges at 1 generation each
    figures["overhead_per_merge_s"] = round((timings[1] - timings[MIGRATE_EVERY]) / merges, 4)
    print(f"overhead per merge {figures['overhead_per_merge_s'] * 1000:.1f} ms")
    save("ray_scaling_cpu", figures)


if __name__ == "__main__":
    main()
