"""Built-in classifiers, found by name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from fooling.classifiers.classifier import Classifier
from fooling.classifiers.lenet import MNIST_LABELS, load_lenet
from fooling.errors import FoolingError


def _lenet_mnist(device: torch.device, weights: Path | None) -> Classifier:
    return Classifier(
        load_lenet(weights),
        input_shape=(1, 28, 28),
        labels=MNIST_LABELS,
        device=device,
        batch_size=4096,
        channels_last=True,
        name="lenet-mnist",
    )


BUILT_IN: dict[str, Callable[[torch.device, Path | None], Classifier]] = {
    "lenet-mnist": _lenet_mnist,
}


def load_classifier(
    name: str, device: str | torch.device | None = None, weights: str | Path | None = None
) -> Classifier:
    """A built-in classifier by name.

    Args:
        name: one of `BUILT_IN` (e.g. `"lenet-mnist"`).
        device: `"cpu"`, `"cuda"`, ...; the best available when None.
        weights: a weights file to use instead of the shipped one (e.g. from
            `fooling train lenet-mnist`).

    Returns:
        The ready classifier.

    Raises:
        FoolingError: the name is unknown or the device is not available.
    """
    if name not in BUILT_IN:
        known = ", ".join(sorted(BUILT_IN))
        raise FoolingError(f"unknown classifier {name!r}; built-in classifiers: {known}")
    return BUILT_IN[name](resolve_device(device), None if weights is None else Path(weights))


def resolve_device(device: str | torch.device | None) -> torch.device:
    """The device to run on: the one asked for, checked, or CUDA when present, else CPU.

    Raises:
        FoolingError: the device name is malformed or that device is not available.
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise FoolingError(f"unknown device {device!r}; use cpu, cuda or cuda:N") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise FoolingError(f"device {device!r} asked for, but CUDA is not available here")
    if resolved.type not in ("cpu", "cuda", "mps"):
        raise FoolingError(f"unsupported device {device!r}; use cpu, cuda or cuda:N")
    return resolved
