"""One class's ablation as a picture: the elite, then the image after each step of removal.

The strip is written while the ablation scores (its frames are too many to keep for a
thousand classes), with Pillow alone; the ablation's page shows it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

from fooling.runs.images import image_filename, save_png

if TYPE_CHECKING:
    from fooling.experiments.ablate import ClassAblation

FRAME = 112
"""The side, in pixels, each image of a strip is shown at (28 x 28 scaled up 4x, 224 halved)."""
STRIP_STEPS = 8
"""The most removal steps a strip shows (evenly spaced, the last one always)."""
_TEXT = 14  # pixels of text above and below the frames
_GAP = 6
_OUTLINE = (255, 0, 255)  # where this step's pixels were removed


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
