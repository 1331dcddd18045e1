"""Two PNG plots of a run: confidence over generations, and confidence per class."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import text_to_path
from matplotlib.ticker import MaxNLocator

from fooling.records import FOOLED_AT, ProgressRow, atomic_write_bytes

_DPI = 100
_MAX_BARS = 40
_MAX_TICK_LABEL = 18
_LABEL_SIZE = 9  # the bars' labels, in points
_SLANT = 60  # degrees, of long labels under the bars
_SIN_SLANT, _COS_SLANT = math.sin(math.radians(_SLANT)), math.cos(math.radians(_SLANT))
_GREEN, _GRAY, _BLUE, _ORANGE = "#2e9e44", "#9a9a9a", "#1f6fb4", "#e08a1e"


def _plain(text: str) -> str:
    """Text shown literally by matplotlib (a ``$`` would otherwise start math)."""
    return text.replace("$", r"\$")


def _save(figure: Figure, path: Path) -> None:
    """Write the figure as a PNG atomically, creating missing parent folders."""
    save_figure(figure, path, dpi=_DPI)


def save_figure(figure: Figure, path: Path, dpi: float | None = None) -> None:
    """Write a matplotlib figure as a PNG atomically (see `atomic_file`)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, dpi=dpi, format="png")
    atomic_write_bytes(path, buffer.getvalue())


def _margins(figure: Figure, *, left: float, right: float, top: float, bottom: float) -> None:
    """Put the axes `left`, `right`, `top` and `bottom` inches in from the figure's edges.

    The two plots below are drawn for every run, so they set their margins by hand, to
    about where matplotlib's constrained layout put them (measured): that layout measures
    every text in a pass of its own, over a third of a plot's time
    (`benchmarks/plot_time.py`), and the test suite alone draws hundreds of plots.
    """
    width, height = figure.get_size_inches()
    figure.subplots_adjust(left=left / width, right=1 - right / width,
                           bottom=bottom / height, top=1 - top / height)  # fmt: skip


def _note_empty(axes: Axes, text: str) -> None:
    """Write ``text`` grayed in the middle of empty axes."""
    axes.text(0.5, 0.5, text, transform=axes.transAxes, ha="center", va="center", color=_GRAY)


def plot_confidence_over_generations(rows: list[ProgressRow], path: Path, title: str) -> None:
    """Plot best, median and mean confidence per generation, and the classes fooled.

    Confidences use the left axis (0 to 1, with a dashed line at 0.99); the number
    of classes at ``>= 0.99`` uses a twin axis on the right.

    Args:
        rows: the progress log, in generation order; may be empty.
        path: the PNG file to write; missing parent folders are created.
        title: the plot title.
    """
    figure = Figure(figsize=(8, 4.5))
    axes = figure.add_subplot()
    count_axes = axes.twinx()
    axes.set_title(_plain(title))
    axes.set_xlabel("generation")
    axes.set_ylabel("confidence")
    count_axes.set_ylabel(f"classes at ≥ {FOOLED_AT}")
    axes.set_ylim(0.0, 1.02)
    axes.set_yticks(np.linspace(0.0, 1.0, 6))
    axes.grid(True, alpha=0.3)
    axes.axhline(FOOLED_AT, color=_GRAY, linestyle="--", linewidth=1, label=f"{FOOLED_AT}")
    count_axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))

    if not rows:
        _note_empty(axes, "no generations yet")
        count_axes.set_ylim(0, 1)
    else:
        generation = [row.generation for row in rows]
        marker = "o" if len(rows) <= 20 else None
        fooled = [row.fooled for row in rows]
        count_axes.step(
            generation,
            fooled,
            where="post",
            color=_ORANGE,
            alpha=0.8,
            linewidth=1.5,
            marker=marker,
            markersize=3,
            label=f"classes ≥ {FOOLED_AT} (right)",
        )
        count_axes.set_ylim(0, max(1, max(fooled)) * 1.08)
        series = (
            ("best", [row.best_confidence for row in rows], _GREEN),
            ("median", [row.median_confidence for row in rows], _BLUE),
            ("mean", [row.mean_confidence for row in rows], "#7b3fb0"),
        )
        for name, values, colour in series:
            axes.plot(
                generation,
                values,
                color=colour,
                linewidth=2,
                marker=marker,
                markersize=4,
                label=name,
            )
        if len(rows) == 1:
            axes.set_xlim(generation[0] - 1, generation[0] + 1)

    # Draw the confidence lines above the count axis, and one legend for both.
    axes.set_zorder(count_axes.get_zorder() + 1)
    axes.patch.set_visible(False)
    handles, labels = axes.get_legend_handles_labels()
    more_handles, more_labels = count_axes.get_legend_handles_labels()
    axes.legend(
        handles + more_handles, labels + more_labels, loc="lower right", framealpha=0.9, fontsize=9
    )
    digits = len(str(int(count_axes.get_ylim()[1])))  # of the right axis's largest count
    _margins(figure, left=0.6, right=0.36 + 0.09 * digits, top=0.3, bottom=0.5)
    _save(figure, path)


def _short(label: str) -> str:
    """Cut a tick label to a readable length."""
    if len(label) <= _MAX_TICK_LABEL:
        return label
    return label[: _MAX_TICK_LABEL - 1] + "…"


def _slanted(labels: Sequence[str]) -> bool:
    """Whether the bars' labels are written slanted (long or many), not level."""
    return any(len(label) > 3 for label in labels) or len(labels) > 20


def _bars_bottom(labels: Sequence[str]) -> float:
    """Inches under the bars for their labels and the axis name (slanted labels: as far
    down as the longest one reaches, measured in the labels' font)."""
    if not _slanted(labels):
        return 0.5
    font = FontProperties(size=_LABEL_SIZE)
    reach = 0.0
    for label in labels:
        width, height, descent = text_to_path.get_text_width_height_descent(
            _short(label), font, ismath=False
        )
        reach = max(reach, width * _SIN_SLANT + (height + descent) * _COS_SLANT)
    return 0.5 + reach / 72  # (points to inches)


def _bars(axes: Axes, labels: Sequence[str], values: np.ndarray) -> None:
    """A bar per class, green at or above 0.99, labels under the bars."""
    positions = np.arange(len(values))
    colours = [_GREEN if value >= FOOLED_AT else _GRAY for value in values]
    axes.bar(positions, values, color=colours)
    axes.set_xticks(positions)
    long_labels = _slanted(labels)
    axes.set_xticklabels(
        [_plain(_short(label)) for label in labels],
        rotation=_SLANT if long_labels else 0,
        ha="right" if long_labels else "center",
        rotation_mode="anchor",
        fontsize=_LABEL_SIZE,
    )
    axes.set_xlim(-0.6, len(values) - 0.4)
    axes.set_xlabel("class")


def _ranked(axes: Axes, values: np.ndarray) -> None:
    """Confidences sorted from highest to lowest as a curve, with the median marked."""
    ranked = np.sort(values)[::-1]
    positions = np.arange(1, len(ranked) + 1)
    axes.plot(positions, ranked, color=_BLUE, linewidth=2, label="confidence, sorted")
    axes.fill_between(positions, ranked, color=_BLUE, alpha=0.12)
    median = float(np.nanmedian(ranked))
    axes.axhline(median, color=_ORANGE, linestyle=":", linewidth=1.5, label=f"median {median:.4f}")
    axes.plot([(len(ranked) + 1) / 2], [median], "o", color=_ORANGE)
    axes.set_xlim(1, max(2, len(ranked)))
    axes.set_xlabel("classes, ranked by confidence")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))


def plot_per_class_confidence(
    labels: list[str], confidences: list[float], path: Path, title: str
) -> None:
    """Plot each class's elite confidence, with a dashed line at 0.99.

    Up to 40 classes are drawn as labelled bars (green at ``>= 0.99``); more are
    drawn as one curve of the confidences sorted from highest to lowest, with the
    median marked. The title gets the count of classes at ``>= 0.99``.

    Args:
        labels: the class labels, one per confidence.
        confidences: each class's confidence, in ``[0, 1]``; may be empty.
        path: the PNG file to write; missing parent folders are created.
        title: the plot title.

    Raises:
        ValueError: if ``labels`` and ``confidences`` differ in length.
    """
    if len(labels) != len(confidences):
        raise ValueError(f"{len(labels)} labels but {len(confidences)} confidences")
    values = np.asarray(confidences, dtype=np.float64)
    count = len(values)
    width = 8.0 if count > _MAX_BARS else min(14.0, max(6.0, 0.32 * count + 2))
    figure = Figure(figsize=(width, 4.5))
    axes = figure.add_subplot()
    fooled = int(np.sum(values >= FOOLED_AT))
    axes.set_title(f"{_plain(title)}\n{fooled} of {count} classes at ≥ {FOOLED_AT}")
    axes.set_ylabel("confidence")
    axes.set_ylim(0.0, 1.02)
    axes.set_yticks(np.linspace(0.0, 1.0, 6))
    axes.grid(True, axis="y", alpha=0.3)
    if count == 0:
        _note_empty(axes, "no classes")
    elif count <= _MAX_BARS:
        _bars(axes, labels, values)
    else:
        _ranked(axes, values)
    axes.axhline(FOOLED_AT, color="#444", linestyle="--", linewidth=1, label=f"{FOOLED_AT}")
    if count > _MAX_BARS:
        axes.legend(loc="lower left", fontsize=9, framealpha=0.9)
    bottom = _bars_bottom(labels) if 0 < count <= _MAX_BARS else 0.5
    _margins(figure, left=0.6, right=0.25 if count > _MAX_BARS else 0.1, top=0.5, bottom=bottom)
    _save(figure, path)


def heat_map(
    axes: Axes,
    values: np.ndarray,
    rows: list[str] | None,
    columns: list[str],
    title: str,
    form: str,
) -> None:
    """One panel: `values` [rows, columns] in [0, 1], each cell written out; `rows` None: the
    row names are left to the panel on the left."""
    axes.imshow(values, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    axes.set_title(title, fontsize=10, parse_math=False)
    axes.set_xticks(range(len(columns)), columns, rotation=30, ha="right", fontsize=9,
                    parse_math=False)  # fmt: skip
    if rows is None:
        axes.set_yticks([])
    else:
        axes.set_yticks(range(len(rows)), rows, fontsize=9, parse_math=False)
    for (row, column), value in np.ndenumerate(values):
        colour = "black" if value > 0.6 else "white"
        axes.text(column, row, form.format(value), ha="center", va="center", color=colour,
                  fontsize=9)  # fmt: skip
