"""The direct encoding: the genome is the image."""

from __future__ import annotations

import math
from typing import Any

import torch

from fooling.encodings.base import Genomes, check_number, check_settings, check_values
from fooling.encodings.color import hsv_to_rgb
from fooling.encodings.polynomial import polynomial_mutation
from fooling.records import quantize


class DirectEncoding:
    """Pixels as genes, initialised uniformly and changed by polynomial mutation.

    Paper settings: each value is mutated with probability `rate` (0.1), a rate
    halved every `halve_every` generations (1000), by polynomial mutation with
    `eta` = 15 within the value bounds. Gray images have one value per pixel;
    colour images three, read as H, S, V.

    Args:
        image_shape: `(channels, height, width)`, channels 1 (gray) or 3 (HSV colour).
        device: where genomes live.
        rate: initial per-value mutation probability.
        halve_every: generations after which the rate halves.
        eta: polynomial mutation distribution index.

    Raises:
        ValueError: channels other than 1 or 3.
    """

    name = "direct"

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        *,
        device: str | torch.device = "cpu",
        rate: float = 0.1,
        halve_every: int = 1000,
        eta: float = 15.0,
    ) -> None:
        if image_shape[0] not in (1, 3):
            raise ValueError(f"direct encoding needs 1 or 3 channels, got {image_shape[0]}")
        check_number("rate", rate, 0, 1)
        check_number("halve_every", halve_every, 1, math.inf)
        check_number("eta", eta, 1e-6, 1e6)
        self.image_shape = tuple(image_shape)
        self.device = torch.device(device)
        self.rate = rate
        self.halve_every = halve_every
        self.eta = eta

    def random(self, n: int, generator: torch.Generator) -> Genomes:
        pixels = torch.rand((n, *self.image_shape), generator=generator, device=self.device)
        return {"pixels": pixels}

    def mutation_rate(self, generation: int) -> float:
        """The per-value mutation probability at `generation`."""
        return self.rate * 0.5 ** (generation // self.halve_every)

    def mutate(self, parents: Genomes, generation: int, generator: torch.Generator) -> Genomes:
        pixels = polynomial_mutation(
            parents["pixels"],
            rate=self.mutation_rate(generation),
            eta=self.eta,
            low=0.0,
            high=1.0,
            generator=generator,
        )
        return {"pixels": pixels}

    def render(self, genomes: Genomes, *, levels: bool = False) -> torch.Tensor:
        pixels = genomes["pixels"]
        if self.image_shape[0] == 3:
            return hsv_to_rgb(pixels, levels=levels)
        return quantize(pixels) if levels else pixels

    def check(self, genomes: Genomes) -> None:
        check_values("pixels", genomes["pixels"], 0.0, 1.0)

    def settings(self) -> dict[str, Any]:
        return {
            "encoding": self.name,
            "image_shape": list(self.image_shape),
            "rate": self.rate,
            "halve_every": self.halve_every,
            "eta": self.eta,
        }

    @classmethod
    def from_settings(
        cls, settings: dict[str, Any], device: str | torch.device = "cpu"
    ) -> DirectEncoding:
        check_settings(settings, cls.name)
        try:
            return cls(
                tuple(settings["image_shape"]), device=device, rate=float(settings["rate"]),
                halve_every=int(settings["halve_every"]), eta=float(settings["eta"]),
            )  # fmt: skip
        except (KeyError, TypeError) as error:
            raise ValueError(f"incomplete direct encoding settings: {error}") from None
