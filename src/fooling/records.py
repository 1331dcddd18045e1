"""Small shared records: progress rows, confidence statistics, 8-bit rounding, atomic writes.

Everything that several parts of `fooling` agree on lives here once, and this
module imports nothing heavier than torch, so that the command line and the
search loop can use it without loading plotting or attack libraries.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import statistics
from collections.abc import Iterator, Mapping
from dataclasses import astuple, dataclass
from pathlib import Path

import torch

FOOLED_AT = 0.99
"""A class counts as fooled when its elite reaches this confidence (the paper's 99%)."""

MAX_PROBABILITY = 1.001
"""The highest probability accepted from a model (its softmax may round a little above 1)."""

TEMPORARY_SUFFIX = ".tmp"
"""How the temporary files of `atomic_file` end: `.NAME.PID.RANDOM.tmp`, beside NAME."""


@dataclass(frozen=True, slots=True)
class Statistics:
    """Figures of an archive's confidences, counting empty cells (-1) as 0.

    Attributes:
        best: the highest confidence.
        median: the median confidence (the mean of the middle two for an even count).
        mean: the mean confidence.
        fooled: how many cells are at `FOOLED_AT` or above.
        lowest: the lowest confidence (the weakest class's best image).
    """

    best: float
    median: float
    mean: float
    fooled: int
    lowest: float

    @classmethod
    def of(cls, confidences: torch.Tensor) -> Statistics:
        """The statistics of cell confidences `[K]`, read on the host (-1 marks an empty cell)."""
        values = [max(value, 0.0) for value in confidences.tolist()]
        if not values:
            return cls(0.0, 0.0, 0.0, 0, 0.0)
        fooled = sum(value >= FOOLED_AT for value in values)
        mean = statistics.fmean(values)
        return cls(max(values), statistics.median(values), mean, fooled, min(values))

    @staticmethod
    def on_device(confidences: torch.Tensor) -> torch.Tensor:
        """`float64 [5]` best, median, mean, fooled and lowest, computed where `confidences` live.

        On a GPU this lets a generation go on without waiting for the host;
        `Statistics(*tensor.tolist())` reads it later (fooled comes back as a float).
        """
        values = confidences.clamp(min=0).double()
        middle = values.quantile(0.5)  # as statistics.median: the mean of the middle two
        fooled = (values >= FOOLED_AT).sum().double()
        return torch.stack([values.max(), middle, values.mean(), fooled, values.min()])


@dataclass(frozen=True, slots=True)
class ProgressRow:
    """One generation's figures: a line of `progress.csv`.

    Attributes:
        generation: the generation number.
        evaluations: classifier evaluations so far, in total.
        seconds: wall-clock seconds so far, in total.
        best_confidence: the highest elite confidence over all classes.
        median_confidence: the median elite confidence over all classes.
        mean_confidence: the mean elite confidence over all classes.
        fooled: how many classes have an elite with confidence `>= 0.99`
            (column `fooled_at_0.99`).
        lowest_confidence: the lowest elite confidence over all classes (NaN in rows
            read from a log or checkpoint written before this column existed).
        rescored_share: the share of this generation's offspring scored again in fp32
            before they entered the archive (fp32 admission, `Evolution`); 0 otherwise.
    """

    generation: int
    evaluations: int
    seconds: float
    best_confidence: float
    median_confidence: float
    mean_confidence: float
    fooled: int
    lowest_confidence: float
    rescored_share: float = 0.0

    @classmethod
    def at(
        cls,
        generation: int,
        evaluations: int,
        seconds: float,
        figures: Statistics,
        rescored_share: float = 0.0,
    ) -> ProgressRow:
        """The row of a generation whose archive has the statistics `figures`."""
        return cls(
            int(generation), int(evaluations), float(seconds), float(figures.best),
            float(figures.median), float(figures.mean), int(figures.fooled), float(figures.lowest),
            float(rescored_share),
        )  # fmt: skip

    def values(self) -> tuple[int | float, ...]:
        """The row's values in column order."""
        return astuple(self)


def quantize(images: torch.Tensor) -> torch.Tensor:
    """Images rounded to the 256 levels a PNG stores (a new tensor; `images` is untouched).

    Images are scored as they will be saved, so that a saved file scores what was reported.
    """
    return quantize_(images.clone())


def quantize_(images: torch.Tensor) -> torch.Tensor:
    """`quantize` in place: `images` rounded to the 256 levels of a PNG, and returned."""
    return images.clamp_(0, 1).mul_(255).round_().div_(255)


def to_bytes(images: torch.Tensor) -> torch.Tensor:
    """Images in `[0, 1]` as `uint8` levels, rounded exactly as `quantize` rounds them."""
    return images.clamp(0, 1).mul_(255).round_().to(torch.uint8)


def hash_tensors(digest: hashlib._Hash, tensors: Mapping[str, torch.Tensor]) -> None:
    """Feed named tensors into `digest`: names, types, shapes and bytes, in name order."""
    for name in sorted(tensors):
        flat = tensors[name].detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}:{flat.dtype}:{tuple(tensors[name].shape)};".encode())
        digest.update(flat.view(torch.uint8).numpy().tobytes())


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; when the block ends, it replaces `path` at once.

    Readers see the old file or the new one, never half of one. The temporary
    file gets a fresh name (not `mkstemp`, whose mode 0600 would stick to the
    result), is synced to disk, and is removed if the block fails. A symbolic
    link at `path` is replaced, never written through.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(
        f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TEMPORARY_SUFFIX}"
    )
    try:
        yield temporary
        with open(temporary, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` atomically (see `atomic_file`)."""
    with atomic_file(path) as temporary:
        temporary.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write `text` as UTF-8 to `path` atomically (see `atomic_file`)."""
    atomic_write_bytes(path, text.encode("utf-8"))
