"""Parent selection: which archive cells the next generation's parents come from.

A selection is any function `(archive, n, generator) -> long [n]` of cell
indices; pass one to `Emitter` or `Evolution` to replace the default. Define
it at module level so that a search holding it still pickles.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from fooling.archive import Archive

Selection = Callable[[Archive, int, torch.Generator], torch.Tensor]


def uniform(archive: Archive, n: int, generator: torch.Generator) -> torch.Tensor:
    """`n` filled cells drawn uniformly at random, with replacement (the paper's choice).

    Raises:
        RuntimeError: the archive is empty.
    """
    if archive.genomes is None:
        raise RuntimeError("the archive is empty: add a batch first")
    # (a cell stays empty only after NaN scores, which the classifier reports; the tiny
    # floor keeps the draw valid until then without asking the device whether any is full)
    weights = archive.filled.float().clamp_(min=1e-30)
    return torch.multinomial(weights, n, replacement=True, generator=generator)
