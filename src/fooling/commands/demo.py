"""`fooling demo`: both encodings against the built-in LeNet, one gallery for both."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fooling.commands.arguments import add_classifier_arguments, classifier_from
from fooling.commands.evolve import INTERRUPTED, add_search_arguments
from fooling.encodings import ENCODINGS
from fooling.report.gallery import GalleryCell, write_gallery
from fooling.report.pages import write_pages
from fooling.runs.directory import RunDirectory
from fooling.search import evolve

HELP = "Evolve with both encodings against LeNet; one gallery for both."
EXAMPLE = "fooling demo --out runs/demo"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `demo`."""
    add_classifier_arguments(parser)
    add_search_arguments(parser, command="demo")


def run(args: argparse.Namespace) -> int:
    """Evolve with each encoding into `OUT/<encoding>` and write `OUT/gallery.html`."""
    from fooling.report.search_report import section  # (loads matplotlib)

    classifier = classifier_from(args)
    classifier.trial()
    with RunDirectory(args.out).claim(force=args.force) as directory:
        sections = []
        for encoding in ENCODINGS:
            result = evolve(
                classifier, encoding=encoding, generations=args.generations,
                population=args.population, seed=args.seed, progress=not args.quiet,
                out=directory.path / encoding, force=args.force,
                pages=write_pages,
            )  # fmt: skip
            if result.generations < args.generations:
                again = f"fooling evolve --resume --out {directory.path / encoding}"
                print(f"interrupted; the {encoding} run can go on with {again}", file=sys.stderr)
                return INTERRUPTED
            print(f"{encoding:>6}: {result.headline()}")
            part = section(result, result.summary(), heading=f"{encoding} encoding")
            part.cells = [
                GalleryCell(cell.index, cell.label, cell.confidence, Path(encoding) / cell.image)
                for cell in part.cells
            ]
            sections.append(part)
        write_gallery(
            directory.gallery,
            f"Fooling images for {classifier.name}",
            sections,
            subtitle="Direct encoding (pixels as genes) and CPPN encoding "
            "(pattern-producing networks)",
        )
    print(f"gallery: {directory.gallery}")
    return 0
