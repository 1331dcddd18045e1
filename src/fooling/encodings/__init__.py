"""The Encoding role: genomes as batched tensors, rendered to images."""

from __future__ import annotations

from typing import Any

import torch

from fooling.encodings.base import Encoding, Genomes, select
from fooling.encodings.cppn import CPPNEncoding
from fooling.encodings.direct import DirectEncoding
from fooling.errors import FoolingError

ENCODINGS: dict[str, type[DirectEncoding] | type[CPPNEncoding]] = {
    "direct": DirectEncoding,
    "cppn": CPPNEncoding,
}
"""Every encoding by name: the one list that commands, reports and experiments read (at
use, so that an encoding registered here later is offered everywhere)."""
BOTH = "both"
"""The name that stands for every encoding of `ENCODINGS`, taken in turn (`encodings_named`)."""


def encodings_named(name: str) -> tuple[str, ...]:
    """The encodings a name stands for: itself, or with `BOTH` every one of `ENCODINGS`.

    Raises:
        FoolingError: the name is neither an encoding nor `BOTH`.
    """
    if name == BOTH:
        return tuple(ENCODINGS)
    if name not in ENCODINGS:
        choices = ", ".join([*ENCODINGS, BOTH])
        raise FoolingError(f"unknown encoding {name!r}; choose one of {choices}")
    return (name,)


def make_encoding(
    name: str,
    image_shape: tuple[int, int, int],
    device: str | torch.device = "cpu",
    **options: Any,
) -> Encoding:
    """An encoding by name with the paper's settings.

    Args:
        name: `"direct"` or `"cppn"`.
        image_shape: `(channels, height, width)` of the images to evolve.
        device: where genomes live.
        options: settings of that encoding other than the paper's (`max_hidden=16`).

    Returns:
        The encoding.

    Raises:
        FoolingError: the name is unknown or the image shape does not suit it.
    """
    if name not in ENCODINGS:
        raise FoolingError(f"unknown encoding {name!r}; choose one of: {', '.join(ENCODINGS)}")
    try:
        return ENCODINGS[name](image_shape, device=device, **options)
    except (ValueError, TypeError) as error:
        raise FoolingError(str(error)) from None


def encoding_from_settings(
    settings: dict[str, Any], device: str | torch.device = "cpu"
) -> Encoding:
    """The encoding that `Encoding.settings()` saved (in a checkpoint or a finished run).

    Args:
        settings: the saved settings; `settings["encoding"]` names the encoding.
        device: where genomes will live.

    Returns:
        The encoding, with exactly the saved settings.

    Raises:
        FoolingError: the settings name no known encoding or are incomplete.
    """
    name = settings.get("encoding") if isinstance(settings, dict) else None
    if name not in ENCODINGS:
        raise FoolingError(f"saved settings name no known encoding: {name!r}")
    try:
        return ENCODINGS[name].from_settings(settings, device)
    except ValueError as error:
        raise FoolingError(f"cannot rebuild the {name} encoding: {error}") from None


__all__ = [
    "BOTH",
    "ENCODINGS",
    "CPPNEncoding",
    "DirectEncoding",
    "Encoding",
    "Genomes",
    "encoding_from_settings",
    "encodings_named",
    "make_encoding",
    "select",
]
