"""`fooling ablate`: remove each elite's repeated copies one at a time, against a control."""

from __future__ import annotations

import argparse
from pathlib import Path

from fooling.classifiers import Classifier, load_classifier
from fooling.commands.arguments import (
    WEIGHTS_HELP,
    add_model_file_arguments,
    add_output_arguments,
    add_scoring_arguments,
    split_classes,
)
from fooling.errors import FoolingError
from fooling.limits import CONTROLS, MAX_ABLATION_STEPS, SHOW, TOP
from fooling.report.pages import write_pages
from fooling.runs.directory import RunDirectory

HELP = "Remove the repeated copies of each elite's motif one at a time, and score each step."
EXAMPLE = "fooling ablate runs/cppn --out runs/ablate"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `ablate`."""
    parser.add_argument(
        "run_dir", type=Path, metavar="RUN_DIR",
        help="a run directory of `fooling evolve` or `ascend`",
    )  # fmt: skip
    add_output_arguments(parser, "ablate")
    parser.add_argument(
        "--controls", type=CONTROLS.parse, default=3,
        help="random draws of the control (the same area removed elsewhere) per class "
        "(default: 3)",
    )  # fmt: skip
    parser.add_argument(
        "--max-steps", type=MAX_ABLATION_STEPS.parse, default=16,
        help="the most removal steps per class; more copies are removed in groups (default: 16)",
    )  # fmt: skip
    parser.add_argument("--classes", nargs="+", help="only these classes (indices or labels)")
    parser.add_argument(
        "--top", type=TOP.parse, metavar="N",
        help="ablate only the N classes whose elites have the highest confidence",
    )  # fmt: skip
    parser.add_argument(
        "--show", type=SHOW.parse, default=40,
        help="the most strips in the gallery, the most confident first (default: 40; every "
        "strip is in images/)",
    )  # fmt: skip
    parser.add_argument(
        "--classifier", metavar="NAME|FILE",
        help="score with this classifier (default: the one the run fooled, by its name)",
    )  # fmt: skip
    parser.add_argument("--weights", type=Path, help=WEIGHTS_HELP)
    add_scoring_arguments(parser, "the classifier")
    add_model_file_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Ablate the run as the arguments say; returns the exit code."""
    from fooling.experiments.ablate import ablate

    result = ablate(
        args.run_dir, classifier=_classifier(args), out=args.out, force=args.force, seed=args.seed,
        controls=args.controls, classes=split_classes(args.classes), top=args.top,
        max_steps=args.max_steps, show=args.show, progress=not args.quiet,
        pages=write_pages,
    )  # fmt: skip
    print(f"gallery: {args.out / 'gallery.html'}  ({result.headline()})")
    return 0


def _classifier(args: argparse.Namespace) -> Classifier:
    """The classifier to score with: `--classifier`, else the one the run names, in fp32.

    Raises:
        FoolingError: the run directory holds no finished run, the classifier
            cannot be loaded, or it is the run's own without the weights it fooled.
    """
    name = args.classifier
    if name is None:
        name = RunDirectory(args.run_dir).read_summary().get("classifier")
        if not isinstance(name, str):
            raise FoolingError(f"{args.run_dir} is not a search run (its summary names no model)")
    try:
        classifier = load_classifier(
            name, args.device, args.weights, input_shape=args.input_shape, labels=args.labels,
            mean=args.mean, std=args.std, outputs=args.outputs, precision="fp32",
            backend=args.backend,
        )  # fmt: skip
    except FoolingError as error:
        if args.classifier is not None:
            raise
        raise FoolingError(
            f"cannot load the classifier {name!r} that the run fooled: {error}; "
            "name it with --classifier"
        ) from None
    if args.classifier is None:
        from fooling.search.result import load_run

        load_run(args.run_dir).check_fooled(classifier, args.run_dir)
    return classifier
