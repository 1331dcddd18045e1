"""Out-of-distribution detectors from pytorch-ood, fitted on a classifier's real images.

Each detector gives every image an outlier score (higher: less like the real
data) and is set, as is usual, at the threshold that keeps 95% of real held-out
images: an image scoring above it is caught. The six are pytorch-ood's own
classes, fed from one forward pass (`Readout`) except ODIN, which needs a
gradient step on the input:

- msp (MaxSoftmax): the top softmax probability (Hendrycks & Gimpel).
- energy (EnergyBased): logsumexp of the logits (Liu et al.).
- odin (ODIN): the top softmax at T = 1000 after a step on the input (Liang et al.).
- mahalanobis (Mahalanobis): distance to the nearest class mean, shared covariance (Lee et al.).
- vim (ViM): the features' residual off their principal subspace, with energy (Wang et al.).
- knn (KNN): distance to the k-th nearest real image in normalised features (Sun et al.).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from fooling.classifiers import Classifier
from fooling.detectors.library import detector_module
from fooling.detectors.readout import READ_BATCH, Readout
from fooling.errors import FoolingError

DETECTORS = ("msp", "energy", "odin", "mahalanobis", "vim", "knn")
KEEP_REAL = 0.95  # the threshold lets this share of real held-out images through (FPR95)
MIN_HELD_OUT = 20  # real held-out images a threshold is set by, at the least
ODIN_TEMPERATURE = 1000.0  # the ODIN paper's
ODIN_STEP = 0.0014  # the ODIN paper's, here in [0, 1] pixel units
KNN_NEIGHBOURS = 50  # the KNN paper's for CIFAR-10's 50,000 training images ...
KNN_PER = 50_000  # ... scaled down in proportion for fewer (at least 1)
LOGIT_DETECTORS = ("msp", "energy")
FEATURE_DETECTORS = ("mahalanobis", "vim", "knn")


def check_detectors(names: Sequence[str]) -> list[str]:
    """The detector names, checked.

    Raises:
        FoolingError: an unknown name, a repeat, or none.
    """
    for name in names:
        if name not in DETECTORS:
            raise FoolingError(f"unknown detector {name!r}; choose from: {', '.join(DETECTORS)}")
    if not names or len(set(names)) != len(names):
        raise FoolingError("give each detector once, at least one")
    return list(names)


def check_readable(classifier: Classifier, names: Sequence[str]) -> Readout:
    """The classifier's `Readout`, once it is clear that every detector named can read it.

    Raises:
        FoolingError: a black box, a model returning probabilities, or a detector that
            reads features of a model that shows none (TorchScript, torch.export).
    """
    readout = Readout(classifier)
    needs = [name for name in names if name in FEATURE_DETECTORS]
    if needs and not readout.has_features:
        raise FoolingError(
            f"{', '.join(needs)} read the features before {classifier.name}'s last linear "
            f"layer, which it does not show (TorchScript or torch.export); "
            f"{', '.join(LOGIT_DETECTORS)} and odin need only its logits"
        )
    return readout


def check_fittable(classifier: Classifier, names: Sequence[str], held_out: int) -> Readout:
    """Everything that can stop detectors from being fitted, checked before any work.

    Returns:
        The classifier's `Readout`.

    Raises:
        FoolingError: as `check_readable`, pytorch-ood missing, or fewer than
            `MIN_HELD_OUT` held-out images to set the thresholds by.
    """
    readout = check_readable(classifier, check_detectors(names))
    detector_module()
    if held_out < MIN_HELD_OUT:
        raise FoolingError(f"{held_out} real held-out images: thresholds need "
                           f"{MIN_HELD_OUT} or more")  # fmt: skip
    return readout


def principal_dimensions(features: int) -> int:
    """ViM's principal subspace size, by its paper's rule: 1000 for 2048 features or
    more, 512 from 768, half the features below that."""
    return 1000 if features >= 2048 else 512 if features >= 768 else features // 2


def neighbours(count: int) -> int:
    """KNN's k for `count` real images: 50 per 50,000, between 1 and 50."""
    return max(1, min(KNN_NEIGHBOURS, round(KNN_NEIGHBOURS * count / KNN_PER)))


class Detectors:
    """Detectors fitted on a classifier's real images, each with its threshold.

    Args:
        classifier: an `nn.Module` classifier returning logits (see `Readout`).
        names: detector names from `DETECTORS`.
        fit_images: `uint8 [N, C, H, W]` real training images to fit on.
        fit_labels: `long [N]` their classes.
        held_out: `uint8 [M, C, H, W]` other real images, which set the thresholds.

    Raises:
        FoolingError: an unknown detector, a black-box classifier, a detector that
            reads features of a model that shows none (TorchScript, torch.export), or
            fewer than 20 held-out images to set the thresholds by.
    """

    def __init__(
        self,
        classifier: Classifier,
        names: Sequence[str],
        fit_images: torch.Tensor,
        fit_labels: torch.Tensor,
        held_out: torch.Tensor,
    ) -> None:
        self.names = check_detectors(names)
        self.classifier = classifier
        self.readout = check_fittable(classifier, self.names, len(held_out))
        needs = [name for name in self.names if name in FEATURE_DETECTORS]
        self.fitted_on = len(fit_images)
        features = self.readout.read(fit_images)[1] if needs else None  # only they fit
        labels = fit_labels.unique(return_inverse=True)[1]  # the classes present, numbered 0..
        self._detectors = {name: self._fit(name, features, labels) for name in self.names}
        self.real_scores = self.scores(held_out)
        self.thresholds = {name: float(torch.quantile(scores, KEEP_REAL))
                           for name, scores in self.real_scores.items()}  # fmt: skip

    def scores(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each detector's outlier scores `float64 [N]` for images (`uint8`, or floats in
        `[0, 1]`); higher is less like the real images."""
        return self.read(images, self.names)[1]

    def read(
        self, images: torch.Tensor, names: Sequence[str]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The classifier's fp32 probabilities `[N, K]` and the scores of detectors `names`
        (`float64 [N]`), all on the CPU, from one forward pass (and ODIN's own)."""
        if images.dtype == torch.uint8:
            images = images.float().div(255)
        logits, features = self.readout.read(images)
        scores = {}
        for name in names:
            detector = self._detectors[name]
            if name == "odin":
                scores[name] = torch.cat([detector.predict(chunk.to(self.classifier.device))
                                          for chunk in images.split(READ_BATCH)])  # fmt: skip
            elif name in LOGIT_DETECTORS:
                scores[name] = detector.predict_logits(logits)
            else:
                scores[name] = detector.predict_features(features)
        scores = {name: value.detach().double().cpu() for name, value in scores.items()}
        return logits.softmax(dim=1), scores

    def caught(self, scores: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Whether each detector catches each image (`bool [N]`), from `scores`."""
        return {name: value > self.thresholds[name] for name, value in scores.items()}

    def settings(self) -> dict[str, Any]:
        """How the detectors were set, for a summary."""
        return {
            "fitted_on": self.fitted_on, "held_out": len(next(iter(self.real_scores.values()))),
            "keep_real": KEEP_REAL, "thresholds": self.thresholds,
            "odin": {"temperature": ODIN_TEMPERATURE, "step": ODIN_STEP},
            "knn": {"neighbours": neighbours(self.fitted_on), "normalised": True},
            "vim": {"principal_dimensions": self._detectors["vim"].d} if "vim" in self.names
            else None,
            "library": "pytorch-ood",
        }  # fmt: skip

    def _fit(self, name: str, features: torch.Tensor | None, labels: torch.Tensor) -> Any:
        library = detector_module()
        if name == "msp":
            return library.MaxSoftmax(None)
        if name == "energy":
            return library.EnergyBased(None)
        if name == "odin":
            return library.ODIN(_Logits(self.readout), eps=ODIN_STEP, temperature=ODIN_TEMPERATURE)
        assert features is not None
        if name == "mahalanobis":
            return library.Mahalanobis(None).fit_features(features, labels)
        if name == "vim":
            weight, bias = self.readout.weight, self.readout.bias
            vim = library.ViM(None, d=principal_dimensions(features.shape[1]), w=weight, b=bias)
            return vim.fit_features(features, labels)
        try:
            knn = library.KNN(None, k=neighbours(len(features)))
            return knn.fit_features(features, labels)
        except ImportError:
            raise FoolingError("the knn detector needs scikit-learn: pip install scikit-learn"
                               ) from None  # fmt: skip


class _Logits(nn.Module):
    """The classifier as ODIN steps through it: `[0, 1]` images in, logits out."""

    def __init__(self, readout: Readout) -> None:
        super().__init__()
        self.readout = readout

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.readout.logits(images)
