"""Draw the 2-D picture of fooling and adversarial points (the paper's Figure 1), as a PNG."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from matplotlib.artist import Artist
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from fooling.experiments.figure1 import LABELS, WINDOW, Figure1
from fooling.report.plots import save_figure

COLOURS = np.array([[0.85, 0.25, 0.25], [0.25, 0.65, 0.3], [0.25, 0.4, 0.85]])  # per class


class Marker(NamedTuple):
    """How one kind of point is drawn: a matplotlib marker, its area (pt^2), its legend text."""

    marker: str
    size: float
    legend: str


# The paper's symbols, each filled with the colour of the class the network predicts.
# "training" is the training data; the others are `Point.kind`s, drawn in this order.
MARKERS = {
    "training": Marker("o", 14, "training data (circles)"),
    "evolution": Marker("^", 190, "fooling: evolved (triangles)"),
    "ascent": Marker("p", 190, "fooling: gradient ascent (pentagons)"),
    "adversarial": Marker("s", 80, "adversarial (squares)"),
}
# fooling and adversarial points over the training points (1) and the distance note,
# but under the arrows (3) from an adversarial point's training point
_FOUND_ZORDER = 2.5


def plot_figure1(picture: Figure1, path: Path) -> None:
    """Draw the figure (`draw_figure1`) and write it as a PNG.

    Args:
        picture: what `make_figure1` found.
        path: the PNG to write; missing folders are created.
    """
    save_figure(draw_figure1(picture), path)


def draw_figure1(picture: Figure1) -> Figure:
    """Decision regions, training points, fooling and adversarial points, and a table.

    Points are drawn with the symbols of `MARKERS`, coloured by their predicted class.

    Args:
        picture: what `make_figure1` found.

    Returns:
        The matplotlib figure (not saved).
    """
    figure = Figure(figsize=(8.5, 11.5), dpi=100)
    axes, table_axes = figure.subplots(2, 1, height_ratios=[3, 1.35])
    steps = np.linspace(-WINDOW, WINDOW, 300, dtype=np.float32)
    grid = torch.from_numpy(np.stack(np.meshgrid(steps, steps), axis=-1).reshape(-1, 1, 1, 2))
    with torch.no_grad():
        probabilities = picture.network(grid).softmax(dim=1).numpy().reshape(300, 300, 3)
    shade = probabilities.max(axis=-1, keepdims=True)
    regions = 1 - (1 - COLOURS[probabilities.argmax(axis=-1)]) * (0.25 + 0.55 * shade)
    axes.imshow(regions, extent=(-WINDOW, WINDOW, -WINDOW, WINDOW), origin="lower")
    points, labels = picture.points.numpy(), picture.labels.numpy()
    training = MARKERS["training"]
    axes.scatter(points[:, 0], points[:, 1], marker=training.marker, s=training.size,
                 c=COLOURS[labels], edgecolors="k", linewidths=0.4,
                 label=training.legend)  # fmt: skip
    for kind, (marker, size, legend) in MARKERS.items():
        chosen = [point for point in picture.found if point.kind == kind]
        if kind == "training" or not chosen:
            continue
        for point in chosen:
            if point.source is not None:
                axes.annotate("", (point.x, point.y), point.source,
                              arrowprops={"arrowstyle": "->", "color": "k", "lw": 0.8})  # fmt: skip
        axes.scatter([p.x for p in chosen], [p.y for p in chosen], marker=marker, s=size,
                     c=COLOURS[[p.predicted for p in chosen]], edgecolors="k", linewidths=1.2,
                     label=legend, zorder=_FOUND_ZORDER)  # fmt: skip
    fooling = picture.mean_distance(("evolution", "ascent"))
    adversarial = picture.mean_distance(("adversarial",))
    axes.text(
        -WINDOW + 0.2, -WINDOW + 0.2,
        f"mean distance to the nearest training point:\nfooling {fooling:.2f}, adversarial "
        f"{adversarial:.2f} ({fooling / adversarial:.0f}x)",
        fontsize=9, va="bottom", bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "0.6"},
        zorder=_FOUND_ZORDER - 0.5,  # under any point found in the corner
    )  # fmt: skip
    # the symbols in the legend are left white: a point's colour is its class, not its kind
    shown = [collection.get_label() for collection in axes.collections]
    handles: list[Artist] = [
        Line2D([], [], marker=marker, markersize=8, linestyle="", markerfacecolor="white",
               markeredgecolor="k", markeredgewidth=1, label=legend)
        for marker, _, legend in MARKERS.values() if legend in shown
    ]  # fmt: skip
    handles += [
        Patch(color=COLOURS[index], label=f"class {name}") for index, name in enumerate(LABELS)
    ]
    axes.legend(handles=handles, loc="upper right", fontsize=8, framealpha=0.9)
    margin = 0.04 * WINDOW  # so that points found at the window's edge show whole
    axes.set_xlim(-WINDOW - margin, WINDOW + margin)
    axes.set_ylim(-WINDOW - margin, WINDOW + margin)
    axes.set_title("Fooling points (far from all data) and adversarial points (next to it)")
    rows = [
        [MARKERS[p.kind].legend, LABELS[p.predicted], f"{p.confidence:.4f}", f"{p.distance:.2f}",
         f"({p.x:.2f}, {p.y:.2f})"]
        for p in picture.found
    ]  # fmt: skip
    table_axes.axis("off")
    table = table_axes.table(
        cellText=rows, colLabels=["point", "class", "confidence", "nearest data", "at"],
        colWidths=[0.36, 0.12, 0.14, 0.16, 0.22], loc="upper center",
    )  # fmt: skip
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    table.scale(1, 1.15)
    figure.tight_layout()
    return figure
