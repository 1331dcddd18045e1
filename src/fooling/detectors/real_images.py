"""The real images detectors are fitted on and set by: MNIST, or a folder the user gives."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from fooling.classifiers import Classifier
from fooling.data.image_folder import read_image_folder
from fooling.data.mnist import load_mnist
from fooling.errors import FoolingError

HELD_OUT_SHARE = 0.2  # of a folder's images, per class, held out to set the thresholds
MNIST_SHAPE = (1, 28, 28)


@dataclass(frozen=True)
class RealImages:
    """Real images of a classifier's classes.

    Attributes:
        fit_images: `uint8 [N, C, H, W]` the detectors are fitted on.
        fit_labels: `long [N]` their classes.
        held_out: `uint8 [M, C, H, W]` other real images: they set each detector's
            threshold and stand for the real data in every AUROC.
        name: where they came from, for a report.
        folder: the folder they were read from; None for MNIST.
    """

    fit_images: torch.Tensor
    fit_labels: torch.Tensor
    held_out: torch.Tensor
    name: str
    folder: str | None = None

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "fitted_on": len(self.fit_images),
                "held_out": len(self.held_out)}  # fmt: skip


def real_images(
    classifier: Classifier,
    data: str | Path | None = None,
    *,
    fit_count: int | None = None,
    held_out_count: int | None = None,
) -> RealImages:
    """The classifier's real images: MNIST for a 28x28 gray classifier, else `data`.

    Args:
        classifier: gives the input shape and labels.
        data: a folder with one sub-folder of images per class
            (`fooling.data.image_folder`); a fifth of each class is held out.
        fit_count: fit on only the first this many images (all when None).
        held_out_count: hold out only the first this many (all when None).

    Returns:
        The images to fit on and the held-out ones.

    Raises:
        FoolingError: no `data` for a classifier that does not take MNIST digits, or
            a folder that does not match the classifier (see `read_image_folder`).
    """
    if data is not None:
        images = read_image_folder(data, classifier)
        fit, held = images.split(HELD_OUT_SHARE, seed=0)
        found = RealImages(fit.images, fit.labels, held.images, f"the folder {data}", str(data))
    elif tuple(classifier.input_shape) == MNIST_SHAPE:
        train, labels = load_mnist("train")
        test, _ = load_mnist("test")
        found = RealImages(_bytes(train), labels, _bytes(test), "MNIST: training set / test set")
    else:
        raise FoolingError(
            f"detectors for {classifier.name} need its real images: give --data FOLDER "
            "(one sub-folder of images per class)"
        )
    return RealImages(found.fit_images[:fit_count], found.fit_labels[:fit_count],
                      found.held_out[:held_out_count], found.name, found.folder)  # fmt: skip


def _bytes(images: torch.Tensor) -> torch.Tensor:
    """MNIST's `bytes / 256` floats back to their bytes."""
    return images.mul(256).round().clamp(0, 255).to(torch.uint8)
