"""The human side of an ablation: a strip of removals per class, two figures and a gallery."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from PIL import Image, ImageDraw, ImageFont

from fooling.records import FOOLED_AT
from fooling.report.gallery import GalleryCell, GallerySection, write_gallery
from fooling.report.plots import save_figure
from fooling.runs.directory import RunDirectory
from fooling.runs.images import image_filename, save_png

if TYPE_CHECKING:
    from fooling.experiments.ablate import AblationResult, ClassAblation

FRAME = 112
"""The side, in pixels, each image of a strip is shown at (28 x 28 scaled up 4x, 224 halved)."""
STRIP_STEPS = 8
"""The most removal steps a strip shows (evenly spaced, the last one always)."""
_TEXT = 14  # pixels of text above and below the frames
_GAP = 6
_OUTLINE = (255, 0, 255)  # where this step's pixels were removed
_MOTIF, _CONTROL = "#1f6fb4", "#e08a1e"


def write_strip(
    folder: Path,
    ablation: ClassAblation,
    original: torch.Tensor,
    frames: torch.Tensor,
    pieces: torch.Tensor,
) -> str:
    """Write one class's strip: the elite, then the image after each step of removal.

    The top row removes the motif's copies, the bottom row the same area at random
    places (the control's first draw). This step's removed pixels are outlined in
    magenta; each frame's confidence is written under it.

    Args:
        folder: the output run directory.
        ablation: the class, with its curves filled in.
        original: `uint8 [C, H, W]` the elite.
        frames: `uint8 [S, 2, C, H, W]` after each step: copies removed, control.
        pieces: `bool [S, 2, H, W]` the pixels removed at each step.

    Returns:
        The strip's path relative to `folder` (`images/003_3.png`).
    """
    steps = len(frames)
    shown = sorted({round(value) for value in np.linspace(0, steps - 1, min(steps, STRIP_STEPS))})
    columns = [(0, original, original, None, None)] + [
        (step + 1, frames[step, 0], frames[step, 1], pieces[step, 0], pieces[step, 1])
        for step in shown
    ]
    width = len(columns) * (FRAME + _GAP) - _GAP
    height = 3 * _TEXT + 2 * FRAME + _GAP
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    try:
        font = ImageFont.load_default(size=11)
    except TypeError:  # Pillow before 10.1 has one bitmap font, of one size
        font = ImageFont.load_default()
    for column, (step, motif_image, control_image, motif_piece, control_piece) in enumerate(
        columns
    ):
        left = column * (FRAME + _GAP)
        removed = ablation.removed[step]
        words = f"{removed} cop{'y' if removed == 1 else 'ies'} removed"
        draw.text((left, 1), words, "black", font)
        for row, (image, piece, curve) in enumerate(
            ((motif_image, motif_piece, ablation.motif_curve),
             (control_image, control_piece, ablation.control_draws[0]))
        ):  # fmt: skip
            top = _TEXT + row * (FRAME + _TEXT + _GAP)
            canvas.paste(_frame(image, piece), (left, top))
            draw.text((left, top + FRAME + 1), f"{curve[step]:.4f}", "black", font)
    relative = image_filename(ablation.index, ablation.label)
    save_png(torch.from_numpy(np.array(canvas)).permute(2, 0, 1).float().div(255),
             folder / relative)  # fmt: skip
    return relative


def _frame(image: torch.Tensor, piece: torch.Tensor | None) -> Image.Image:
    """One image at `FRAME` x `FRAME`, RGB, with the outline of `piece` in magenta."""
    pixels = image.float()[None].expand(-1, 3, -1, -1)  # gray to RGB; colour stays
    mode = "nearest" if image.shape[-1] < FRAME else "area"
    shown = F.interpolate(pixels, size=(FRAME, FRAME), mode=mode)[0].round().to(torch.uint8)
    if piece is not None:
        mask = F.interpolate(piece[None, None].float(), size=(FRAME, FRAME), mode="nearest")[0, 0]
        inside = F.max_pool2d(-mask[None, None], 3, stride=1, padding=1)[0, 0] == -1  # eroded
        edge = (mask > 0) & ~inside
        shown[:, edge] = torch.tensor(_OUTLINE, dtype=torch.uint8).view(3, 1)
    return Image.fromarray(shown.permute(1, 2, 0).contiguous().numpy())


def plot_median_curves(result: AblationResult, path: Path) -> None:
    """The median confidence across classes against the share of copies removed.

    Motif and control, each with its interquartile range shaded.

    Args:
        result: the ablation.
        path: the PNG to write; missing folders are created.
    """
    from fooling.experiments.ablate import FRACTIONS

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
        from fooling.experiments.ablate import FRACTIONS

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


def write_ablation_report(result: AblationResult, directory: RunDirectory, *, show: int) -> Path:
    """Write plots/, gallery.html and, last, summary.json (the strips are already written).

    Args:
        result: the ablation.
        directory: the claimed output run directory.
        show: the most strips (and elites without a motif) the gallery shows.

    Returns:
        The path of `gallery.html`.
    """
    out = directory.path
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
    write_gallery(directory.gallery, title, sections, subtitle=result.headline())
    directory.write_summary(result.summary())
    return directory.gallery


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
