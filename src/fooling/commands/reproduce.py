"""`fooling reproduce`: the paper's experiments with its settings, and one page beside it."""

from __future__ import annotations

import argparse
from pathlib import Path

from fooling.commands.arguments import add_output_arguments
from fooling.errors import FoolingError
from fooling.experiments.retrain import ITERATIONS
from fooling.reproduce.mnist import PAPER_SEEDS, QUICK_SEEDS, SEEDS

HELP = "Re-run the paper's experiments and write report.html beside the paper's figures."
EXAMPLE = "fooling reproduce mnist --quick --out runs/reproduce"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `reproduce`."""
    parser.add_argument("dataset", choices=("mnist", "imagenet"))
    parser.add_argument(
        "--quick", action="store_true",
        help="scaled down (each scaled row says how); on two CPU cores mnist takes about a "
        "minute, imagenet about 15 minutes",
    )  # fmt: skip
    parser.add_argument(
        "--retrain-iterations", type=ITERATIONS.parse, metavar="N",
        help="MNIST retraining iterations (default: the paper's 15; 1 with --quick)",
    )  # fmt: skip
    parser.add_argument(
        "--seeds", type=SEEDS.parse, metavar="N",
        help=f"MNIST evolution runs of each encoding (default: {PAPER_SEEDS}, the paper's "
        f"\"several\"; {QUICK_SEEDS} with --quick)",
    )  # fmt: skip
    parser.add_argument(
        "--data", type=Path, metavar="FOLDER",
        help="imagenet: labelled photos (one sub-folder per class) to include retraining",
    )  # fmt: skip
    parser.add_argument(
        "--answers", nargs="+", type=Path, metavar="ANSWERS.json",
        help="answers saved by `fooling study` pages, scored on the report",
    )  # fmt: skip
    add_output_arguments(parser, "reproduce", random=False)


def run(args: argparse.Namespace) -> int:
    """Run (or continue) the report's steps and write its page; returns the exit code."""
    from fooling.reproduce import check_packages, run_plan
    from fooling.reproduce.imagenet import ImagenetPlan
    from fooling.reproduce.mnist import MnistPlan

    if args.dataset == "mnist":
        if args.data is not None:
            raise FoolingError("--data is for imagenet: MNIST comes with fooling")
        plan = MnistPlan(quick=args.quick, retrain_iterations=args.retrain_iterations,
                         seeds=args.seeds)  # fmt: skip
    else:
        if args.retrain_iterations is not None:
            raise FoolingError("--retrain-iterations is for mnist (imagenet retrains once)")
        if args.seeds is not None:
            raise FoolingError("--seeds is for mnist (imagenet evolves once per encoding)")
        if args.data is not None and not args.data.is_dir():
            raise FoolingError(f"--data {args.data} is not a folder")
        plan = ImagenetPlan(quick=args.quick, data=args.data)
    check_packages(plan.packages())  # now, not hours later at the first step that needs one
    report = run_plan(
        plan, args.out, parser=args.parser, force=args.force, quiet=args.quiet, answers=args.answers
    )
    print(report.headline)
    print(f"report: {args.out / 'report.html'}")
    return 0
