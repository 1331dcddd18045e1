"""`fooling study`: a page that asks people which class each fooling image shows, and its score."""

from __future__ import annotations

import argparse
from pathlib import Path

from fooling.commands.arguments import add_output_arguments
from fooling.errors import FoolingError
from fooling.report.study_page import PER_RUN

HELP = "Make a page that asks people which class each fooling image shows, or score the answers."
EXAMPLE = "fooling study runs/cppn runs/direct --out runs/study"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `study`."""
    parser.add_argument(
        "runs", nargs="*", type=Path, metavar="RUN_DIR",
        help="run directories of `fooling evolve` or `fooling ascend` to make a study of",
    )  # fmt: skip
    parser.add_argument(
        "--score", nargs="+", type=Path, metavar="ANSWERS.json",
        help="score answers files that study pages saved, instead of making a study: the share "
        "recognised per run and per method and encoding (with --out, also in summary.json); "
        "e.g. fooling study --score answers-*.json",
    )  # fmt: skip
    add_output_arguments(parser, "study")
    # Whether --out was given: argparse keeps the default object itself when it was not.
    parser.set_defaults(default_out=parser.get_default("out"))
    parser.add_argument(
        "--per-run", type=PER_RUN.parse, metavar="N",
        help="the most images per run, drawn at random (default: every filled cell)",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Make a study page, or score answers; returns the exit code.

    Raises:
        FoolingError: RUN_DIRs and --score both given or neither, --per-run with
            --score, or as `make_study` and `score_answers`.
    """
    from fooling.report import study, study_page

    if args.score is None:
        if not args.runs:
            raise FoolingError(
                "give the run directories to make a study of, or --score ANSWERS.json to score"
            )
        made = study_page.make_study(
            args.runs, args.out, force=args.force, seed=args.seed, per_run=args.per_run
        )
        print(f"study: {made.page}  ({made.headline()}; open it in a browser)")
        return 0
    if args.runs:
        raise FoolingError(
            "give RUN_DIRs (to make a study) or --score ANSWERS.json (to score one), not both"
        )
    if args.per_run is not None:
        raise FoolingError("--per-run is for making a study, not for --score")
    scores = study.score_answers(args.score)
    answered = sum(score.answered for score in scores if score.run is not None)
    files = len(args.score)
    print(f"{answered} answers from {files} file{'s' * (files != 1)}")
    print(study.format_scores(scores))
    if args.out is not args.default_out:
        from fooling.runs.directory import RunDirectory

        with RunDirectory(args.out).claim(force=args.force) as directory:
            path = directory.write_summary(study.scores_summary(args.score, scores))
        print(f"scores: {path}")
    return 0
