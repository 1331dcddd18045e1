"""LeNet's training on the real MNIST, channels-last (`LENET_RECIPE`) against the default layout.

    python benchmarks/train_layout.py [--steps 400] [--epoch-threads 2]

In this process, for one thread (as each worker of `scripts/test.sh` has) and for every
core: `--steps` updates of `LENET_RECIPE` (batches of 64, SGD) in each layout, twice each
in the order default, channels-last, channels-last, default, the faster of each pair
kept. Then one whole epoch in each layout, from the same seed, with its test accuracy:
the layout changes the rounding of the sums, not what the network learns. The ratio
printed is the default's seconds per update over channels-last's (> 1: channels-last
is faster).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine, save

from fooling.classifiers.lenet import LeNet
from fooling.data.mnist import load_mnist
from fooling.training.train_lenet import LENET_RECIPE
from fooling.training.trainer import evaluate, train

LAYOUTS = {"default": False, "channels_last": True}


def updates(data, channels_last: bool, steps: int) -> float:
    """Seconds per update over `steps` updates of a new LeNet."""
    recipe = dataclasses.replace(LENET_RECIPE, max_steps=steps, channels_last=channels_last)
    torch.manual_seed(0)
    trained = train(LeNet(), data, recipe, progress=False)
    return trained.seconds / trained.steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--epoch-threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    data, test = load_mnist("train"), load_mnist("test")
    threads = {}
    for count in sorted({1, os.cpu_count() or 1}):
        torch.set_num_threads(count)
        updates(data, False, 20)  # warm-up
        times = {name: [] for name in LAYOUTS}
        for name in ("default", "channels_last", "channels_last", "default"):
            times[name].append(updates(data, LAYOUTS[name], args.steps))
        best = {name: min(seconds) for name, seconds in times.items()}
        ratio = best["default"] / best["channels_last"]
        threads[str(count)] = {
            "ms_per_update": {name: round(1000 * s, 2) for name, s in best.items()},
            "ratio_default_over_channels_last": round(ratio, 3),
        }
        print(f"{count} thread(s): default {1000 * best['default']:.1f} ms per update, "
              f"channels-last {1000 * best['channels_last']:.1f} ms: {ratio:.2f}x")  # fmt: skip
    torch.set_num_threads(args.epoch_threads)
    epoch = {}
    for name, channels_last in LAYOUTS.items():
        recipe = dataclasses.replace(LENET_RECIPE, epochs=1, channels_last=channels_last)
        torch.manual_seed(0)
        network = LeNet()
        trained = train(network, data, recipe, progress=False)
        accuracy = evaluate(network, *test)
        epoch[name] = {"seconds": round(trained.seconds, 1), "test_accuracy": accuracy}
        print(f"one epoch, {name}: {trained.seconds:.1f} s, test accuracy {accuracy:.4f}")
    save("train_layout_cpu", {
        "benchmark": "train_layout",
        **machine(torch.device("cpu")),
        "recipe": dataclasses.asdict(LENET_RECIPE),
        "steps": args.steps,
        "threads": threads,
        "one_epoch": epoch,
        "epoch_threads": args.epoch_threads,
    })  # fmt: skip


if __name__ == "__main__":
    main()
