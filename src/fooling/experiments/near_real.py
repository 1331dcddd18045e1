"""Whether a "fooling" image lies as close to a real image as real images do.

A fooling image is one a person would not recognise. Searches against a network
retrained to reject fooling images can end up drawing the class instead: against
the third retrained LeNet a CPPN draws a ring or a stroke, and the network rightly
reads a 0 or a 1. No classifier can tell those apart from fooling images, since a
classifier is what is being fooled; the distance to the nearest real image cannot
be fooled that way. So an image counts as near a real one when its Euclidean
distance (pixels in [0, 1]) to the nearest real training image is at most what 95%
of real test images have to theirs.

It is a proxy, and errs both ways: a short thin stroke on black lies near many
real 1s whether or not it reads as a digit, and a clean ring of another size or
thickness than MNIST's 0s reads as a 0 yet can lie far from all of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import torch

NEAR_SHARE = 0.95  # of real test images, whose distance to their nearest neighbour sets the cut
CALIBRATION_IMAGES = 1000  # real test images the cut is measured on
_QUERIES = 256  # images measured at once
_VALUES = 2**26  # reference pixels converted to float at once (256 MB; all of MNIST is 47 M)


@dataclass(frozen=True)
class NearReal:
    """The real training images, and the distance within which an image counts as real-like.

    Attributes:
        training: `[N, C, H, W]` the real training images, `uint8` or `float` in [0, 1].
        cutoff: the distance at or under which an image is near a real one.
    """

    training: torch.Tensor
    cutoff: float
    _reference: _Reference | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._reference is None:  # (frozen: set the way dataclasses document)
            object.__setattr__(self, "_reference", _Reference(self.training))

    @classmethod
    def calibrate(cls, training: torch.Tensor, test: torch.Tensor, *, seed: int = 0) -> NearReal:
        """The cut-off measured on real test images against the real training images.

        Args:
            training: `[N, C, H, W]` real training images, `float` in [0, 1] or `uint8`.
            test: real test images like them (up to `CALIBRATION_IMAGES` drawn at random).
            seed: draws the test images.

        Returns:
            The measure, its cut-off the `NEAR_SHARE` quantile of the test images' distances.
        """
        generator = torch.Generator().manual_seed(seed)
        chosen = torch.randperm(len(test), generator=generator)[:CALIBRATION_IMAGES]
        reference = _Reference(training)
        distances = reference.nearest(test[chosen])
        return cls(training, float(distances.quantile(NEAR_SHARE)), reference)

    def distances(self, images: torch.Tensor) -> torch.Tensor:
        """`float [M]`: each image's distance to its nearest real training image."""
        assert self._reference is not None  # (made in __post_init__)
        return self._reference.nearest(images)

    def near(self, images: torch.Tensor) -> torch.Tensor:
        """`bool [M]`: which images lie as close to a real image as real test images do."""
        return self.distances(images) <= self.cutoff

    def far(self, images: torch.Tensor) -> torch.Tensor:
        """`bool [M]`: which images lie farther from every real image than that."""
        return ~self.near(images)


class _Reference:
    """Real images as float rows, each with its squared length, a slice at a time.

    Where all of them fit `_VALUES` (all of MNIST does), the rows and lengths are made
    once, so that many small queries do not convert the images again each time.
    """

    def __init__(self, images: torch.Tensor) -> None:
        self.images = images
        self.step = max(1, _VALUES // max(1, images[0].numel())) if len(images) else 1
        self._whole = self._slice(0) if len(images) <= self.step else None

    def _slice(self, start: int) -> tuple[torch.Tensor, torch.Tensor]:
        rows = _flat(self.images[start : start + self.step])
        return rows, rows.square().sum(dim=1)

    def slices(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if self._whole is not None:
            yield self._whole
            return
        for start in range(0, len(self.images), self.step):
            yield self._slice(start)

    def nearest(self, queries: torch.Tensor) -> torch.Tensor:
        """Each query's distance to its nearest reference image.

        As `torch.cdist` computes it for many images, |q - r|² = |q|² + |r|² - 2 q·r, but
        with each slice's |r|² once for all its queries (twice as fast on MNIST:
        `benchmarks/near_real_speed.py`).
        """
        nearest = torch.full((len(queries),), float("inf"))
        for rows, lengths in self.slices():
            for first in range(0, len(queries), _QUERIES):
                chosen = slice(first, first + _QUERIES)
                query = _flat(queries[chosen])
                products = torch.addmm(lengths, query, rows.T, alpha=-2)  # |r|² - 2 q·r
                found = products.amin(dim=1) + query.square().sum(dim=1)
                nearest[chosen] = torch.minimum(nearest[chosen], found)
        return nearest.clamp_min(0).sqrt()


def _flat(images: torch.Tensor) -> torch.Tensor:
    """`float [N, C*H*W]` in [0, 1] (a no-op for images already flattened that way)."""
    images = images.cpu()
    images = images.float().div(255) if images.dtype == torch.uint8 else images.float()
    return images.flatten(1)
