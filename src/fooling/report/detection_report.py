"""The page of a detection: AUROC and share caught per detector and source, ROC curves,
and each source's least- and most-detected images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from fooling.experiments.detect import REAL, DetectionResult, Source
from fooling.report.gallery import GalleryCell, GallerySection, format_confidence, write_gallery
from fooling.report.plots import heat_map, save_figure
from fooling.runs.images import save_png

SHOW = 8  # images per source and end (least / most detected)


def write_detection_report(result: DetectionResult, out: Path, *, show: int = SHOW) -> Path:
    """Write `plots/detection.png`, `plots/roc.png`, the images shown and `report.html`.

    Args:
        result: the finished detection.
        out: its run directory (the caller writes `summary.json`).
        show: images per source at each end: the least and the most detected.

    Returns:
        The path of `report.html`.
    """
    plot_detection(result, out / "plots" / "detection.png")
    plot_roc(result, out / "plots" / "roc.png")
    figures = GallerySection(
        "AUROC against real images, share caught, ROC curves",
        [GalleryCell(None, "AUROC and share caught", 0.0, Path("plots/detection.png"),
                     caption="per detector and source", width=960),
         GalleryCell(None, "ROC curves", 0.0, Path("plots/roc.png"),
                     caption="one panel per detector", width=960)],
        note="AUROC 1: every image of the source scores as less real than every real image; "
        "0.5: chance; below 0.5: the source looks more real than the real images.",
        count=False,
    )  # fmt: skip
    sections = [figures]
    for number, source in enumerate(result.sources[1:], start=1):
        order = detection_order(result, source)
        ends = (
            [("from least to most detected", order)]
            if len(order) <= 2 * show
            else [("least detected", order[:show]), ("most detected", order.flip(0)[:show])]
        )
        for end, chosen in ends:
            cells = [_cell(result, source, int(index), out, f"{number:02d}")
                     for index in chosen]  # fmt: skip
            sections.append(GallerySection(f"{source.name}: {end}", cells, count=False,
                                           note=f"runs: {', '.join(source.runs)}"))  # fmt: skip
    real, settings = result.real, result.settings
    subtitle = (
        f"Beyond the paper. {len(result.detectors)} detectors (pytorch-ood) fitted on "
        f"{real['fitted_on']:,} real images ({real['name']}); each lets "
        f"{settings['keep_real']:.0%} of {real['held_out']:,} real held-out images through."
    )
    page = out / "report.html"
    write_gallery(page, f"{result.classifier} · would a detector catch these?", sections,
                  subtitle=subtitle)  # fmt: skip
    return page


def detection_order(result: DetectionResult, source: Source) -> torch.Tensor:
    """The source's images from least to most detected: by how many detectors catch
    them, then by how far above the real images they score (mean share of real
    images below them)."""
    real = result.sources[0].scores
    caught = torch.stack([source.caught[name] for name in result.detectors]).sum(0).double()
    beyond = torch.stack([
        (real[name].sort().values.unsqueeze(0) < source.scores[name].unsqueeze(1)).double().mean(1)
        for name in result.detectors
    ]).mean(0)  # fmt: skip
    return torch.argsort(caught + beyond / 2, stable=True)


def _cell(result: DetectionResult, source: Source, index: int, out: Path, stem: str) -> GalleryCell:
    name = f"images/{stem}_{index:04d}.png"
    save_png(source.images[index].float().div(255), out / name)
    detected = [detector for detector in result.detectors if bool(source.caught[detector][index])]
    confidence = format_confidence(float(source.confidences[index]))
    caption = (f"{confidence} · caught by {len(detected)}/{len(result.detectors)}"
               + (f": {', '.join(detected)}" if detected else ""))  # fmt: skip
    return GalleryCell(None, source.labels[index], float(source.confidences[index]), Path(name),
                       caption=caption)  # fmt: skip


def plot_detection(result: DetectionResult, path: Path) -> None:
    """Heat maps of detectors x sources: AUROC, and the share caught (real images first)."""
    sources = result.sources
    auroc = np.array([[result.auroc(source, name) for source in sources[1:]]
                      for name in result.detectors])  # fmt: skip
    caught = np.array([[source.caught[name].float().mean().item() for source in sources]
                       for name in result.detectors])  # fmt: skip
    widths = [len(sources) - 1, len(sources)]
    figure = Figure(figsize=(max(8.0, 3 + 1.3 * sum(widths)), 1.8 + 0.5 * len(result.detectors)),
                    layout="constrained")  # fmt: skip
    left, right = figure.subplots(1, 2, width_ratios=widths)
    names = [_short(source.name) for source in sources]
    heat_map(left, auroc, result.detectors, names[1:], "AUROC against real images", "{:.2f}")
    heat_map(right, caught, None, names, "share caught at the FPR95 threshold", "{:.0%}")
    figure.suptitle(f"{result.classifier}: would a detector catch these?", parse_math=False)
    save_figure(figure, path, dpi=100)


def plot_roc(result: DetectionResult, path: Path) -> None:
    """One panel per detector: a ROC curve per source against the real images."""
    from sklearn.metrics import roc_curve

    count = len(result.detectors)
    columns = min(3, count)
    rows = (count + columns - 1) // columns
    figure = Figure(figsize=(4 * columns, 3.6 * rows), layout="constrained")
    panels = figure.subplots(rows, columns, squeeze=False).flatten()
    real = result.sources[0].scores
    for axes, name in zip(panels, result.detectors, strict=False):
        for source in result.sources[1:]:
            truth = np.r_[np.zeros(len(real[name])), np.ones(len(source.images))]
            false, true, _ = roc_curve(truth, torch.cat([real[name], source.scores[name]]))
            label = f"{_short(source.name)} ({result.auroc(source, name):.2f})"
            axes.plot(false, true, label=label)
        axes.plot([0, 1], [0, 1], color="#9a9a9a", linestyle=":", linewidth=1)
        axes.axvline(1 - result.settings["keep_real"], color="#444", linestyle="--", linewidth=1)
        axes.set(title=name, xlabel="real images caught", ylabel="fooling images caught",
                 xlim=(0, 1), ylim=(0, 1.02))  # fmt: skip
        axes.legend(fontsize=8, loc="lower right")
    for axes in panels[count:]:
        axes.set_axis_off()
    save_figure(figure, path, dpi=100)


def _short(name: str) -> str:
    return "real" if name == REAL else name


__all__ = ["detection_order", "plot_detection", "plot_roc", "write_detection_report"]
