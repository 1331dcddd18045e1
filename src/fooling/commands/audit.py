"""`fooling audit`: how easily a model is fooled, per method, on one report page."""

from __future__ import annotations

import argparse
from pathlib import Path

from fooling.classifiers import BUILT_IN, load_classifier
from fooling.commands.arguments import (
    DEFAULT_CLASSIFIER,
    add_classifier_arguments,
    add_output_arguments,
    classifier_from,
)
from fooling.detectors.detector import DETECTORS, check_detectors, check_readable
from fooling.errors import FoolingError

HELP = "Audit a model: how easily each method fools it, on one report page (report.html)."
EXAMPLE = "fooling audit --classifier my_model.onnx --labels classes.txt --out runs/audit"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `audit`."""
    from fooling.reproduce.audit import BUDGETS

    add_classifier_arguments(parser)
    parser.add_argument(
        "--budget", choices=tuple(BUDGETS), default="standard",
        help="quick: minutes; standard: the paper's MNIST setting (200 generations x 200 "
        "images per encoding); thorough: 1000 x 400",
    )  # fmt: skip
    parser.add_argument(
        "--reference", metavar="NAME|FILE",
        help="a model of the same input kind to transfer the fooling images to",
    )  # fmt: skip
    parser.add_argument(
        "--images", nargs="+", type=Path, metavar="IMAGE",
        help="real images for PGD (a 28 x 28 gray model is attacked on MNIST test digits)",
    )  # fmt: skip
    parser.add_argument(
        "--detectors", nargs="+", choices=DETECTORS, metavar="NAME",
        help=f"beyond the paper: score the fooling images with these out-of-distribution "
        f"detectors ({', '.join(DETECTORS)}) and evolve against each",
    )  # fmt: skip
    parser.add_argument(
        "--data", type=Path, metavar="FOLDER",
        help="with --detectors: the model's real images, one sub-folder per class "
        "(a 28 x 28 gray model uses MNIST)",
    )  # fmt: skip
    add_output_arguments(parser, "audit")


def run(args: argparse.Namespace) -> int:
    """Load the model, run (or continue) the audit's steps and write its page."""
    from fooling.reproduce import run_plan
    from fooling.reproduce.audit import AuditPlan

    classifier = classifier_from(args)  # bad input stops here, before anything is written
    classifier.trial()
    if args.data is not None and not args.detectors:
        raise FoolingError("--data is for --detectors")
    if args.detectors and classifier.differentiable:  # a black box gets "not applicable"
        check_readable(classifier, check_detectors(args.detectors))
    if args.data is not None and not args.data.is_dir():
        raise FoolingError(f"--data {args.data} is not a folder")
    if args.reference:
        file_options = {} if args.reference in BUILT_IN else {
            "input_shape": args.input_shape, "labels": args.labels, "mean": args.mean,
            "std": args.std,
        }  # fmt: skip
        load_classifier(args.reference, args.device, precision="fp32", **file_options).trial()
    plan = AuditPlan(
        classifier, model_arguments(args), budget=args.budget, reference=args.reference,
        images=[path.resolve() for path in args.images or []], seed=args.seed,
        detectors=args.detectors, data=None if args.data is None else args.data.resolve(),
    )  # fmt: skip
    report = run_plan(plan, args.out, parser=args.parser, force=args.force, quiet=args.quiet)
    print(report.headline)
    print(f"report: {args.out / 'report.html'}")
    return 0


def model_arguments(args: argparse.Namespace) -> list[str]:
    """The options that load the audited model again, for each step's command."""
    name = args.classifier or DEFAULT_CLASSIFIER
    if name not in BUILT_IN and ":" not in name:  # a file: the steps may run from elsewhere
        name = str(Path(name).resolve())
    arguments = ["--classifier", name]
    if args.weights:
        arguments += ["--weights", str(args.weights.resolve())]
    if args.input_shape:
        arguments += ["--input-shape", *map(str, args.input_shape)]
    if args.labels:
        arguments += ["--labels", str(args.labels.resolve())]
    for option, values in (("--mean", args.mean), ("--std", args.std)):
        if values:
            arguments += [option, *map(repr, values)]
    if args.outputs != "logits":
        arguments += ["--outputs", args.outputs]
    for option, value, default in (("--device", args.device, None),
                                   ("--precision", args.precision, "auto"),
                                   ("--backend", args.backend, "auto")):  # fmt: skip
        if value != default:
            arguments += [option, value]
    return arguments
