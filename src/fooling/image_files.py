"""Reading image files a user hands in."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from fooling.errors import FoolingError


def read_image(path: str | Path, channels: int) -> torch.Tensor:
    """An image file as `float32 [C, H, W]` in `[0, 1]`.

    Args:
        path: any format Pillow reads (PNG, JPEG, ...).
        channels: 1 for gray, 3 for RGB.

    Returns:
        The image tensor.

    Raises:
        FoolingError: the file is missing or is not an image.
    """
    path = Path(path)
    try:
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("L" if channels == 1 else "RGB"))
    except FileNotFoundError:
        raise FoolingError(f"no such image file: {path}") from None
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise FoolingError(f"cannot read {path} as an image: {error}") from None
    tensor = torch.from_numpy(pixels.copy()).float().div(255)
    return tensor.unsqueeze(0) if channels == 1 else tensor.permute(2, 0, 1)
