"""What a direct-encoding ImageNet run spends on checkpoints, every 50 generations and by
default (every 50, or fewer where writing them would take over 5% of the run's time).

    python benchmarks/checkpoint_cost.py [--generations 300] [--population 200]

Runs `fooling evolve --classifier efficientnet-lite0 --encoding direct --out DIR` twice
in this process after a short warm-up run, on one classifier loaded as the command loads
it (`--backend auto --precision auto`) and the same seed: once with the default, then
with `--checkpoint-every 50`, the schedule before the default changed. Each checkpoint's
write is timed (1000 images and their genomes in fp32: 750 MB), and the share of the
run spent writing them is given over the whole run and between its first checkpoint
(written at once) and its last (written at the end, due or not), which is what the
schedule decides. Goal: by default at most 5% there, and the run faster than at every
50. The ratio printed is the wall time at every 50 over the default's (> 1: the default
is faster). The search is the same either way (the same seed, the same figures).
"""

from __future__ import annotations

import argparse
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
    # what the schedule decides: the share of the time spent writing from the end of the
    # run's first checkpoint (written at once) to the end of the one before its last (which
    # the run's end writes, due or not)
    between = written[1:-1]
    spent_between = sum(seconds for *_, seconds in between)
    span = between[-1][1] + between[-1][2] - written[0][1] - written[0][2] if between else 0.0
    return {
        "checkpoint_every": every if every is not None else "default",
        "wall_seconds": round(wall, 1),
        "checkpoints": [
            [generation, round(at, 1), round(seconds, 2)] for generation, at, seconds in written
        ],
        "checkpoint_seconds": round(spent, 1),
        "checkpoint_share": round(spent / wall, 4),
        "share_between_first_and_last": round(spent_between / span, 4) if span else None,
        "checkpoint_mib": round(size / 2**20, 1),
        "median_confidence": result.median_confidence,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=300)
    parser.add_argument("--population", type=int, default=200)
    args = parser.parse_args()
    classifier = fooling.load_classifier(MODEL, "cpu")
    runs = {}
    with tempfile.TemporaryDirectory() as folder:
        # a warm-up with checkpoints of its own: in trials without it, whichever run came
        # first wrote them two to three times slower
        run(classifier, 1, 2, args.population, Path(folder) / "warm-up")
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
    met = between is not None and between <= SHARE and ratio > 1
    print(f"wall time at every 50 over the default's: {ratio:.2f}x; the share of time the "
          f"default's checkpoints take between its first and last: {between} (every 50: "
          f"{runs['every_50']['share_between_first_and_last']}); the same search: {same}; "
          f"goal (at most {SHARE:.0%} there, and faster): "
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
        "schedule_share": SHARE,
        "met": met,
    })  # fmt: skip


if __name__ == "__main__":
    main()
