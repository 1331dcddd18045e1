"""`fooling transfer`: score the elites of finished runs with other classifiers."""

from __future__ import annotations

import argparse
from pathlib import Path

from fooling.classifiers import BUILT_IN, Classifier, load_classifier
from fooling.commands.arguments import (
    add_model_file_arguments,
    add_output_arguments,
    add_scoring_arguments,
    add_worker_arguments,
    worker_options,
)
from fooling.errors import FoolingError
from fooling.limits import SHOW
from fooling.report.pages import write_pages

HELP = "Score the fooling images of finished runs with other classifiers (do they transfer?)."
EXAMPLE = "fooling transfer runs/cppn runs/direct --to lenet-mnist-b --out runs/transfer"
MODEL_FILE_OPTIONS = ("input_shape", "labels", "mean", "std")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `transfer`."""
    parser.add_argument(
        "runs", nargs="+", type=Path, metavar="RUN_DIR",
        help="run directories of `fooling evolve` or `fooling ascend`",
    )  # fmt: skip
    parser.add_argument(
        "--to", nargs="+", required=True, metavar="NAME|FILE", dest="targets",
        help="target classifiers: built-in names (lenet-mnist-b, efficientnet-lite1, ...) or "
        "model files; classes are matched by label",
    )  # fmt: skip
    add_output_arguments(parser, "transfer", random=False)  # every elite, every target
    add_scoring_arguments(parser, "the targets")
    parser.add_argument(
        "--show", type=SHOW.parse, default=100,
        help="the most images per run and target in the gallery, those the run was most "
        "confident in (default: 100; summary.json has them all)",
    )  # fmt: skip
    add_model_file_arguments(parser)
    add_worker_arguments(parser, "targets scored")


def run(args: argparse.Namespace) -> int:
    """Score every run's elites with every target; returns the exit code."""
    from fooling.experiments.transfer import transfer

    targets = [target_from(name, args) for name in args.targets]
    result = transfer(
        args.runs, targets, out=args.out, force=args.force, show=args.show,
        progress=not args.quiet, **worker_options(args),
        pages=write_pages,
    )  # fmt: skip
    print(f"gallery: {args.out / 'gallery.html'}  ({result.headline()})")
    return 0


def target_from(name: str, args: argparse.Namespace) -> Classifier:
    """The target classifier `name` names, scoring in fp32; model-file options go to files.

    Raises:
        FoolingError: as `load_classifier`, or model-file options given with built-in
            targets only.
    """
    if name in BUILT_IN:
        given = [option for option in MODEL_FILE_OPTIONS if getattr(args, option) is not None]
        if given and all(target in BUILT_IN for target in args.targets):
            option = given[0].replace("_", "-")
            raise FoolingError(f"--{option} is for targets given as model files, and none is")
        return load_classifier(name, args.device, precision="fp32", backend=args.backend)
    return load_classifier(
        name, args.device, input_shape=args.input_shape, labels=args.labels, mean=args.mean,
        std=args.std, outputs=args.outputs, precision="fp32", backend=args.backend,
    )  # fmt: skip
