"""The Archive role: MAP-Elites over classes, one elite per class."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from fooling.encodings.base import Genomes, select


class Archive:
    """One cell per target class, holding the best image found for it so far.

    Everything is a tensor on one device: `confidence [K]` (-1 while a cell is
    empty), `found_at [K]` (the generation of each elite), `images uint8
    [K, C, H, W]` and the elites' genomes. `add` takes a whole evaluated batch and
    lets an offspring replace the elite of *every* class whose probability it
    beats, so one image can claim many cells.

    Args:
        classes: the class indices (into the classifier's outputs) that have cells.
        device: where the archive lives.
    """

    def __init__(self, classes: Sequence[int], device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self.classes = torch.as_tensor(list(classes), dtype=torch.long, device=self.device)
        cells = len(self.classes)
        self.confidence = torch.full((cells,), -1.0, device=self.device)
        self.found_at = torch.full((cells,), -1, dtype=torch.long, device=self.device)
        self.images: torch.Tensor | None = None
        self.genomes: Genomes | None = None

    def __len__(self) -> int:
        return len(self.classes)

    @property
    def filled(self) -> torch.Tensor:
        """`bool [K]`: which cells hold an elite."""
        return self.confidence >= 0

    def add(
        self, genomes: Genomes, images: torch.Tensor, probabilities: torch.Tensor, generation: int
    ) -> torch.Tensor:
        """Offer a batch; each cell keeps the best of its elite and the batch.

        Args:
            genomes: the batch's genomes, `B` individuals.
            images: their images `float [B, C, H, W]` in `[0, 1]`.
            probabilities: the classifier's output `[B, num_classes]`.
            generation: recorded for the cells that improve.

        Returns:
            `bool [K]`: the cells whose elite was replaced.
        """
        scores = probabilities[:, self.classes]
        best, winner = scores.max(dim=0)
        improved = best > self.confidence
        if self.genomes is None:
            self._allocate(genomes, images)
        assert self.genomes is not None and self.images is not None
        cells = improved.nonzero().squeeze(1)
        if len(cells) == 0:
            return improved
        winners = winner[cells]
        for key, value in genomes.items():
            self.genomes[key][cells] = value[winners]
        self.images[cells] = _as_bytes(images[winners])
        self.confidence[cells] = best[cells]
        self.found_at[cells] = generation
        return improved

    def parents(self, n: int, generator: torch.Generator) -> Genomes:
        """`n` elites drawn uniformly at random, with replacement, from the filled cells.

        Raises:
            RuntimeError: the archive is empty.
        """
        filled = self.filled.nonzero().squeeze(1)
        if self.genomes is None or len(filled) == 0:
            raise RuntimeError("the archive is empty: add a batch first")
        pick = torch.randint(len(filled), (n,), generator=generator, device=self.device)
        return select(self.genomes, filled[pick])

    def state(self) -> dict[str, torch.Tensor]:
        """All tensors, for a checkpoint (genome fields are prefixed `genome.`)."""
        if self.genomes is None or self.images is None:
            raise RuntimeError("an empty archive has no state to save")
        state = {
            "classes": self.classes,
            "confidence": self.confidence,
            "found_at": self.found_at,
            "images": self.images,
        }
        state.update({f"genome.{key}": value for key, value in self.genomes.items()})
        return state

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor], device: str | torch.device) -> Archive:
        """The archive that `state()` saved.

        Raises:
            KeyError: a tensor is missing.
            ValueError: the tensors disagree in size.
        """
        archive = cls(state["classes"].tolist(), device)
        archive.confidence = state["confidence"].to(archive.device, torch.float32)
        archive.found_at = state["found_at"].to(archive.device, torch.long)
        archive.images = state["images"].to(archive.device, torch.uint8)
        archive.genomes = {
            key.removeprefix("genome."): value.to(archive.device)
            for key, value in state.items()
            if key.startswith("genome.")
        }
        sizes = {len(archive.confidence), len(archive.found_at), len(archive.images)}
        sizes |= {len(value) for value in archive.genomes.values()}
        if sizes != {len(archive)} or not archive.genomes:
            raise ValueError("archive tensors disagree in size")
        return archive

    def _allocate(self, genomes: Genomes, images: torch.Tensor) -> None:
        cells = len(self)
        self.genomes = {
            key: torch.zeros((cells, *value.shape[1:]), dtype=value.dtype, device=self.device)
            for key, value in genomes.items()
        }
        self.images = torch.zeros((cells, *images.shape[1:]), dtype=torch.uint8, device=self.device)


def _as_bytes(images: torch.Tensor) -> torch.Tensor:
    """Images in `[0, 1]` as the bytes a PNG stores."""
    return images.clamp(0, 1).mul(255).round().to(torch.uint8)
