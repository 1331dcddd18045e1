"""fp32 admission: a search that scores below fp32 (bf16, int8) with an archive of fp32 values.

Every offspring about to enter or replace an elite is scored again in fp32 first, and the
archive holds and compares fp32 values only. Which offspring are "about to" is decided in
the search's own precision, like with like: an offspring is scored again when its score for
a cell beats the score its elite had in the same precision (the cell's *screen*), not the
elite's fp32 value. int8 reads evolved images lower than fp32 does (on EfficientNet-Lite0,
the elites of an fp32 CPPN run read in int8 at about half their fp32 probability below 0.1;
`reading_of_fp32_elites` in `benchmarks/results/int8_search_cpu.json`), so a gate against
fp32 values would let only large steps through.

An elite whose screen is unknown (one put into the archive from elsewhere: a migrant, an
archive to continue, a checkpoint written before screens were kept) is scored in the
search's own precision the first time an offspring is measured against it.
"""

from __future__ import annotations

import torch

from fooling.archive import Archive
from fooling.classifiers import Classifier
from fooling.encodings import select
from fooling.search.emitter import Offspring

UNKNOWN = -2.0  # no confidence is -2 (an empty cell's is -1)


class Fp32Admission:
    """The offspring a search admits, scored again in fp32 (see the module's text).

    Args:
        classifier: scores the search's own precision and, through
            `exact_probabilities`, fp32.
    """

    def __init__(self, classifier: Classifier) -> None:
        self.classifier = classifier
        self.screen: torch.Tensor | None = None  # [K] each elite's score in the search's precision
        self.screened: torch.Tensor | None = None  # [K] the fp32 confidence the screen belongs to

    def __call__(
        self, archive: Archive, offspring: Offspring, probabilities: torch.Tensor
    ) -> tuple[torch.Tensor, int]:
        """Offer the archive the offspring that would win a cell, scored again in fp32.

        Args:
            archive: the archive to offer them to.
            offspring: a generation's offspring.
            probabilities: their scores in the search's own precision `[B, num_classes]`.

        Returns:
            `bool [K]`: the cells whose elite was replaced; and how many offspring were
            scored again.
        """
        own = probabilities[:, archive.classes].to(archive.device)
        best, winner = own.max(dim=0)
        entering = winner[best > self._bar(archive)].unique()
        if not len(entering):
            return torch.zeros(len(archive), dtype=torch.bool, device=archive.device), 0
        images = offspring.images[entering]
        exact = self.classifier.exact_probabilities(images).to(archive.device)
        improved = archive.add(select(offspring.genomes, entering), images, exact,
                               offspring.generation)  # fmt: skip
        _, won = exact[:, archive.classes].max(dim=0)  # (the winners `add` took)
        assert self.screen is not None and self.screened is not None
        self.screen = torch.where(improved, own[entering][won, torch.arange(len(won))],
                                  self.screen)  # fmt: skip
        self.screened = torch.where(improved, archive.confidence, self.screened)
        return improved, len(entering)

    def _bar(self, archive: Archive) -> torch.Tensor:
        """`[K]` the score an offspring must beat to be scored again, cell by cell."""
        if self.screen is None or self.screened is None or len(self.screen) != len(archive):
            self.screen = torch.full((len(archive),), UNKNOWN, device=archive.device)
            self.screened = torch.full((len(archive),), UNKNOWN, device=archive.device)
        # an elite that did not come through here (or a cell emptied) has no current screen
        unknown = (self.screened != archive.confidence).nonzero().squeeze(1)
        if len(unknown):
            self.screen[unknown] = archive.confidence[unknown]  # (an empty cell's: -1)
            self.screened[unknown] = archive.confidence[unknown]
            elites = unknown[archive.confidence[unknown] >= 0]
            if len(elites):
                assert archive.images is not None
                scores = self.classifier(archive.images[elites].float().div(255))
                own = scores.gather(1, archive.classes[elites].view(-1, 1).to(scores.device))
                self.screen[elites] = own.squeeze(1).to(archive.device)
        return self.screen

    def state_dict(self) -> torch.Tensor | None:
        """`float32 [2, K]`: the screens and the confidences they belong to (None: none yet)."""
        if self.screen is None or self.screened is None:
            return None
        return torch.stack([self.screen, self.screened]).cpu()

    def load_state_dict(self, state: torch.Tensor | None, archive: Archive) -> None:
        """Continue with the screens of `state_dict()` (None: every screen unknown).

        Raises:
            ValueError: `state` is not `[2, K]` for this archive.
        """
        if state is None:
            self.screen = self.screened = None
            return
        if tuple(state.shape) != (2, len(archive)):
            raise ValueError(f"its screens are {tuple(state.shape)}, not (2, {len(archive)})")
        self.screen, self.screened = state.to(archive.device, torch.float32).clone()
