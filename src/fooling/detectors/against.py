"""Evolution against a classifier and its detector together: an evaluator for `Evolution`.

An image the detector lets through (its score at or below the threshold that
keeps 95% of real images) scores its class probabilities as they are. One it
catches scores them discounted, by one of two penalties:

- `soft`: times `exp(-(score - threshold) / spread)`, where the spread is the
  distance from the median real image's score to the threshold: one spread past
  the threshold keeps 1/e. A caught image can still hold an empty cell and lead
  the search back toward the threshold.
- `gate`: times 0. Only images the detector lets through ever score.

Whichever the penalty, an image the detector lets through scores exactly its
class probability, so an elite at 99% that passes is one the classifier puts
at 99%.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from fooling.classifiers import Classifier
from fooling.detectors.detector import Detectors
from fooling.detectors.real_images import real_images
from fooling.errors import FoolingError
from fooling.records import FOOLED_AT

PENALTIES = ("soft", "gate")


class AgainstDetector:
    """Scores images as the classifier does, discounted where a detector catches them.

    Args:
        detectors: detectors fitted on the classifier's real images; `name` among them.
        name: the detector to evolve against.
        penalty: `"soft"` or `"gate"` (see the module's docstring).
        data: the folder of real images the detectors were fitted on (None: MNIST),
            recorded so that a resumed run fits them again alike.

    Raises:
        FoolingError: an unknown penalty, or `name` not among `detectors`.
    """

    def __init__(
        self, detectors: Detectors, name: str, penalty: str = "soft", data: str | None = None
    ) -> None:
        if penalty not in PENALTIES:
            raise FoolingError(f"unknown penalty {penalty!r}; choose from: {', '.join(PENALTIES)}")
        if name not in detectors.names:
            raise FoolingError(f"{name} is not among the fitted detectors")
        self.detectors = detectors
        self.name = name
        self.penalty = penalty
        self.data = data
        self.threshold = detectors.thresholds[name]
        median = float(detectors.real_scores[name].median())
        self.spread = max(self.threshold - median, 1e-12)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """Class scores `[B, K]` in `[0, 1]` on the classifier's device (see `Evaluator`)."""
        probabilities, scores = self.detectors.read(images, [self.name])
        past = (scores[self.name] - self.threshold).clamp(min=0)
        soft = self.penalty == "soft"
        factor = torch.exp(-past / self.spread) if soft else (past == 0).double()
        discounted = probabilities * factor.float().unsqueeze(1)
        return discounted.to(self.detectors.classifier.device)

    def verdicts(
        self, images: torch.Tensor, classes: torch.Tensor, filled: torch.Tensor
    ) -> dict[str, Any]:
        """Every elite's class probability and the detector's verdict on it.

        Args:
            images: `uint8 [K, C, H, W]` an archive's images.
            classes: `long [K]` their classes.
            filled: `bool [K]` the cells that hold an elite.

        Returns:
            The settings, one row per elite (`confidence`: its class probability in
            fp32, `score`, `passed`), and `fooled_and_passed`: elites at >= 99% that
            the detector lets through.
        """
        filled = filled.cpu()
        images, classes = images.cpu()[filled], classes.cpu()[filled]
        probabilities, scores = self.detectors.read(images, [self.name])
        mine = probabilities.gather(1, classes.cpu().view(-1, 1)).squeeze(1)
        passed = scores[self.name] <= self.threshold
        rows = [{"class": int(value), "confidence": float(confidence), "score": float(score),
                 "passed": bool(ok)}
                for value, confidence, score, ok in zip(classes.tolist(), mine, scores[self.name],
                                                        passed, strict=True)]  # fmt: skip
        return {
            **self.settings(), "elites": rows,
            "fooled_and_passed": int(((mine >= FOOLED_AT) & passed).sum()),
            "passed": int(passed.sum()),
        }  # fmt: skip

    def settings(self) -> dict[str, Any]:
        """What defines this evaluator, for a checkpoint and a summary."""
        return {
            "detector": self.name, "penalty": self.penalty, "threshold": self.threshold,
            "spread": self.spread, "fitted_on": self.detectors.fitted_on,
            "held_out": len(self.detectors.real_scores[self.name]), "data": self.data,
        }  # fmt: skip


def against_detector(
    classifier: Classifier,
    name: str,
    *,
    penalty: str = "soft",
    data: str | Path | None = None,
    fit_count: int | None = None,
    held_out_count: int | None = None,
) -> AgainstDetector:
    """Fit detector `name` on the classifier's real images and evolve against it.

    Args:
        classifier: the classifier to fool.
        name: a detector from `fooling.detectors.DETECTORS`.
        penalty: `"soft"` or `"gate"`.
        data, fit_count, held_out_count: the real images, as for `real_images`.

    Returns:
        The evaluator, for `Evolution(..., evaluator=...)` or `evolve(..., evaluator=...)`.

    Raises:
        FoolingError: as `real_images`, `Detectors` and `AgainstDetector`.
    """
    if penalty not in PENALTIES:
        raise FoolingError(f"unknown penalty {penalty!r}; choose from: {', '.join(PENALTIES)}")
    real = real_images(classifier, data, fit_count=fit_count, held_out_count=held_out_count)
    detectors = Detectors(classifier, [name], real.fit_images, real.fit_labels, real.held_out)
    return AgainstDetector(detectors, name, penalty, real.folder)


def against_from_settings(classifier: Classifier, saved: dict[str, Any]) -> AgainstDetector:
    """The evaluator a checkpoint's `against` settings describe, fitted again.

    Raises:
        FoolingError: unreadable settings, or real images no longer there.
    """
    try:
        return against_detector(
            classifier, str(saved["detector"]), penalty=str(saved["penalty"]), data=saved["data"],
            fit_count=int(saved["fitted_on"]), held_out_count=int(saved["held_out"]),
        )  # fmt: skip
    except (KeyError, TypeError, ValueError) as error:
        raise FoolingError(f"unreadable saved run: its detector settings: {error}") from None
