"""What a direct-encoding ImageNet run spends on checkpoints, every 50 generations and by
default (every 50, or fewer where writing them would take over 5% of the run's time).

    python benchmarks/checkpoint_cost.py [--generations 300] [--population 200]

Runs `fooling evolve --classifier efficientnet-lite0 --encoding direct --out DIR` twice
in this process after a warm-up, on one classifier loaded as the command loads it
(`--backend auto --precision auto`) and the same seed: once with the default, then with
`--checkpoint-every 50`, the schedule before the default changed (in that order, so that
what a first run pays, whose writes were the slower in trials, counts against the
default). Each checkpoint's write is timed (1000 images and their genomes in fp32:
750 MB). A run always writes its first and last; goal: by default each checkpoint
between them takes at most 5% of the time since the one before it ended, and the run is
faster than at every 50. The ratio printed is the wall time at every 50 over the
default's (> 1: the default is faster). The search is the same either way (the same
seed, the same figures).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine, save

import fooling
from fooling.search.checkpoints import SHARE
from fooling.search.evolution import Evolution

MODEL = "efficientnet-lite0"


def run(classifier: fooling.Classifier, every: int | None, generations: int, population: int,
        folder: Path) -> dict:  # fmt: skip
    """One run into `folder`: its wall time, and each checkpoint's generation, when it
    started (seconds into the run) and how long it took."""
    written: list[tuple[int, float, float]] = []
    save_checkpoint = Evolution.save
    started = time.perf_counter()

    def timed(evolution: Evolution, out: str | Path) -> Path:
        begun = time.perf_counter()
        path = save_checkpoint(evolution, out)
        written.append((evolution.generation, begun - started, time.perf_counter() - begun))
        return path

    Evolution.save = timed  # type: ignore[method-assign]
    try:
        result = fooling.evolve(classifier, encoding="direct", generations=generations,
                                population=population, seed=0, out=folder, progress=False,
                                checkpoint_every=every)  # fmt: skip
        wall = time.perf_counter() - started
    finally:
        Evolution.save = save_checkpoint  # type: ignore[method-assign]
    size = (folder / "checkpoint" / "state.safetensors").stat().st_size
    spent = sum(seconds for *_, seconds in written)
    # each checkpoint between the first and the run's last, over the time since the one
    # before it ended: what the schedule decides (a run's first and last are always written)
    between = [seconds / (at + seconds - before_at - before_seconds)
               for (_, before_at, before_seconds), (_, at, seconds)
               in itertools.pairwise(written[:-1])]  # fmt: skip
    return {
        "checkpoint_every": every if every is not None else "default",
        "wall_seconds": round(wall, 1),
        "checkpoints": [
            [generation, round(at, 1), round(seconds, 2)] for generation, at, seconds in written
        ],
        "checkpoint_seconds": round(spent, 1),
        "checkpoint_share": round(spent / wall, 4),
        "share_between_first_and_last": [round(share, 4) for share in between],
        "checkpoint_mib": round(size / 2**20, 1),
        "median_confidence": result.median_confidence,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=300)
    parser.add_argument("--population", type=int, default=200)
    args = parser.parse_args()
    classifier = fooling.load_classifier(MODEL, "cpu")
    fooling.evolve(classifier, encoding="direct", generations=2, population=args.population,
                   progress=False)  # warm up, so that neither run pays for it  # fmt: skip
    runs = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, every in (("default", None), ("every_50", 50)):
            runs[name] = run(classifier, every, args.generations, args.population,
                             Path(folder) / name)  # fmt: skip
            one = runs[name]
            print(f"{name:>8}: {one['wall_seconds']} s, {len(one['checkpoints'])} checkpoints "
                  f"of {one['checkpoint_mib']} MiB taking {one['checkpoint_seconds']} s "
                  f"({one['checkpoint_share']:.1%})")  # fmt: skip
    ratio = runs["every_50"]["wall_seconds"] / runs["default"]["wall_seconds"]
    same = runs["every_50"]["median_confidence"] == runs["default"]["median_confidence"]
    between = runs["default"]["share_between_first_and_last"]
    met = bool(between) and max(between) <= SHARE and ratio > 1
    print(f"wall time at every 50 over the default's: {ratio:.2f}x; the same search: {same}; "
          f"goal (each of the default's checkpoints between its first and last <= "
          f"{SHARE:.0%} of the time since the one before, and faster): "
          f"{'met' if met else 'MISSED'}")  # fmt: skip
    save("checkpoint_cost_cpu", {
        "benchmark": "checkpoint_cost",
        **machine(torch.device("cpu")),
        "model": MODEL,
        "backend": f"{classifier.backend} {classifier.precision}",
        "encoding": "direct",
        "generations": args.generations,
        "population": args.population,
        "runs": runs,
        "ratio_every_50_over_default": round(ratio, 3),
        "same_search": same,
        "goal_share": SHARE,
        "met": met,
    })  # fmt: skip


if __name__ == "__main__":
    main()
