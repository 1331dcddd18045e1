"""The human side of a transfer: a heat map of runs x targets and a gallery of what transferred."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from fooling.experiments.transfer import SourceRun, TransferPair, TransferResult
from fooling.records import FOOLED_AT
from fooling.report.gallery import GalleryCell, GallerySection, format_confidence, write_gallery
from fooling.report.plots import heat_map, save_figure
from fooling.report.search_report import describe
from fooling.runs.images import image_filename

SOURCE = "source (own)"
"""The heat map column of the run's own classifier, for comparison."""

_PANELS = (
    ("same_top1", None, "share with the same top-1 class", "{:.1%}"),
    ("at_0.99", "source_at_0.99", f"share at ≥ {FOOLED_AT} for the class", "{:.1%}"),
    ("mean_confidence", "source_mean_confidence", "mean probability for the class", "{:.4f}"),
)
"""Each panel: its figure, the source's figure (None: not recorded), its title, its format."""


def write_transfer_report(result: TransferResult, out: Path) -> Path:
    """Write `plots/transfer.png` and `gallery.html` of `result` into `out`.

    The gallery shows at most `result.show` elites per (run, target), those the source
    was most confident in.

    Args:
        result: the finished transfer.
        out: its run directory (the caller writes `summary.json` last).

    Returns:
        The path of `gallery.html`.
    """
    plot_transfer(result, out / "plots" / "transfer.png")
    gallery = out / "gallery.html"
    sections = [
        pair_section(run, result.pair(row, column), result.show)
        for row, run in enumerate(result.runs)
        for column in range(len(result.targets))
    ]
    subtitle = (
        f"{len(result.runs)} run(s) x {len(result.targets)} target(s). Green: the target "
        f"too gives ≥ {FOOLED_AT:.0%} to the class; ✓: the target's top-1 is the class "
        "(the image transferred), ✗: it is another (named). Captions: source → target."
    )
    write_gallery(gallery, "transfer of fooling images", sections, subtitle=subtitle)
    return gallery


def pair_section(run: SourceRun, pair: TransferPair, show: int | None) -> GallerySection:
    """The gallery section of one (run, target): each elite, marked as transferred or not."""
    figures = pair.figures()
    order = np.argsort(-pair.source_confidences.numpy(), kind="stable")
    shown = sorted(order[:show].tolist() if show is not None else order.tolist())
    cells = []
    for position in shown:
        index, label = pair.classes[position], pair.labels[position]
        top1 = int(pair.target_top1[position])
        mark = "✓" if bool(pair.transferred[position]) else f"✗ {pair.target_labels[top1]}"
        source = format_confidence(float(pair.source_confidences[position]))
        target = float(pair.target_confidences[position])
        image = run.path.resolve() / image_filename(index, label)
        caption = f"{source} → {format_confidence(target)} {mark}"
        cells.append(GalleryCell(index, label, target, image, caption=caption))
    note = (
        f"same top-1 {figures['same_top1']:.1%} · ≥ {FOOLED_AT} {figures['at_0.99']:.1%} "
        f"(source {figures['source_at_0.99']:.1%}) · mean probability "
        f"{figures['mean_confidence']:.4f} (source {figures['source_mean_confidence']:.4f}) "
        f"over {figures['elites']} elites"
    )
    if len(shown) < len(pair.classes):
        note += f"; shown: the {len(shown)} the source was most confident in"
    heading = f"{run.name} ({describe(run.result)}) → {pair.target}"
    return GallerySection(heading, cells, note=note, count=False)


def plot_transfer(result: TransferResult, path: Path) -> None:
    """Heat maps of runs x targets: same top-1, share at >= 0.99, mean probability.

    The last two have a first column for the run's own classifier, for comparison.

    Args:
        result: the finished transfer.
        path: the PNG file to write; missing parent folders are created.
    """
    rows = [f"{run.name}\n{run.result.classifier} · {run.result.encoding or run.result.method}"
            for run in result.runs]  # fmt: skip
    columns = len(result.targets)
    widths = [columns + (own is not None) for _, own, _, _ in _PANELS]
    size = (max(8.0, 2.5 + 1.2 * sum(widths)), 1.6 + 0.55 * len(rows))
    figure = Figure(figsize=size, layout="constrained")
    panels = figure.subplots(1, len(_PANELS), squeeze=False, width_ratios=widths)[0]
    for number, (axes, (key, own, title, form)) in enumerate(zip(panels, _PANELS, strict=True)):
        names = ([SOURCE] if own is not None else []) + result.targets
        values = np.array([
            ([result.pair(row, 0).figures()[own]] if own is not None else [])
            + [result.pair(row, column).figures()[key] for column in range(columns)]
            for row in range(len(rows))
        ])  # fmt: skip
        heat_map(axes, values, rows if number == 0 else None, names, title, form)
    figure.suptitle("fooling images scored by other classifiers", parse_math=False)
    save_figure(figure, path, dpi=100)


__all__ = ["pair_section", "plot_transfer", "write_transfer_report"]
