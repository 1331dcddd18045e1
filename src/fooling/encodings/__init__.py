"""The Encoding role: genomes as batched tensors, rendered to images."""

from __future__ import annotations

import torch

from fooling.encodings.base import Encoding, Genomes, quantize, select
from fooling.encodings.cppn import CPPNEncoding
from fooling.encodings.direct import DirectEncoding
from fooling.errors import FoolingError

ENCODINGS = {"direct": DirectEncoding, "cppn": CPPNEncoding}


def make_encoding(
    name: str, image_shape: tuple[int, int, int], device: str | torch.device = "cpu"
) -> Encoding:
    """An encoding by name with the paper's settings.

    Args:
        name: `"direct"` or `"cppn"`.
        image_shape: `(channels, height, width)` of the images to evolve.
        device: where genomes live.

    Returns:
        The encoding.

    Raises:
        FoolingError: the name is unknown or the image shape does not suit it.
    """
    if name not in ENCODINGS:
        raise FoolingError(f"unknown encoding {name!r}; choose one of: {', '.join(ENCODINGS)}")
    try:
        return ENCODINGS[name](image_shape, device=device)
    except ValueError as error:
        raise FoolingError(str(error)) from None


__all__ = [
    "ENCODINGS",
    "CPPNEncoding",
    "DirectEncoding",
    "Encoding",
    "Genomes",
    "make_encoding",
    "quantize",
    "select",
]
