"""What a search leaves: per-class elites and the run's figures."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from fooling.report.progress import ProgressRow

FOOLED_AT = 0.99


@dataclass
class SearchResult:
    """The outcome of a search (evolution or gradient ascent), one elite per target class.

    Attributes:
        classifier: the classifier's name.
        method: `"evolve"` (or another search method).
        encoding: the encoding's name, or None for methods without one.
        seed: the random seed.
        generations: generations (or steps) completed.
        population: images per generation.
        evaluations: images scored by the classifier in total.
        seconds: wall-clock seconds spent searching.
        classes: the target class indices.
        labels: the target classes' labels, in the same order.
        confidences: `float [K]` each elite's probability for its class (-1: none found).
        images: `uint8 [K, C, H, W]` the elites' images.
        found_at: `long [K]` the generation each elite was found in.
        history: one row per generation.
    """

    classifier: str
    method: str
    encoding: str | None
    seed: int
    generations: int
    population: int
    evaluations: int
    seconds: float
    classes: list[int]
    labels: list[str]
    confidences: torch.Tensor
    images: torch.Tensor
    found_at: torch.Tensor
    history: list[ProgressRow] = field(default_factory=list)

    @property
    def median_confidence(self) -> float:
        return median(self.confidences)

    def fooled(self, threshold: float = FOOLED_AT) -> int:
        """How many classes have an elite at or above `threshold`."""
        return int((self.confidences >= threshold).sum())

    def summary(self) -> dict[str, Any]:
        """The `summary.json` content (image paths relative to the run directory)."""
        from fooling.report.images import image_filename

        return {
            "classifier": self.classifier,
            "method": self.method,
            "encoding": self.encoding,
            "seed": self.seed,
            "generations": self.generations,
            "population": self.population,
            "evaluations": self.evaluations,
            "seconds": round(self.seconds, 3),
            "median_confidence": self.median_confidence,
            "fooled_at_0.99": self.fooled(),
            "classes": [
                {
                    "index": index,
                    "label": label,
                    "confidence": float(confidence),
                    "image": image_filename(index, label),
                }
                for index, label, confidence in zip(
                    self.classes, self.labels, self.confidences.tolist(), strict=True
                )
            ],
        }

    def save(self, out: str | Path) -> Path:
        """Write the run directory: summary.json, images/, gallery.html, progress.csv, plots/.

        Args:
            out: the run directory (created if missing).

        Returns:
            The path of `gallery.html`.
        """
        from fooling.report.run_directory import write_run

        return write_run(self, Path(out))


def cell_confidences(confidences: torch.Tensor) -> list[float]:
    """The cells' confidences as floats, counting empty cells (-1) as 0."""
    return [max(value, 0.0) for value in confidences.tolist()]


def median(confidences: torch.Tensor) -> float:
    """The median confidence, counting empty cells (-1) as 0."""
    values = cell_confidences(confidences)
    return statistics.median(values) if values else 0.0


Figures = torch.Tensor | list[float]


def confidence_figures(confidence: torch.Tensor, *, on_host: bool) -> Figures:
    """Best, median, mean and how many at >= 0.99, counting empty cells (-1) as 0.

    On the host (cheapest on a CPU) as floats, else as a tensor on the archive's
    device, so that the device need not wait.
    """
    if on_host:
        values = [max(value, 0.0) for value in confidence.tolist()]
        fooled = sum(value >= FOOLED_AT for value in values)
        return [max(values), statistics.median(values), statistics.fmean(values), fooled]
    values = confidence.clamp(min=0).double()
    middle = values.quantile(0.5)  # as statistics.median: the mean of the middle two
    fooled = (values >= FOOLED_AT).sum().double()
    return torch.stack([values.max(), middle, values.mean(), fooled])
