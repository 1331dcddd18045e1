"""`fooling ascend`: fooling images by gradient ascent, written as a run directory."""

from __future__ import annotations

import argparse

from fooling.commands.arguments import (
    add_classifier_arguments,
    add_output_arguments,
    classifier_from,
    split_classes,
)
from fooling.errors import FoolingError
from fooling.limits import (
    BLUR_EVERY,
    BLUR_SIGMA,
    JITTER,
    L2,
    LEARNING_RATE,
    ROTATE,
    STEPS,
    THRESHOLD,
    ZOOM,
)
from fooling.report.pages import write_pages
from fooling.search.ascent import STARTS, ascend
from fooling.search.priors import DEFAULT_PARAMETERISATION, PARAMETERISATIONS, Transforms

HELP = "Fooling images by gradient ascent, all classes at once."
EXAMPLE = "fooling ascend --classifier lenet-mnist --steps 200 --seed 0 --out runs/ascend"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `ascend`."""
    add_classifier_arguments(parser)
    add_output_arguments(parser, "ascend")
    parser.add_argument("--classes", nargs="+", help="target classes (indices or labels)")
    parser.add_argument("--steps", type=STEPS.parse, default=200, help="at most this many")
    parser.add_argument("--start", choices=STARTS, default="noise")
    parser.add_argument(
        "--lr", type=LEARNING_RATE.parse,
        help="Adam's first learning rate (default: 0.05; 0.5 for --param cppn)",
    )  # fmt: skip
    parser.add_argument("--l2", type=L2.parse, default=0.0, help="L2 decay per step, e.g. 0.01")
    parser.add_argument(
        "--blur-every", type=BLUR_EVERY.parse, default=0, metavar="K", help="blur every K steps"
    )
    parser.add_argument(
        "--blur-sigma", type=BLUR_SIGMA.parse, default=0.5, help="blur width in pixels"
    )
    parser.add_argument(
        "--threshold", type=THRESHOLD.parse, default=0.9999, help="a class stops here, in fp32"
    )
    parser.add_argument(
        "--param", choices=PARAMETERISATIONS, default=DEFAULT_PARAMETERISATION,
        help="what is optimised: pixel (the pixels: the paper's ascent), fft (a Fourier "
        "spectrum scaled by 1/frequency, colours decorrelated: natural-image statistics), "
        "cppn (the weights of a fixed random CPPN per image) (default: fft, whose images "
        "other networks most often see as their class)",
    )  # fmt: skip
    parser.add_argument(
        "--jitter", type=JITTER.parse, metavar="P",
        help="before each step, shift each image by up to P pixels at random (default: "
        "none for --param pixel, else 8 per 224 pixels of the image)",
    )  # fmt: skip
    parser.add_argument(
        "--scale", type=ZOOM.parse, nargs=2, metavar=("LOW", "HIGH"),
        help="before each step, zoom each image by a random factor in [LOW, HIGH] "
        "(default: 1 1 for --param pixel, else 0.9 1.1)",
    )  # fmt: skip
    parser.add_argument(
        "--rotate", type=ROTATE.parse, metavar="DEGREES",
        help="before each step, turn each image by up to this many degrees either way "
        "(default: 0 for --param pixel, else 10)",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Ascend as the arguments say; returns the exit code."""
    classifier = classifier_from(args)
    result = ascend(
        classifier, steps=args.steps, classes=split_classes(args.classes),
        seed=args.seed, start=args.start, learning_rate=args.lr, l2=args.l2,
        blur_every=args.blur_every, blur_sigma=args.blur_sigma, threshold=args.threshold,
        progress=not args.quiet, out=args.out, force=args.force, param=args.param,
        transforms=transforms_from(args, min(classifier.input_shape[1:])),
        pages=write_pages,
    )  # fmt: skip
    print(f"gallery: {args.out / 'gallery.html'}  ({result.headline()})")
    return 0


def transforms_from(args: argparse.Namespace, side: int) -> Transforms:
    """The random transforms `--jitter`, `--scale` and `--rotate` ask for; those not
    given take `--param`'s defaults for images of `side` pixels.

    Raises:
        FoolingError: a `--scale` range whose low end is above its high end.
    """
    default = Transforms.default(args.param, side)
    low, high = default.scale if args.scale is None else args.scale
    if low > high:
        raise FoolingError(f"--scale LOW HIGH needs LOW <= HIGH, got {low:g} {high:g}")
    return Transforms(
        jitter=default.jitter if args.jitter is None else args.jitter, scale=(low, high),
        rotate=default.rotate if args.rotate is None else args.rotate,
    )  # fmt: skip
