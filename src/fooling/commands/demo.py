"""`fooling demo`: both encodings against the built-in LeNet, one gallery for both."""

from __future__ import annotations

import argparse
from pathlib import Path

from fooling.commands.arguments import classifier_from
from fooling.commands.evolve import INTERRUPTED, evolve_into, headline
from fooling.commands.run_directory import claim_run_directory
from fooling.report.gallery import GalleryCell, write_gallery
from fooling.report.run_directory import section

ENCODINGS = ("direct", "cppn")


def run(args: argparse.Namespace) -> int:
    """Evolve with each encoding into `OUT/<encoding>` and write `OUT/gallery.html`."""
    classifier = classifier_from(args)
    claim_run_directory(args.out, force=args.force)
    sections = []
    for encoding in ENCODINGS:
        result = evolve_into(
            classifier, encoding, args.out / encoding, generations=args.generations,
            population=args.population, seed=args.seed, classes=None, resume=False,
            force=args.force, quiet=args.quiet,
        )  # fmt: skip
        if result is None:
            return INTERRUPTED
        print(f"{encoding:>6}: {headline(result)}")
        part = section(result, result.summary(), heading=f"{encoding} encoding")
        part.cells = [
            GalleryCell(cell.index, cell.label, cell.confidence, Path(encoding) / cell.image)
            for cell in part.cells
        ]
        sections.append(part)
    gallery = args.out / "gallery.html"
    write_gallery(
        gallery,
        f"Fooling images for {classifier.name}",
        sections,
        subtitle="Direct encoding (pixels as genes) and CPPN encoding (pattern-producing networks)",
    )
    print(f"gallery: {gallery}")
    return 0
