"""The distance to the nearest real MNIST digit: `NearReal.distances` against `torch.cdist`.

    python benchmarks/near_real_speed.py [--queries 1024] [--repeats 3]

In this process, for one thread and for every core: `--queries` real test digits, each
measured against all 60,000 training digits, by `NearReal.distances` (the squared norms
of the training digits computed once per slice, `torch.addmm`) and by the way it was
computed before (`torch.cdist` on each slice of 256 queries), the faster of `--repeats`
runs each. The ratio printed is cdist's seconds over NearReal's (> 1: NearReal is
faster); the largest difference between the two answers is printed too.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _machine import fastest, machine, save

from fooling.data.mnist import load_mnist
from fooling.experiments.near_real import NearReal


def with_cdist(queries: torch.Tensor, training: torch.Tensor) -> torch.Tensor:
    """The computation before: cdist on each slice of 256 queries (all of MNIST is one slice)."""
    reference = training.float().flatten(1)
    flat = queries.float().flatten(1)
    return torch.cat([torch.cdist(part, reference).amin(dim=1) for part in flat.split(256)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    training, test = load_mnist("train")[0], load_mnist("test")[0]
    queries = test[: args.queries]
    near_real = NearReal(training, cutoff=0.0)  # (flattens the training digits once, as a run)
    threads = {}
    for count in sorted({1, os.cpu_count() or 1}):
        torch.set_num_threads(count)
        ours, found = fastest(lambda: near_real.distances(queries), args.repeats)
        before, exact = fastest(lambda: with_cdist(queries, training), args.repeats)
        difference = float((found - exact).abs().max())
        threads[str(count)] = {
            "seconds_near_real": round(ours, 3),
            "seconds_cdist": round(before, 3),
            "ratio_cdist_over_near_real": round(before / ours, 3),
            "largest_difference": difference,
        }
        print(f"{count} thread(s): NearReal {ours:.3f} s, cdist {before:.3f} s: "
              f"{before / ours:.2f}x; largest difference {difference:.1e}")  # fmt: skip
    save("near_real_speed_cpu", {
        "benchmark": "near_real_speed",
        **machine(torch.device("cpu")),
        "queries": args.queries,
        "training_images": len(training),
        "threads": threads,
    })  # fmt: skip


if __name__ == "__main__":
    main()
