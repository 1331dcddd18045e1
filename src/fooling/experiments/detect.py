"""Would an out-of-distribution detector catch fooling images? Beyond the paper.

Detectors (`fooling.detectors`) are fitted on the classifier's real training
images and set to let 95% of real held-out images through; then they score
those real images and every fooling image of the runs given: the elites at
99% or more of evolution and ascent runs, and the adversarial examples that
succeeded in `fooling adversarial` runs. Runs of one kind (direct evolution,
CPPN evolution, pixel ascent, PGD, ...) are pooled into one source. Per
detector and source: the AUROC against the real images (1: every fooling image
scores as less real than every real one; 0.5: no better than chance) and the
share caught at the threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from fooling.classifiers import Classifier
from fooling.detectors import Detectors, check_detectors
from fooling.detectors.real_images import RealImages, real_images
from fooling.errors import FoolingError
from fooling.records import FOOLED_AT
from fooling.runs.directory import RunDirectory
from fooling.runs.images import read_png
from fooling.search.result import load_run

REAL = "real (held out)"


@dataclass
class Source:
    """Images of one kind, scored by every detector.

    Attributes:
        name: `"evolve direct"`, `"evolve cppn refined"` (the hybrid), `"evolve cppn
            against mahalanobis"`, `"ascend"`, `"adversarial pgd"`, or `REAL`.
        runs: the run directories pooled into it (none for the real images).
        images: `uint8 [M, C, H, W]`.
        labels: the class each image is taken for.
        confidences: `float [M]` the classifier's probability for that class.
        scores: per detector, `float64 [M]` outlier scores.
        caught: per detector, `bool [M]` above its threshold.
    """

    name: str
    runs: list[str]
    images: torch.Tensor
    labels: list[str]
    confidences: torch.Tensor
    scores: dict[str, torch.Tensor] = field(default_factory=dict)
    caught: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class DetectionResult:
    """How well each detector tells each source from real images.

    Attributes:
        classifier: the classifier's name.
        detectors: the detector names, in order.
        settings: how the detectors were fitted and set (`Detectors.settings`).
        real: what the real images were (`RealImages.describe`).
        sources: the real held-out images first, then one source per kind of run.
    """

    classifier: str
    detectors: list[str]
    settings: dict[str, Any]
    real: dict[str, Any]
    sources: list[Source]

    def auroc(self, source: Source, detector: str) -> float:
        """The AUROC of `detector` for `source` against the real images."""
        from sklearn.metrics import roc_auc_score

        real = self.sources[0].scores[detector]
        truth = torch.cat([torch.zeros(len(real)), torch.ones(len(source.images))])
        return float(roc_auc_score(truth.numpy(), torch.cat([real, source.scores[detector]])))

    def table(self) -> list[dict[str, Any]]:
        """One row per detector and source: AUROC and the share caught."""
        return [
            {"detector": detector, "source": source.name, "images": len(source.images),
             "auroc": None if source.name == REAL else round(self.auroc(source, detector), 4),
             "caught": round(source.caught[detector].float().mean().item(), 4)}
            for detector in self.detectors for source in self.sources
        ]  # fmt: skip

    def summary(self) -> dict[str, Any]:
        """What `summary.json` holds."""
        return {
            "classifier": self.classifier, "method": "detect", "beyond_the_paper": True,
            "detectors": self.detectors, "settings": self.settings, "real": self.real,
            "sources": [{"name": source.name, "runs": source.runs, "images": len(source.images)}
                        for source in self.sources],
            "table": self.table(),
        }  # fmt: skip


def detect(
    classifier: Classifier,
    runs: Sequence[str | Path],
    *,
    detectors: Sequence[str] = ("msp", "energy", "odin", "mahalanobis", "vim", "knn"),
    real: RealImages | None = None,
    threshold: float = FOOLED_AT,
) -> DetectionResult:
    """Fit detectors on the classifier's real images and score the fooling images of `runs`.

    Args:
        classifier: the classifier the runs fooled (an `nn.Module` returning logits).
        runs: run directories of `evolve`, `ascend` or `adversarial`, made with this
            classifier.
        detectors: names from `fooling.detectors.DETECTORS`.
        real: the classifier's real images, to fit on and to hold out
            (`fooling.detectors.real_images.real_images`); MNIST when None, for a
            classifier of 28 x 28 gray images.
        threshold: an elite counts as a fooling image at this confidence or more.

    Returns:
        The scores of every image by every detector, with AUROC and share caught.

    Raises:
        FoolingError: an unknown detector, no run, a run from another classifier or
            with no fooling image, a classifier the detectors cannot read, or no `real`
            images for a classifier that does not take MNIST digits.
    """
    names = check_detectors(detectors)
    if not runs:
        raise FoolingError("give at least one run directory")
    pooled: dict[str, Source] = {}
    for run in runs:
        kind, images, labels, confidences = read_fooling_images(Path(run), classifier, threshold)
        source = pooled.setdefault(kind, Source(kind, [], images[:0], [], confidences[:0]))
        source.runs.append(str(run))
        source.images = torch.cat([source.images, images])
        source.labels += labels
        source.confidences = torch.cat([source.confidences, confidences])
    real = real_images(classifier) if real is None else real
    fitted = Detectors(classifier, names, real.fit_images, real.fit_labels, real.held_out)
    held_out = real.held_out
    probabilities = classifier.exact_probabilities(held_out.float().div(255)).cpu()
    top, predicted = probabilities.max(dim=1)
    sources = [Source(REAL, [], held_out, [classifier.labels[i] for i in predicted.tolist()], top,
                      fitted.real_scores)]  # fmt: skip
    for source in pooled.values():
        source.scores = fitted.scores(source.images)
        sources.append(source)
    for source in sources:
        source.caught = fitted.caught(source.scores)
    return DetectionResult(classifier.name, names, fitted.settings(), real.describe(), sources)


def read_fooling_images(
    run: Path, classifier: Classifier, threshold: float
) -> tuple[str, torch.Tensor, list[str], torch.Tensor]:
    """A run's fooling images: its kind, `uint8` images, their labels and confidences.

    Raises:
        FoolingError: no finished run there, one from another classifier, or one with
            no fooling image.
    """
    summary = RunDirectory(run).read_summary()
    named = summary.get("classifier")
    if named != classifier.name:
        raise FoolingError(f"{run} was made with {named}, not {classifier.name}")
    if summary.get("method") == "adversarial":
        return _adversarial_examples(run, summary, classifier)
    result = load_run(run)
    if result.weights is not None and result.weights != classifier.identity()["weights"]:
        raise FoolingError(f"{run} was made with other weights than {classifier.name}'s")
    keep = result.confidences >= threshold
    if not bool(keep.any()):
        raise FoolingError(f"{run} has no image at >= {threshold:g}: nothing to detect")
    kind = result.method if result.encoding is None else f"{result.method} {result.encoding}"
    if result.refined:  # the hybrid: evolution with gradient refinement
        kind += " refined"
    if result.against is not None:
        kind += f" against {result.against['detector']}"
    labels = [label for label, kept in zip(result.labels, keep.tolist(), strict=True) if kept]
    return kind, result.images[keep], labels, result.confidences[keep].float()


def _adversarial_examples(
    run: Path, summary: dict[str, Any], classifier: Classifier
) -> tuple[str, torch.Tensor, list[str], torch.Tensor]:
    """The adversarial examples of an `adversarial` run that succeeded and were saved."""
    items = [item for item in summary.get("items", [])
             if item.get("success") and "images" in item]  # fmt: skip
    if not items:
        raise FoolingError(f"{run} has no saved adversarial example that succeeded")
    images = torch.stack([read_png(run / item["images"]["adversarial"]) for item in items])
    if tuple(images.shape[1:]) != classifier.input_shape:
        raise FoolingError(f"{run}'s images are {tuple(images.shape[1:])}, not "
                           f"{classifier.name}'s {classifier.input_shape}")  # fmt: skip
    labels = [str(item["adversarial"]["label"]) for item in items]
    confidences = torch.tensor([float(item["adversarial"]["confidence"]) for item in items])
    return f"adversarial {summary['attack']}", images, labels, confidences
