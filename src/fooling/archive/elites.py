"""The Archive role: MAP-Elites over classes, one elite per class."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from fooling.encodings.base import Genomes
from fooling.records import MAX_PROBABILITY, to_bytes


class Archive:
    """One cell per target class, holding the best image found for it so far.

    Everything is a tensor on one device: `confidence [K]` (-1 while a cell is
    empty), `found_at [K]` (the generation of each elite), `images uint8
    [K, C, H, W]` and the elites' genomes. `add` takes a whole evaluated batch and
    lets an offspring replace the elite of *every* class whose probability it
    beats, so one image can claim many cells.

    On a GPU, `add` never makes the device wait for the host: it updates every
    cell under a mask (`wait_free`). On a CPU, where reading results back costs
    nothing, it touches only the cells that improved, which is cheaper there.

    Args:
        classes: the class indices (into the classifier's outputs) that have cells.
        device: where the archive lives.
        wait_free: the masked update; by default on any device but the CPU.
    """

    def __init__(
        self,
        classes: Sequence[int],
        device: str | torch.device = "cpu",
        *,
        wait_free: bool | None = None,
    ) -> None:
        self.device = torch.device(device)
        self.wait_free = self.device.type != "cpu" if wait_free is None else wait_free
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

    @torch.inference_mode()
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
        if self.wait_free:  # every cell takes its winner's data or keeps its own
            for key, value in genomes.items():
                self.genomes[key] = _where(improved, value[winner], self.genomes[key])
            self.images = _where(improved, to_bytes(images)[winner], self.images)
            self.confidence = torch.where(improved, best, self.confidence)
            self.found_at = torch.where(improved, generation, self.found_at)
            return improved
        cells = improved.nonzero().squeeze(1)  # only the cells that improved
        if len(cells) == 0:
            return improved
        winners = winner[cells]
        for key, value in genomes.items():
            self.genomes[key][cells] = value[winners]
        # each offspring converted once, however many cells it wins (at first, most of them)
        offspring, copy = winners.unique(return_inverse=True)
        self.images[cells] = to_bytes(images[offspring])[copy]
        self.confidence[cells] = best[cells]
        self.found_at[cells] = generation
        return improved

    def state_dict(self) -> dict[str, Any]:
        """A copy of every tensor of a filled archive, the elites' genomes under `"genomes"`.

        A snapshot: later `add`s do not change it.
        """
        if self.genomes is None or self.images is None:
            raise RuntimeError("an empty archive has no state to save")
        return {
            "classes": self.classes.clone(),
            "confidence": self.confidence.clone(),
            "found_at": self.found_at.clone(),
            "images": self.images.clone(),
            "genomes": {key: value.clone() for key, value in self.genomes.items()},
        }

    def rows(self, cells: torch.Tensor, device: str | torch.device | None = None) -> dict[str, Any]:
        """Copies of some cells of a filled archive, on `device` (default: the archive's).

        Returns:
            The cells' positions under `"cells"`, then their tensors as `state_dict`
            names them: what `put` takes.
        """
        if self.genomes is None or self.images is None:
            raise RuntimeError("an empty archive has no rows")
        device = self.device if device is None else device
        return {
            "cells": cells.to(device, copy=True),
            "confidence": self.confidence[cells].to(device),
            "found_at": self.found_at[cells].to(device),
            "images": self.images[cells].to(device),
            "genomes": {key: value[cells].to(device) for key, value in self.genomes.items()},
        }

    @torch.inference_mode()
    def put(self, rows: dict[str, Any]) -> None:
        """Overwrite cells with `rows` (from `rows()` of an archive of the same classes)."""
        if self.genomes is None:
            self._allocate(rows["genomes"], rows["images"])
        assert self.genomes is not None and self.images is not None
        cells = rows["cells"].to(self.device)
        self.confidence[cells] = rows["confidence"].to(self.device)
        self.found_at[cells] = rows["found_at"].to(self.device)
        self.images[cells] = rows["images"].to(self.device)
        for key, value in rows["genomes"].items():
            self.genomes[key][cells] = value.to(self.device)

    @classmethod
    def from_state_dict(cls, state: dict[str, Any], device: str | torch.device) -> Archive:
        """The archive that `state_dict()` saved, on `device` (copied: `state` stays apart).

        Raises:
            KeyError: a tensor is missing.
            ValueError: the tensors disagree in size, the classes repeat, or a
                confidence, generation or genome value is out of range.
        """
        archive = cls(state["classes"].tolist(), device)
        if len(set(archive.classes.tolist())) != len(archive):
            raise ValueError("archive classes repeat")
        device = archive.device
        archive.confidence = state["confidence"].to(device, torch.float32, copy=True)
        archive.found_at = state["found_at"].to(device, torch.long, copy=True)
        archive.images = state["images"].to(device, torch.uint8, copy=True)
        archive.genomes = {
            key: value.to(device, copy=True) for key, value in state["genomes"].items()
        }
        sizes = {len(archive.confidence), len(archive.found_at), len(archive.images)}
        sizes |= {len(value) for value in archive.genomes.values()}
        if sizes != {len(archive)} or not archive.genomes:
            raise ValueError("archive tensors disagree in size")
        empty = archive.confidence == -1
        held = (archive.confidence >= 0) & (archive.confidence <= MAX_PROBABILITY)
        if not bool((empty | held).all()):
            raise ValueError("archive confidences must be probabilities (or -1 for an empty cell)")
        if not bool(torch.where(empty, archive.found_at == -1, archive.found_at >= 0).all()):
            raise ValueError("archive generations do not match its confidences")
        floats = [value for value in archive.genomes.values() if value.is_floating_point()]
        if not all(bool(torch.isfinite(value).all()) for value in floats):
            raise ValueError("archive genomes hold NaN or infinite values")
        return archive

    def _allocate(self, genomes: Genomes, images: torch.Tensor) -> None:
        cells = len(self)
        self.genomes = {
            key: torch.zeros((cells, *value.shape[1:]), dtype=value.dtype, device=self.device)
            for key, value in genomes.items()
        }
        self.images = torch.zeros((cells, *images.shape[1:]), dtype=torch.uint8, device=self.device)


def _where(take: torch.Tensor, new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    """Per cell (dimension 0), `new` where `take` is True, else `old`."""
    return torch.where(take.view(-1, *[1] * (old.dim() - 1)), new, old)
