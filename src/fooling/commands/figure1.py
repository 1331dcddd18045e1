"""`fooling figure1`: the paper's Figure 1 drawn from real runs on a 2-D problem."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from fooling.commands.arguments import add_output_arguments
from fooling.runs.directory import RunDirectory

HELP = "The paper's Figure 1 from real runs on a 2-D, three-class problem."
EXAMPLE = "fooling figure1 --out runs/figure1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `figure1`."""
    add_output_arguments(parser, "figure1")


def run(args: argparse.Namespace) -> int:
    """Train, search, attack and draw; returns the exit code."""
    from fooling.experiments.figure1 import make_figure1
    from fooling.report.figure1 import plot_figure1  # (loads matplotlib)

    with RunDirectory(args.out).claim(force=args.force) as directory:
        picture = make_figure1(seed=args.seed, progress=not args.quiet)
        figure = directory.path / "figure1.png"
        plot_figure1(picture, figure)
        fooling = picture.mean_distance(("evolution", "ascent"))
        adversarial = picture.mean_distance(("adversarial",))
        directory.write_summary({
            "method": "figure1",
            "seed": args.seed,
            "mean_distance_fooling": fooling,
            "mean_distance_adversarial": adversarial,
            "ratio": fooling / adversarial,
            "points": [asdict(point) for point in picture.found],
        })  # fmt: skip
    for point in picture.found:
        print(f"{point.kind:>11}  class {point.predicted}  confidence {point.confidence:.4f}  "
              f"nearest training point {point.distance:.2f}")  # fmt: skip
    ratio = fooling / adversarial
    print(f"fooling points lie {fooling:.2f} from the data on average, adversarial points "
          f"{adversarial:.2f} ({ratio:.1f}x); figure: {figure}")  # fmt: skip
    return 0
