"""The human side of a finished search: plots and gallery.html."""

from __future__ import annotations

from pathlib import Path

from fooling.records import FOOLED_AT
from fooling.report.gallery import GalleryCell, GallerySection, write_gallery
from fooling.report.plots import plot_confidence_over_generations, plot_per_class_confidence
from fooling.search.result import SearchResult


def write_report(result: SearchResult, out: Path) -> Path:
    """Write plots/ and gallery.html of `result` into `out`.

    Args:
        result: the finished search.
        out: its run directory (`SearchResult.write_to` writes the images it shows).

    Returns:
        The path of `gallery.html`.
    """
    summary = result.summary()
    title = describe(result)
    plot_confidence_over_generations(result.history, out / "plots" / "confidence.png", title)
    plot_per_class_confidence(
        result.labels, result.confidences.clamp(min=0).tolist(), out / "plots" / "per_class.png",
        title,
    )  # fmt: skip
    gallery = out / "gallery.html"
    write_gallery(gallery, title, [section(result, summary)], subtitle=figures(result))
    return gallery


def section(result: SearchResult, summary: dict, heading: str = "") -> GallerySection:
    """The gallery section of one run; image paths are relative to its run directory."""
    cells = [
        GalleryCell(cell["index"], cell["label"], max(cell["confidence"], 0.0), Path(cell["image"]))
        for cell in summary["classes"]
    ]
    return GallerySection(heading or describe(result), cells, note=figures(result))


def describe(result: SearchResult) -> str:
    """A one-line title, e.g. `lenet-mnist · evolve · cppn · seed 0`."""
    parts = [result.classifier, result.method, result.encoding, f"seed {result.seed}"]
    return " · ".join(part for part in parts if part)


def figures(result: SearchResult) -> str:
    """A one-line account of the run's outcome."""
    return (
        f"{result.generations} generations x {result.population} images "
        f"({result.evaluations:,} evaluations) in {result.seconds:.1f} s; "
        f"median confidence {result.median_confidence:.5f}; "
        f"{result.fooled()}/{len(result.classes)} classes at ≥ {FOOLED_AT}"
    )


__all__ = ["describe", "figures", "section", "write_report"]
