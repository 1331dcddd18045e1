"""The human side of a retraining run: its figures over iterations, and one gallery."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from fooling.experiments.retrain import RetrainResult
from fooling.records import FOOLED_AT
from fooling.report.gallery import GalleryCell, GallerySection, format_confidence, write_gallery
from fooling.report.plots import save_figure
from fooling.runs.directory import RunDirectory


def write_retrain_report(result: RetrainResult, out: Path) -> Path:
    """Write `plots/retrain.png` and `gallery.html` for the iterations finished so far.

    Args:
        result: the retraining run's figures.
        out: its run directory; each iteration's evolved runs are already in it.

    Returns:
        The path of `gallery.html`.
    """
    plot_iterations(result, out / "plots" / "retrain.png")
    sections = []
    for row in result.iterations:
        sections.extend(_section(out, row, encoding) for encoding in result.settings.encodings)
        if row["fooling_recall"] is not None:
            sections.append(_missed_section(row))
    gallery = out / "gallery.html"
    title = f"{result.classifier} · retrained with a fooling class"
    write_gallery(gallery, title, sections, subtitle=headline(result))
    return gallery


def headline(result: RetrainResult) -> str:
    """One line on the last iteration finished."""
    last = result.iterations[-1]
    recall = last["fooling_recall"]
    said = [
        f"iteration {last['iteration']}",
        f"test accuracy {last['test_accuracy']:.4f}",
        f"fooling recall {recall:.3f}" if recall is not None else "",
        f"evolved against it: median confidence {last['median_confidence']:.5f}",
        f"{last['fooled_at_0.99']} classes at ≥ {FOOLED_AT}",
    ]
    return "; ".join(part for part in said if part)


def plot_iterations(result: RetrainResult, path: Path) -> None:
    """Test accuracy, fooling recall and the evolved images' median confidence per iteration."""
    rows = result.iterations
    figure = Figure(figsize=(8, 4.5), layout="constrained")
    axes = figure.add_subplot()
    axes.set_title(f"{result.classifier}: retraining with a fooling class")
    axes.set_xlabel("iteration (network retrained)")
    axes.set_ylabel("share / confidence")
    axes.set_ylim(0.0, 1.02)
    axes.grid(True, alpha=0.3)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.axhline(FOOLED_AT, color="#9a9a9a", linestyle="--", linewidth=1)
    numbers = [row["iteration"] for row in rows]
    series = (
        ("test accuracy (real digits)", "test_accuracy", "#2e9e44"),
        ("fooling recall (held-out fooling images)", "fooling_recall", "#e08a1e"),
        (
            "fooling recall, held-out images far from real ones",
            "fooling_recall_far_from_real",
            "#b5651d",
        ),
        ("share of gathered images near a real one", "gathered_near_real", "#8e44ad"),
        ("median confidence of images evolved against it", "median_confidence", "#1f6fb4"),
    )
    for label, key, colour in series:
        points = [(n, row[key]) for n, row in zip(numbers, rows, strict=True)
                  if row.get(key) is not None]  # fmt: skip
        if points:
            axes.plot(*zip(*points, strict=True), marker="o", color=colour, label=label)
    axes.legend(loc="lower left", fontsize=9, framealpha=0.9)
    save_figure(figure, path, dpi=100)


def _section(out: Path, row: dict, encoding: str) -> GallerySection:
    """The elites evolved against one iteration's network with one encoding."""
    folder = Path("iterations") / f"{row['iteration']:02d}" / "evolved" / encoding
    summary = RunDirectory(out / folder).read_summary()
    cells = [
        GalleryCell(cell["index"], cell["label"], max(cell["confidence"], 0.0), image)
        for cell in summary["classes"]
        for image in [folder / cell["image"]]
    ]
    recall = row["fooling_recall"]
    note = f"network {row['iteration']}: test accuracy {format_confidence(row['test_accuracy'])}"
    if recall is not None:
        note += f", fooling recall {format_confidence(recall)}"
    heading = f"iteration {row['iteration']} · {encoding}"
    return GallerySection(heading, cells, note=note)


def _missed_section(row: dict) -> GallerySection:
    """The held-out fooling images that an iteration's network puts in a real class."""
    folder = Path("iterations") / f"{row['iteration']:02d}"
    missed = row.get("missed_held_out", [])
    cells = [
        GalleryCell(None, image["label"], image["confidence"], folder / image["image"],
                    caption=format_confidence(image["confidence"])
                    + (" · near a real image" if image["near_real"] else ""))
        for image in missed
    ]  # fmt: skip
    note = (
        f"network {row['iteration']} puts {1 - row['fooling_recall']:.1%} of the held-out fooling "
        f"images in a real class (the first {len(missed)} shown, with its label and confidence)"
    )
    heading = f"iteration {row['iteration']} · held-out fooling images it calls real"
    return GallerySection(heading, cells, note=note, count=False)
