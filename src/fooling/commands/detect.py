"""`fooling detect`: would an out-of-distribution detector catch the fooling images of runs?"""

from __future__ import annotations

import argparse
from pathlib import Path

from fooling.commands.arguments import (
    add_classifier_arguments,
    add_output_arguments,
    add_real_image_arguments,
)
from fooling.detectors.detector import DETECTORS
from fooling.limits import THRESHOLD
from fooling.records import FOOLED_AT

HELP = "Would an out-of-distribution detector catch them? Score runs' images with six detectors."
EXAMPLE = "fooling detect runs/evolve runs/adversarial --detectors msp mahalanobis vim"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `detect`."""
    parser.add_argument(
        "runs", nargs="+", type=Path, metavar="RUN_DIR",
        help="run directories of `evolve`, `ascend` or `adversarial`, made with --classifier",
    )  # fmt: skip
    add_classifier_arguments(parser)
    parser.add_argument(
        "--detectors", nargs="+", default=list(DETECTORS), metavar="NAME",
        help=f"from {', '.join(DETECTORS)} (default: all)",
    )  # fmt: skip
    add_real_image_arguments(parser)
    parser.add_argument(
        "--threshold", type=THRESHOLD.parse, default=FOOLED_AT, metavar="P",
        help=f"an elite of a search counts as a fooling image at this confidence or more "
        f"(default: {FOOLED_AT})",
    )  # fmt: skip
    add_output_arguments(parser, "detect", random=False)


def run(args: argparse.Namespace) -> int:
    """Fit, score, then write the page and summary; returns the exit code."""
    from fooling.commands.arguments import classifier_from
    from fooling.detectors.detector import check_fittable
    from fooling.detectors.real_images import real_images
    from fooling.experiments.detect import detect, read_fooling_images
    from fooling.report.detection_report import write_detection_report
    from fooling.runs.directory import RunDirectory

    classifier = classifier_from(args)  # bad input stops before anything is written
    real = real_images(classifier, args.data, fit_count=args.fit_count,
                       held_out_count=args.held_out_count)  # fmt: skip
    check_fittable(classifier, args.detectors, len(real.held_out))
    for run in args.runs:
        read_fooling_images(run, classifier, args.threshold)
    with RunDirectory(args.out).claim(force=args.force) as directory:
        result = detect(classifier, args.runs, detectors=args.detectors, real=real,
                        threshold=args.threshold)  # fmt: skip
        page = write_detection_report(result, directory.path)
        directory.write_summary(result.summary())
    print(format_table(result.table(), result.detectors))
    print(f"report: {page}")
    return 0


def format_table(rows: list[dict], detectors: list[str]) -> str:
    """Detectors down, sources across: `AUROC / caught` in each cell."""
    sources = list(dict.fromkeys(row["source"] for row in rows))
    cell = {(row["detector"], row["source"]): row for row in rows}
    width = max(len(name) for name in detectors)
    columns = [max(len(source), 16) for source in sources]
    head = [
        f"{'':{width}}",
        *(f"{name:>{size}}" for name, size in zip(sources, columns, strict=True)),
    ]
    lines = ["  ".join(head)]
    for detector in detectors:
        values = []
        for source, size in zip(sources, columns, strict=True):
            row = cell[detector, source]
            auroc = "  -  " if row["auroc"] is None else f"{row['auroc']:.3f}"
            values.append(f"{auroc} / {row['caught']:6.1%}".rjust(size))
        lines.append("  ".join([f"{detector:{width}}", *values]))
    return "AUROC against real images / share caught at FPR95\n" + "\n".join(lines)
