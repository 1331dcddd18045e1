"""Work on Ray: island-model MAP-Elites (`islands`), and one function over many items (`pool`).

Ray is an optional extra (`pip install "fooling[ray]"`), imported only when more than
one worker is asked for; `cluster` starts a local cluster bound to 127.0.0.1 or joins one.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

COSTLY_GENERATION = 2**20
"""Image values (population x C x H x W) from which a CPU generation is costly enough to
merge after every one: an ImageNet-sized population of 7 or more, never an MNIST one."""


def default_migrate_every(device: torch.device, population: int, input_shape: Sequence[int]) -> int:
    """Generations between merges when none is asked for: 1 for costly CPU generations, else 10.

    A merge costs a few milliseconds (6-9 ms measured on 2 cores). Where a generation
    costs far more (EfficientNet-Lite0 on one CPU thread: 0.25 s for 50 images) merging after
    each one is free and keeps the islands as close to one search as they can be;
    merging every 10 generations made the median confidence of short runs lower
    (`benchmarks/ray_quality.py`). Where a generation costs milliseconds (LeNet, or
    any model on a GPU) merging every generation would double its time.

    Args:
        device: where the classifier runs.
        population: each island's images per generation.
        input_shape: the classifier's `(C, H, W)`.
    """
    values = population
    for size in input_shape:
        values *= size
    return 1 if device.type == "cpu" and values >= COSTLY_GENERATION else 10
