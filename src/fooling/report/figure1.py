"""Draw the 2-D picture of fooling and adversarial points (the paper's Figure 1), as a PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from fooling.experiments.figure1 import LABELS, WINDOW, Figure1
from fooling.report.plots import save_figure

_COLOURS = np.array([[0.85, 0.25, 0.25], [0.25, 0.65, 0.3], [0.25, 0.4, 0.85]])
_MARKERS = {"evolution": ("*", 260), "ascent": ("D", 90), "adversarial": ("X", 110)}


def plot_figure1(picture: Figure1, path: Path) -> None:
    """Decision regions, training points, fooling and adversarial points, and a table.

    Args:
        picture: what `make_figure1` found.
        path: the PNG to write; missing folders are created.
    """
    figure = Figure(figsize=(8.5, 11.5), dpi=100)
    axes, table_axes = figure.subplots(2, 1, height_ratios=[3, 1.35])
    steps = np.linspace(-WINDOW, WINDOW, 300, dtype=np.float32)
    grid = torch.from_numpy(np.stack(np.meshgrid(steps, steps), axis=-1).reshape(-1, 1, 1, 2))
    with torch.no_grad():
        probabilities = picture.network(grid).softmax(dim=1).numpy().reshape(300, 300, 3)
    shade = probabilities.max(axis=-1, keepdims=True)
    regions = 1 - (1 - _COLOURS[probabilities.argmax(axis=-1)]) * (0.25 + 0.55 * shade)
    axes.imshow(regions, extent=(-WINDOW, WINDOW, -WINDOW, WINDOW), origin="lower")
    points, labels = picture.points.numpy(), picture.labels.numpy()
    axes.scatter(points[:, 0], points[:, 1], c=_COLOURS[labels], s=9, edgecolors="k",
                 linewidths=0.3, label="training points")  # fmt: skip
    for kind, (marker, size) in _MARKERS.items():
        chosen = [point for point in picture.found if point.kind == kind]
        if not chosen:
            continue
        for point in chosen:
            if point.source is not None:
                axes.annotate("", (point.x, point.y), point.source,
                              arrowprops={"arrowstyle": "->", "color": "k", "lw": 0.8})  # fmt: skip
        role = "adversarial" if kind == "adversarial" else "fooling"
        axes.scatter([p.x for p in chosen], [p.y for p in chosen], marker=marker, s=size,
                     c=_COLOURS[[p.predicted for p in chosen]], edgecolors="k", linewidths=1.2,
                     label=f"{kind} ({role})")  # fmt: skip
    fooling = picture.mean_distance(("evolution", "ascent"))
    adversarial = picture.mean_distance(("adversarial",))
    axes.text(
        -WINDOW + 0.2, -WINDOW + 0.2,
        f"mean distance to the nearest training point:\nfooling {fooling:.2f}, adversarial "
        f"{adversarial:.2f} ({fooling / adversarial:.0f}x)",
        fontsize=9, va="bottom", bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "0.6"},
    )  # fmt: skip
    handles = axes.get_legend_handles_labels()[0]
    handles += [
        Patch(color=_COLOURS[index], label=f"class {name}") for index, name in enumerate(LABELS)
    ]
    axes.legend(handles=handles, loc="upper right", fontsize=8, framealpha=0.9)
    margin = 0.04 * WINDOW  # so that points found at the window's edge show whole
    axes.set_xlim(-WINDOW - margin, WINDOW + margin)
    axes.set_ylim(-WINDOW - margin, WINDOW + margin)
    axes.set_title("Fooling points (far from all data) and adversarial points (next to it)")
    rows = [
        [p.kind, LABELS[p.predicted], f"{p.confidence:.4f}", f"{p.distance:.2f}",
         f"({p.x:.2f}, {p.y:.2f})"]
        for p in picture.found
    ]  # fmt: skip
    table_axes.axis("off")
    table = table_axes.table(
        cellText=rows, colLabels=["point", "class", "confidence", "nearest data", "at"],
        loc="upper center",
    )  # fmt: skip
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    table.scale(1, 1.15)
    figure.tight_layout()
    save_figure(figure, path)
