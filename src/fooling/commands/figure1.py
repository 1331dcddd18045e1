"""`fooling figure1`: the paper's Figure 1 drawn from real runs on a 2-D problem."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from fooling.report._atomic import atomic_write_text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `figure1`."""
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/figure1"))


def run(args: argparse.Namespace) -> int:
    """Train, search, attack and draw; returns the exit code."""
    from fooling.experiments.figure1 import make_figure1
    from fooling.report.figure1 import plot_figure1

    picture = make_figure1(seed=args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    plot_figure1(picture, args.out / "figure1.png")
    fooling = picture.mean_distance(("evolution", "ascent"))
    adversarial = picture.mean_distance(("adversarial",))
    summary = {
        "seed": args.seed,
        "mean_distance_fooling": fooling,
        "mean_distance_adversarial": adversarial,
        "ratio": fooling / adversarial,
        "points": [asdict(point) for point in picture.found],
    }
    atomic_write_text(args.out / "summary.json", json.dumps(summary, indent=2) + "\n")
    for point in picture.found:
        print(f"{point.kind:>11}  class {point.predicted}  confidence {point.confidence:.4f}  "
              f"nearest training point {point.distance:.2f}")  # fmt: skip
    ratio = fooling / adversarial
    print(f"fooling points lie {fooling:.2f} from the data on average, adversarial points "
          f"{adversarial:.2f} ({ratio:.1f}x); figure: {args.out / 'figure1.png'}")  # fmt: skip
    return 0
