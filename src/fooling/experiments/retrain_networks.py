"""Where a retraining run's networks come from: MNIST LeNets, or a network fine-tuned on a folder.

`retrain` needs the same five things whichever network it starts from: the real
classes, held-out real images to test on, the size of one class, a way to train
network i on the real images plus the fooling images, and a way to read network
i back from its saved weights. `LeNetsOnMnist` trains each LeNet from scratch on
MNIST, as the paper did; `FineTunedOnFolder` gives any PyTorch classifier one more
output and fine-tunes it from its own weights on a user's labelled folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from fooling.classifiers import Classifier
from fooling.classifiers.lenet import MNIST_LABELS, LeNet
from fooling.data.image_folder import LabelledImages
from fooling.data.mnist import load_mnist
from fooling.records import hash_tensors
from fooling.training.fine_tune import fine_tune, with_extra_class
from fooling.training.train_lenet import LENET_RECIPE
from fooling.training.trainer import train

FOOLING_LABEL = "fooling"
TEST_SHARE = 0.2  # of each class of a folder, held out to measure test accuracy
MNIST_SOURCE = {"data": "mnist", "training": "lenet from scratch"}


class Networks(Protocol):
    """How a retraining run makes and reads back its networks."""

    first: Classifier
    classes: list[int]  # the real classes: searched, gathered on, trained on
    train_images: torch.Tensor  # [N, C, H, W] the real training images, uint8 or float in [0, 1]
    test_images: torch.Tensor  # float [N, C, H, W] in [0, 1]
    test_labels: torch.Tensor

    @property
    def class_size(self) -> int:
        """Training images in one real class (the paper's size for the fooling class)."""
        ...

    def source(self) -> dict[str, Any]:
        """What a resumed run must find the same: the data and how it trains."""
        ...

    def train(self, number: int, fooling: torch.Tensor, *, epochs: int,
              max_steps: int | None, seed: int, progress: bool) -> nn.Module:  # fmt: skip
        """Network `number`, trained on the real images plus `fooling` (`uint8`) as one class."""
        ...

    def load(self, weights: dict[str, torch.Tensor]) -> nn.Module:
        """A network as `train` made it, from its saved weights."""
        ...

    def classifier(self, network: nn.Module, number: int) -> Classifier:
        """Network `number` as a classifier with the fooling class."""
        ...


class _Extended:
    """What both kinds share: the first classifier, and network i as a classifier."""

    first: Classifier

    def classifier(self, network: nn.Module, number: int) -> Classifier:
        return self.first.with_model(
            network, labels=(*self.first.labels, FOOLING_LABEL),
            name=f"{self.first.name}-retrained-{number}",
        )  # fmt: skip


class LeNetsOnMnist(_Extended):
    """LeNets with an eleventh class trained from scratch on MNIST, with LeNet's recipe.

    Args:
        first: the MNIST LeNet to start from.
        mnist_root: a folder of MNIST IDX files (see `fooling.data.mnist.load_mnist`).

    Raises:
        FoolingError: MNIST not found.
    """

    def __init__(self, first: Classifier, mnist_root: str | Path | None) -> None:
        self.first = first
        self.classes = list(range(len(MNIST_LABELS)))
        self.train_images, self.train_labels = load_mnist("train", mnist_root)
        self.test_images, self.test_labels = load_mnist("test", mnist_root)

    @property
    def class_size(self) -> int:
        return len(self.train_labels) // len(self.classes)

    def source(self) -> dict[str, Any]:
        return dict(MNIST_SOURCE)

    def train(self, number: int, fooling: torch.Tensor, *, epochs: int,
              max_steps: int | None, seed: int, progress: bool) -> nn.Module:  # fmt: skip
        images = torch.cat([self.train_images, fooling.float().div(255)])
        labels = torch.cat([self.train_labels, _fooling_labels(fooling, len(self.classes))])
        recipe = dataclasses.replace(LENET_RECIPE, epochs=epochs, max_steps=max_steps)
        torch.manual_seed(seed)
        network = LeNet(num_classes=len(MNIST_LABELS) + 1).to(self.first.device)
        train(network, (images, labels), recipe, seed=seed, progress=progress)
        return network

    def load(self, weights: dict[str, torch.Tensor]) -> nn.Module:
        network = LeNet(num_classes=len(MNIST_LABELS) + 1)
        network.load_state_dict(weights)
        return network


class FineTunedOnFolder(_Extended):
    """The first network with one more output, fine-tuned from its own weights each time.

    Args:
        first: a classifier whose model is a PyTorch module ending in `nn.Linear`.
        data: its labelled images (`fooling.data.image_folder.read_image_folder`);
            `TEST_SHARE` of each class is held out as the test set.
        full: fine-tune every parameter, not only the last layer.
        seed: seeds the split.

    Raises:
        FoolingError: the model cannot be extended, or a class has one image only.
    """

    def __init__(self, first: Classifier, data: LabelledImages, *, full: bool, seed: int) -> None:
        with_extra_class(first.model, first.num_classes)  # refuses what cannot be extended
        self.first = first
        self.full = full
        self.classes = data.classes
        digest = hashlib.sha256()
        hash_tensors(digest, {"images": data.images, "labels": data.labels})
        self.digest = digest.hexdigest()
        self.training, test = data.split(TEST_SHARE, seed)
        self.train_images = self.training.images
        self.test_images, self.test_labels = test.images.float().div(255), test.labels

    @property
    def class_size(self) -> int:
        return max(1, round(len(self.training) / len(self.classes)))

    def source(self) -> dict[str, Any]:
        return {"data": self.digest, "training": "full" if self.full else "head"}

    def train(self, number: int, fooling: torch.Tensor, *, epochs: int,
              max_steps: int | None, seed: int, progress: bool) -> nn.Module:  # fmt: skip
        network = with_extra_class(self.first.model, self.first.num_classes)
        images = torch.cat([self.training.images, fooling])
        labels = torch.cat([self.training.labels,
                            _fooling_labels(fooling, self.first.num_classes)])  # fmt: skip
        fine_tune(network, self.first, images, labels, full=self.full,
                  epochs=epochs if self.full else None, max_steps=max_steps, seed=seed,
                  progress=progress)  # fmt: skip
        return network

    def load(self, weights: dict[str, torch.Tensor]) -> nn.Module:
        network = with_extra_class(self.first.model, self.first.num_classes)
        network.load_state_dict(weights)
        return network


def _fooling_labels(fooling: torch.Tensor, index: int) -> torch.Tensor:
    return torch.full((len(fooling),), index, dtype=torch.long)
