"""Islands on Ray against one process (issue 13): evaluations per second, and merge overhead.

    python benchmarks/ray_scaling.py [--generations 1600]

MNIST LeNet, CPPN encoding, 200 images per generation, every process on one torch
thread. In the same script: one process on one thread (the baseline), then 1 and 2
islands on a local Ray cluster of 2 CPUs (bound to 127.0.0.1), merging every 20
generations. Scaling efficiency = islands' evaluations per second / (islands x
baseline); goal >= 0.8 with 2 islands on 2 cores. Each island run is timed twice:
whole (actors started inside) and steady (a second run on a warm cluster). The
overhead per merge is measured with rounds of one generation against rounds of 20.
"""

from __future__ import annotations

import argparse
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

POPULATION = 200
MIGRATE_EVERY = 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=1600)
    args = parser.parse_args()
    torch.set_num_threads(1)
    classifier = fooling.load_classifier("lenet-mnist", "cpu", backend="torch")

    def run() -> Evolution:
        encoding = make_encoding("cppn", classifier.input_shape)
        return Evolution(classifier, encoding, population=POPULATION, seed=0)

    started = time.perf_counter()
    single = run().run(args.generations, progress=False)
    baseline = single.evaluations / (time.perf_counter() - started)
    figures = {"benchmark": "ray_scaling", **machine(classifier.device),
               "generations": args.generations, "population": POPULATION,
               "migrate_every": MIGRATE_EVERY, "single_process_evaluations_per_s": round(baseline),
               "single_process": {"median": single.median_confidence,
                                  "fooled_at_0.99": single.fooled()}}  # fmt: skip
    connect(cpus=2)
    for workers in (1, 2):
        for kind in ("whole", "steady"):
            started = time.perf_counter()
            result = evolve_islands(run(), args.generations, workers=workers,
                                    migrate_every=MIGRATE_EVERY, progress=False)  # fmt: skip
            rate = result.evaluations / (time.perf_counter() - started)
            figures[f"{workers}_islands_{kind}"] = {
                "evaluations_per_s": round(rate), "efficiency": round(rate / baseline / workers, 3),
                "median": result.median_confidence, "fooled_at_0.99": result.fooled(),
            }  # fmt: skip
            print(f"{workers} island(s), {kind}: {rate:,.0f} evaluations/s, efficiency "
                  f"{rate / baseline / workers:.2f}")  # fmt: skip
    short = 200
    timings = {}
    for every in (1, MIGRATE_EVERY):
        started = time.perf_counter()
        evolve_islands(run(), short, workers=2, migrate_every=every, progress=False)
        timings[every] = time.perf_counter() - started
    merges = short + 1 - (short + 1) // MIGRATE_EVERY
    figures["overhead_per_merge_s"] = round((timings[1] - timings[MIGRATE_EVERY]) / merges, 4)
    print(f"single process: {baseline:,.0f} evaluations/s; overhead per merge "
          f"{figures['overhead_per_merge_s'] * 1000:.1f} ms")  # fmt: skip
    save("ray_scaling_cpu", figures)


if __name__ == "__main__":
    main()
