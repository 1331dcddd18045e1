"""`fooling ascend`: fooling images by gradient ascent, written as a run directory."""

from __future__ import annotations

import argparse

from fooling.commands.arguments import (
    add_classifier_arguments,
    add_output_arguments,
    classifier_from,
    split_classes,
)
from fooling.limits import BLUR_EVERY, BLUR_SIGMA, L2, LEARNING_RATE, STEPS, THRESHOLD
from fooling.search.ascent import STARTS, ascend

HELP = "Fooling images by gradient ascent on the pixels, all classes at once."
EXAMPLE = "fooling ascend --classifier lenet-mnist --steps 200 --seed 0 --out runs/ascend"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `ascend`."""
    add_classifier_arguments(parser)
    add_output_arguments(parser, "ascend")
    parser.add_argument("--classes", nargs="+", help="target classes (indices or labels)")
    parser.add_argument("--steps", type=STEPS.parse, default=200, help="at most this many")
    parser.add_argument("--start", choices=STARTS, default="noise")
    parser.add_argument(
        "--lr", type=LEARNING_RATE.parse, default=0.05, help="Adam's first learning rate"
    )
    parser.add_argument("--l2", type=L2.parse, default=0.0, help="L2 decay per step, e.g. 0.01")
    parser.add_argument(
        "--blur-every", type=BLUR_EVERY.parse, default=0, metavar="K", help="blur every K steps"
    )
    parser.add_argument(
        "--blur-sigma", type=BLUR_SIGMA.parse, default=0.5, help="blur width in pixels"
    )
    parser.add_argument(
        "--threshold", type=THRESHOLD.parse, default=0.9999, help="a class stops here"
    )


def run(args: argparse.Namespace) -> int:
    """Ascend as the arguments say; returns the exit code."""
    result = ascend(
        classifier_from(args), steps=args.steps, classes=split_classes(args.classes),
        seed=args.seed, start=args.start, learning_rate=args.lr, l2=args.l2,
        blur_every=args.blur_every, blur_sigma=args.blur_sigma, threshold=args.threshold,
        progress=not args.quiet, out=args.out, force=args.force,
    )  # fmt: skip
    print(f"gallery: {args.out / 'gallery.html'}  ({result.headline()})")
    return 0
