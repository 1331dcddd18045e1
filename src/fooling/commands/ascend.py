"""`fooling ascend`: fooling images by gradient ascent, written as a run directory."""

from __future__ import annotations

import argparse
from pathlib import Path

from fooling.commands.arguments import add_classifier_arguments, classifier_from, positive_int
from fooling.commands.evolve import headline, parse_classes
from fooling.commands.run_directory import claim_run_directory
from fooling.search.ascent import STARTS, ascend


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `ascend`."""
    add_classifier_arguments(parser)
    parser.add_argument("--classes", nargs="+", help="target classes (indices or labels)")
    parser.add_argument("--steps", type=positive_int, default=200, help="at most this many")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start", choices=STARTS, default="noise")
    parser.add_argument("--lr", type=float, default=0.05, help="Adam's first learning rate")
    parser.add_argument("--l2", type=float, default=0.0, help="L2 decay per step, e.g. 0.01")
    parser.add_argument("--blur-every", type=int, default=0, metavar="K", help="blur every K steps")
    parser.add_argument("--blur-sigma", type=float, default=0.5, help="blur width in pixels")
    parser.add_argument("--threshold", type=float, default=0.9999, help="a class stops here")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--force", action="store_true", help="replace a run already in --out")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Ascend as the arguments say; returns the exit code."""
    classifier = classifier_from(args)
    classes = parse_classes(args.classes, classifier)
    claim_run_directory(args.out, force=args.force)
    result = ascend(
        classifier, steps=args.steps, classes=classes, seed=args.seed, start=args.start,
        learning_rate=args.lr, l2=args.l2, blur_every=args.blur_every,
        blur_sigma=args.blur_sigma, threshold=args.threshold, progress=not args.quiet,
    )  # fmt: skip
    gallery = result.save(args.out)
    print(f"gallery: {gallery}  ({headline(result)})")
    return 0
