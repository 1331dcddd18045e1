"""The Encoding role: a population of genomes as batched tensors, and how to draw them."""

from __future__ import annotations

from typing import Any, Protocol

import torch

from fooling.limits import IMAGE_SIDE

Genomes = dict[str, torch.Tensor]
"""A population: named tensors that all have the individuals on dimension 0."""


class Encoding(Protocol):
    """How genomes are made, changed and turned into images; all of it batched.

    Implementations hold no per-individual Python objects: a population is a
    `Genomes` dict of tensors, so the Archive can store, select and checkpoint
    any encoding the same way. An encoding pickles and deep-copies (a search
    moves between processes), and `from_settings(settings())` rebuilds it.
    """

    name: str
    image_shape: tuple[int, int, int]
    device: torch.device

    def random(self, n: int, generator: torch.Generator) -> Genomes:
        """`n` random genomes on the encoding's device."""
        ...

    def mutate(self, parents: Genomes, generation: int, generator: torch.Generator) -> Genomes:
        """Offspring of `parents` (one each); `generation` drives rate schedules."""
        ...

    def render(self, genomes: Genomes, *, levels: bool = False) -> torch.Tensor:
        """Images `float32 [N, C, H, W]` in `[0, 1]`, new or not to be written to.

        With `levels`, rounded to the 256 levels a PNG stores, as `records.quantize`
        rounds them (the search scores images as they will be saved).
        """
        ...

    def settings(self) -> dict[str, Any]:
        """The JSON-able settings that define this encoding; `from_settings` rebuilds it."""
        ...

    def check(self, genomes: Genomes) -> None:
        """Raise ValueError unless `genomes` hold values this encoding could have made.

        Genomes read from a file go through this before they are used.
        """
        ...

    @classmethod
    def from_settings(cls, settings: dict[str, Any], device: str | torch.device) -> Encoding:
        """The encoding that `settings()` described, on `device`.

        Raises:
            ValueError: the settings do not describe an encoding of this class.
        """
        ...


def select(genomes: Genomes, index: torch.Tensor) -> Genomes:
    """The individuals at `index` (a 1-D long tensor), as a new population."""
    return {key: value[index] for key, value in genomes.items()}


def check_settings(settings: Any, name: str) -> None:
    """Raise ValueError unless `settings` are a dict describing an encoding called `name`."""
    if not isinstance(settings, dict) or settings.get("encoding") != name:
        found = settings.get("encoding") if isinstance(settings, dict) else settings
        raise ValueError(f"settings of a {found!r} encoding, not {name!r}")
    shape = settings.get("image_shape")
    if not (isinstance(shape, list) and len(shape) == 3 and all(isinstance(n, int) for n in shape)):
        raise ValueError(f"encoding settings hold no image shape (C, H, W): {shape!r}")
    if shape[0] not in (1, 3) or not all(IMAGE_SIDE.allows(side) for side in shape[1:]):
        raise ValueError(f"encoding settings hold an image shape out of range: {shape!r}")


def check_number(name: str, value: float, low: float, high: float) -> None:
    """Raise ValueError unless `low <= value <= high` (NaN never is)."""
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low:g}, {high:g}], got {value!r}")


def check_values(name: str, tensor: torch.Tensor, low: float, high: float) -> None:
    """Raise ValueError unless every value of `tensor` is in `[low, high]` (NaN never is)."""
    if len(tensor) and not bool(((tensor >= low) & (tensor <= high)).all()):
        raise ValueError(f"genome {name} holds values outside [{low:g}, {high:g}]")
