"""The human side of an ablation: two figures and a gallery of its strips (`ablation_strip`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from fooling.experiments.ablate import FRACTIONS, AblationResult, ClassAblation
from fooling.records import FOOLED_AT
from fooling.report.gallery import GalleryCell, GallerySection, write_gallery
from fooling.report.plots import save_figure
from fooling.runs.images import image_filename

_MOTIF, _CONTROL = "#1f6fb4", "#e08a1e"


def plot_median_curves(result: AblationResult, path: Path) -> None:
    """The median confidence across classes against the share of copies removed.

    Motif and control, each with its interquartile range shaded.

    Args:
        result: the ablation.
        path: the PNG to write; missing folders are created.
    """
    figure = Figure(figsize=(7, 4.5), layout="constrained")
    axes = figure.add_subplot()
    found = result.with_motif
    axes.set_title(
        f"{result.classifier}: confidence as the motif's copies are removed\n"
        f"median of the {len(found)} classes with a motif (of {len(result.classes)})"
    )
    axes.set_xlabel("share of the copies removed")
    axes.set_ylabel("confidence in the class")
    axes.set_ylim(0.0, 1.02)
    axes.set_xlim(0, 1)
    axes.grid(True, alpha=0.3)
    axes.axhline(FOOLED_AT, color="#9a9a9a", linestyle="--", linewidth=1)
    if not found:
        axes.text(0.5, 0.5, "no class had a motif", ha="center", va="center", color="#9a9a9a")
    for kind, colour, words in (
        ("motif", _MOTIF, "copies removed"),
        ("control", _CONTROL, "same area removed elsewhere (control)"),
    ):
        if not found:
            break
        curves = np.array([ablation.at_fractions(getattr(ablation, f"{kind}_curve"))
                           for ablation in found])  # fmt: skip
        low, high = np.percentile(curves, [25, 75], axis=0)
        axes.fill_between(FRACTIONS, low, high, color=colour, alpha=0.15, step="post")
        axes.step(FRACTIONS, result.median_curve(kind), where="post", color=colour, linewidth=2,
                  marker="o", markersize=4, label=f"{words}: median, quartiles shaded")  # fmt: skip
    if found:
        axes.legend(loc="lower left", fontsize=9, framealpha=0.9)
    save_figure(figure, path, dpi=100)


def plot_class_curves(result: AblationResult, path: Path) -> None:
    """Each class's confidence against copies removed, motif and control.

    Up to 25 classes get a panel each (by copies removed); more are drawn as thin
    lines in two panels (by share of copies removed), the median bold.

    Args:
        result: the ablation.
        path: the PNG to write; missing folders are created.
    """
    found = result.with_motif
    if len(found) <= 25:
        columns = min(5, max(1, len(found)))
        rows = max(1, -(-len(found) // columns))
        figure = Figure(figsize=(2.6 * columns, 2.3 * rows + 0.4), layout="constrained")
        panels = np.atleast_1d(figure.subplots(rows, columns, sharey=True, squeeze=False).ravel())
        for axes, ablation in zip(panels, found, strict=False):
            axes.plot(ablation.removed, ablation.motif_curve, color=_MOTIF, marker="o",
                      markersize=3, label="copies")  # fmt: skip
            axes.plot(ablation.removed, ablation.control_curve, color=_CONTROL, marker="o",
                      markersize=3, linestyle="--", label="control")  # fmt: skip
            axes.set_title(f"{ablation.index} {ablation.label[:18]} ({ablation.motif.count})",
                           fontsize=9)  # fmt: skip
            axes.set_ylim(0.0, 1.02)
            axes.grid(True, alpha=0.3)
            axes.tick_params(labelsize=8)
        for axes in panels[len(found) :]:
            axes.axis("off")
        if found:
            panels[0].legend(fontsize=8, loc="lower left")
        figure.supxlabel("copies removed (control: the same area elsewhere)", fontsize=9)
        figure.supylabel("confidence", fontsize=9)
    else:
        figure = Figure(figsize=(11, 4.5), layout="constrained")
        panels = figure.subplots(1, 2, sharey=True)
        for axes, kind, colour in ((panels[0], "motif", _MOTIF), (panels[1], "control", _CONTROL)):
            for ablation in found:
                done = np.asarray(ablation.removed) / ablation.removed[-1]
                axes.plot(done, getattr(ablation, f"{kind}_curve"), color=colour, alpha=0.15,
                          linewidth=0.8)  # fmt: skip
            axes.step(FRACTIONS, result.median_curve(kind), where="post", color="black",
                      linewidth=2, label="median")  # fmt: skip
            axes.set_title("copies removed" if kind == "motif" else "same area elsewhere (control)")
            axes.set_xlabel("share of the copies removed")
            axes.set_ylim(0.0, 1.02)
            axes.grid(True, alpha=0.3)
            axes.legend(loc="lower left", fontsize=9)
        panels[0].set_ylabel("confidence")
    figure.suptitle(f"{result.classifier}: each class with a motif ({len(found)})")
    save_figure(figure, path, dpi=100)


def write_ablation_report(result: AblationResult, out: Path) -> Path:
    """Write plots/ and gallery.html into the ablation's run directory (its strips are there).

    Args:
        result: the ablation.
        out: its run directory.

    Returns:
        The path of `gallery.html`.
    """
    show = result.show
    plot_median_curves(result, out / "plots" / "median.png")
    plot_class_curves(result, out / "plots" / "per_class.png")
    found = sorted(result.with_motif, key=lambda ablation: -ablation.confidence)
    missing = [ablation for ablation in result.classes if not ablation.motif.count]
    figures = GallerySection(
        "Confidence as copies are removed",
        [GalleryCell(None, "median over classes", 0.0, Path("plots/median.png"), caption="",
                     width=560),
         GalleryCell(None, "each class", 0.0, Path("plots/per_class.png"), caption="",
                     width=720)],
        note="Control: the same pixels per step, each copy's shape moved to a random place that "
        "avoids the copies where it can, filled with the same background colour.",
        count=False,
    )  # fmt: skip
    strips = GallerySection(
        "Removals, step by step",
        [_strip_cell(ablation, out) for ablation in found[:show] if ablation.strip],
        note=f"Top: copies removed, largest first; bottom: the same area elsewhere (one random "
        f"draw). Magenta outlines what each step removed. {_more(len(found), show)}",
        count=False,
    )  # fmt: skip
    sections = [figures, strips]
    if missing:
        run = result.run.resolve()
        sections.append(GallerySection(
            f"No motif found ({len(missing)} of {len(result.classes)} classes)",
            [GalleryCell(ablation.index, ablation.label, ablation.confidence,
                         run / image_filename(ablation.index, ablation.label),
                         caption=ablation.motif.reason)
             for ablation in missing[:show]
             if (run / image_filename(ablation.index, ablation.label)).is_file()],
            note=_more(len(missing), show), count=False,
        ))  # fmt: skip
    title = f"{result.classifier} · ablation of repeated copies · {result.run.name}"
    gallery = out / "gallery.html"
    write_gallery(gallery, title, sections, subtitle=result.headline())
    return gallery


def _strip_cell(ablation: ClassAblation, out: Path) -> GalleryCell:
    """A strip in the gallery at its own width, captioned with where both curves end."""
    assert ablation.strip is not None
    caption = (
        f"{ablation.motif_curve[0]:.4f} → {ablation.motif_curve[-1]:.4f} with all "
        f"{ablation.motif.count} copies removed ({ablation.motif.method}); control "
        f"{ablation.control_curve[-1]:.4f}"
    )
    with Image.open(out / ablation.strip) as strip:
        width = strip.size[0]
    return GalleryCell(ablation.index, ablation.label, ablation.confidence, Path(ablation.strip),
                       caption=caption, width=width)  # fmt: skip


def _more(count: int, show: int) -> str:
    """A note that the gallery shows only `show` of `count` (summary.json has them all)."""
    if count <= show:
        return ""
    return f"The gallery shows {show} of {count}; summary.json has them all."
