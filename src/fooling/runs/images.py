"""Elite images on disk: safe file names and 8-bit PNGs."""

from __future__ import annotations

import io
import re
import unicodedata
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from fooling.errors import FoolingError
from fooling.records import atomic_write_bytes, to_bytes

_MAX_LABEL_CHARS = 40
_NOT_SAFE = re.compile(r"[^a-z0-9]+")


def image_filename(index: int, label: str) -> str:
    """The relative path of a class elite's PNG inside a run folder.

    The label is reduced to ``[a-z0-9_]``: accents are stripped, every other run of
    characters becomes one ``_``, leading and trailing ``_`` are trimmed, and the
    result is cut to 40 characters. A label with nothing left becomes ``class``.
    The index keeps names unique and sorted.

    Args:
        index: the class index, ``>= 0``; zero-padded to at least 3 digits.
        label: the class label, any string.

    Returns:
        A POSIX relative path such as ``"images/008_hen.png"``.

    Raises:
        ValueError: if ``index`` is negative.
    """
    if index < 0:
        raise ValueError(f"class index must be >= 0, got {index}")
    ascii_label = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode()
    safe = _NOT_SAFE.sub("_", ascii_label.lower()).strip("_")
    safe = safe[:_MAX_LABEL_CHARS].rstrip("_") or "class"
    return f"images/{index:03d}_{safe}.png"


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Convert float images in ``[0, 1]`` to 8-bit, channels last.

    Values are clamped to ``[0, 1]``, scaled by 255 and rounded to the nearest integer.

    Args:
        images: ``[C, H, W]`` or ``[N, C, H, W]``, any float dtype, any device.

    Returns:
        A ``uint8`` array ``[H, W, C]`` or ``[N, H, W, C]`` on the CPU.

    Raises:
        ValueError: if the tensor is not 3-D or 4-D, or holds NaN or infinity.
    """
    if images.dim() not in (3, 4):
        raise ValueError(f"expected [C, H, W] or [N, C, H, W], got shape {tuple(images.shape)}")
    x = images.detach().to("cpu", torch.float32)
    if not torch.isfinite(x).all():
        raise ValueError("images hold NaN or infinite values")
    return to_bytes(x).movedim(-3, -1).contiguous().numpy()


def save_png(image: torch.Tensor, path: Path) -> None:
    """Write one image as an 8-bit PNG (gray for 1 channel, RGB for 3).

    Args:
        image: float ``[C, H, W]`` in ``[0, 1]`` with ``C`` 1 or 3, any device.
        path: the file to write, atomically; missing parent folders are created.

    Raises:
        ValueError: if the shape is not ``[1|3, H, W]`` or the values are not finite.
    """
    if image.dim() != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"expected [1, H, W] or [3, H, W], got shape {tuple(image.shape)}")
    pixels = to_uint8(image)
    # A 2-D uint8 array becomes mode "L", an [H, W, 3] one mode "RGB".
    picture = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    atomic_write_bytes(path, buffer.getvalue())


def read_png(path: Path) -> torch.Tensor:
    """An 8-bit gray or RGB image file as `uint8 [C, H, W]`, exactly as stored.

    Raises:
        FoolingError: the file is missing, unreadable, or neither gray nor RGB.
    """
    try:
        with Image.open(path) as picture:
            picture.load()
            if picture.mode not in ("L", "RGB"):
                raise FoolingError(f"{path} is a {picture.mode} image, not 8-bit gray or RGB")
            pixels = np.array(picture)
    except (OSError, UnidentifiedImageError) as error:
        raise FoolingError(f"cannot read {path}: {error}") from None
    tensor = torch.from_numpy(pixels)
    return tensor.unsqueeze(0) if tensor.dim() == 2 else tensor.permute(2, 0, 1).contiguous()
