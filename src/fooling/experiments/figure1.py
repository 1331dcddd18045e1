"""The paper's Figure 1 from real runs: a 2-D, three-class problem with every kind of point.

A small network learns three Gaussian blobs. A 2-D point is a 1 x 2 "image":
its pixels in [0, 1] map onto the plotted window [-6, 6]^2 through the
Classifier's own normalisation, so evolution (direct encoding, MAP-Elites),
gradient ascent and the attacks run on it unchanged. Fooling points are the
elites of evolution and the images of gradient ascent; adversarial points are
training points moved by Carlini-Wagner (smallest L2 change) across the nearest
boundary. Each point's distance to the nearest training point tells them apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from fooling.adversarial import attack
from fooling.classifiers import Classifier
from fooling.encodings import DirectEncoding
from fooling.search.ascent import ascend
from fooling.search.evolution import Evolution

WINDOW = 6.0  # the picture and the search space span [-WINDOW, WINDOW]^2
CENTRES = ((-2.0, -1.0), (2.0, -1.0), (0.0, 2.0))
LABELS = ("red", "green", "blue")


@dataclass
class Point:
    """One plotted point that is not training data."""

    kind: str  # "evolution", "ascent" or "adversarial"
    x: float
    y: float
    predicted: int
    confidence: float
    distance: float  # to the nearest training point
    source: tuple[float, float] | None = None  # an adversarial point's training point


@dataclass
class Figure1:
    """Everything the picture shows."""

    network: nn.Module
    points: torch.Tensor  # training points [N, 2]
    labels: torch.Tensor  # [N]
    found: list[Point]

    def mean_distance(self, kinds: tuple[str, ...]) -> float:
        chosen = [point.distance for point in self.found if point.kind in kinds]
        return sum(chosen) / len(chosen)


def blobs(per_class: int = 100, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Three Gaussian blobs (std 0.6) around `CENTRES`: points `[3n, 2]` and labels `[3n]`."""
    generator = torch.Generator().manual_seed(seed)
    centres = torch.tensor(CENTRES).repeat_interleave(per_class, dim=0)
    points = centres + 0.6 * torch.randn(centres.shape, generator=generator)
    return points, torch.arange(len(CENTRES)).repeat_interleave(per_class)


def train_network(points: torch.Tensor, labels: torch.Tensor, seed: int = 0) -> nn.Module:
    """A 2 -> 32 -> 32 -> 3 ReLU network, trained full-batch with Adam.

    Weight decay keeps its logits moderate near the data; without it float32
    confidence reads exactly 1.0 over most of the plane and no search can rank
    one point above another.
    """
    torch.manual_seed(seed)
    network = nn.Sequential(
        nn.Flatten(), nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 3)
    )
    optimiser = torch.optim.Adam(network.parameters(), lr=0.01, weight_decay=0.01)
    inputs = points.view(-1, 1, 1, 2)
    for _ in range(400):
        optimiser.zero_grad()
        nn.functional.cross_entropy(network(inputs), labels).backward()
        optimiser.step()
    return network.eval()


def as_classifier(network: nn.Module) -> Classifier:
    """Points in [0, 1]^2 (as 1 x 2 images) mapped onto the window for `network`."""
    return Classifier(
        network, input_shape=(1, 1, 2), labels=list(LABELS), mean=(0.5,),
        std=(0.5 / WINDOW,), name="mlp-2d",
    )  # fmt: skip


def make_figure1(seed: int = 0, adversarial_per_class: int = 2, progress: bool = False) -> Figure1:
    """Train, then find fooling points (evolution, ascent) and adversarial points.

    Args:
        seed: seeds the data, the training and every search.
        adversarial_per_class: training points per class to attack, those nearest a boundary.
        progress: show the searches' progress bars.

    Returns:
        The network, the training data and every found point.
    """
    points, labels = blobs(seed=seed)
    network = train_network(points, labels, seed)
    classifier = as_classifier(network)
    found: list[Point] = []

    evolution = Evolution(classifier, DirectEncoding((1, 1, 2)), population=100, seed=seed)
    evolved = evolution.run(100, progress=progress)
    # no early stop: climb all 200 steps, as far as the confidence keeps rising
    ascended = ascend(classifier, steps=200, seed=seed, threshold=1.0, progress=progress,
                      param="pixel")  # fmt: skip
    for kind, result in (("evolution", evolved), ("ascent", ascended)):
        coordinates = to_window(result.images.float().div(255).view(-1, 2))
        found += _points(kind, classifier, coordinates, points)

    # the least confident training points lie nearest a boundary: attack those
    with torch.no_grad():
        confidence = classifier(to_unit(points).view(-1, 1, 1, 2)).max(dim=1).values
    chosen = torch.cat([
        members[confidence[members].argsort()[:adversarial_per_class]]
        for members in (torch.nonzero(labels == index).squeeze(1) for index in range(len(CENTRES)))
    ])  # fmt: skip
    result = attack(
        classifier, to_unit(points[chosen]).view(-1, 1, 1, 2), labels[chosen], method="cw",
        eps=1.0, steps=200, seed=seed, progress=progress,
    )  # fmt: skip
    moved = _points("adversarial", classifier, to_window(result.adversarials.view(-1, 2)), points)
    for point, source, success in zip(moved, points[chosen], result.success, strict=True):
        if success:
            point.source = (source[0].item(), source[1].item())
            found.append(point)
    return Figure1(network, points, labels, found)


def to_unit(points: torch.Tensor) -> torch.Tensor:
    """Window coordinates to [0, 1]."""
    return points / (2 * WINDOW) + 0.5


def to_window(unit: torch.Tensor) -> torch.Tensor:
    """[0, 1] to window coordinates."""
    return (unit - 0.5) * (2 * WINDOW)


def _points(kind: str, classifier: Classifier, coordinates: torch.Tensor,
            training: torch.Tensor) -> list[Point]:  # fmt: skip
    with torch.no_grad():
        probabilities = classifier(to_unit(coordinates).view(-1, 1, 1, 2))
    distance = torch.cdist(coordinates, training).min(dim=1).values
    confidence, predicted = probabilities.max(dim=1)
    return [
        Point(kind, xy[0].item(), xy[1].item(), int(label), score.item(), gap.item())
        for xy, label, score, gap in zip(coordinates, predicted, confidence, distance, strict=True)
    ]
