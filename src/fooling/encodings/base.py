"""The Encoding role: a population of genomes as batched tensors, and how to draw them."""

from __future__ import annotations

from typing import Any, Protocol

import torch

Genomes = dict[str, torch.Tensor]
"""A population: named tensors that all have the individuals on dimension 0."""


class Encoding(Protocol):
    """How genomes are made, changed and turned into images; all of it batched.

    Implementations hold no per-individual Python objects: a population is a
    `Genomes` dict of tensors, so the Archive can store, select and checkpoint
    any encoding the same way.
    """

    name: str
    image_shape: tuple[int, int, int]

    def random(self, n: int, generator: torch.Generator) -> Genomes:
        """`n` random genomes on the encoding's device."""
        ...

    def mutate(self, parents: Genomes, generation: int, generator: torch.Generator) -> Genomes:
        """Offspring of `parents` (one each); `generation` drives rate schedules."""
        ...

    def render(self, genomes: Genomes) -> torch.Tensor:
        """Images `float32 [N, C, H, W]` in `[0, 1]`."""
        ...

    def settings(self) -> dict[str, Any]:
        """The JSON-able settings that define this encoding (for checkpoints and reports)."""
        ...


def select(genomes: Genomes, index: torch.Tensor) -> Genomes:
    """The individuals at `index` (a 1-D long tensor), as a new population."""
    return {key: value[index] for key, value in genomes.items()}


def quantize(images: torch.Tensor) -> torch.Tensor:
    """Round images to the 256 levels a PNG stores, so saved files score as reported."""
    return images.clamp(0, 1).mul_(255).round_().div_(255)
