"""The "ask" half of the loop: an Emitter proposes each generation's images."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from fooling.archive import Archive
from fooling.encodings import Encoding, Genomes, select
from fooling.search.selection import Selection, uniform


@dataclass
class Offspring:
    """One generation's proposals, ready to be scored.

    Attributes:
        generation: the generation they belong to (0 is the random start).
        genomes: `B` genomes.
        images: their images `float32 [B, C, H, W]`, already rounded to the 8-bit
            levels they will be saved with, so that they score as saved.
        cells: `long [B]` the archive cell each one's parent came from (None at
            generation 0, which has no parents).
        climbed: the gradient steps each one took from its parent (0 for mutants;
            `fooling.search.refine`).
    """

    generation: int
    genomes: Genomes
    images: torch.Tensor
    cells: torch.Tensor | None = None
    climbed: int = 0


class Emitter:
    """Proposes offspring: random genomes at generation 0, then mutated elites.

    Each later generation draws `population` parents from the archive with
    `selection`, mutates them with the encoding and renders them. The emitter
    owns the search's random stream, so its proposals are a function of the
    seed and of the archive it is shown.

    Args:
        encoding: how genomes are made, changed and rendered.
        population: offspring per generation.
        seed: seeds the random stream (on the encoding's device).
        selection: picks parent cells; uniform over filled cells by default.

    Raises:
        ValueError: a non-positive population.
    """

    def __init__(
        self,
        encoding: Encoding,
        *,
        population: int,
        seed: int = 0,
        selection: Selection = uniform,
    ) -> None:
        if population < 1:
            raise ValueError(f"population must be positive, got {population}")
        self.encoding = encoding
        self.population = population
        self.seed = seed
        self.selection = selection
        self.generator = torch.Generator(device=encoding.device).manual_seed(seed)

    @torch.inference_mode()
    def ask(self, archive: Archive, generation: int) -> Offspring:
        """The offspring of `generation`: random at 0, else children of `archive`'s elites.

        Raises:
            RuntimeError: a generation after 0 with an empty archive.
        """
        cells = None
        if generation == 0:
            genomes = self.encoding.random(self.population, self.generator)
        else:
            cells = self.selection(archive, self.population, self.generator)
            assert archive.genomes is not None  # (the selection checked)
            parents = select(archive.genomes, cells)
            genomes = self.encoding.mutate(parents, generation, self.generator)
        return Offspring(generation, genomes, self.encoding.render(genomes, levels=True), cells)
