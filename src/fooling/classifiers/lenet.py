"""Caffe's MNIST LeNet and the weights of the built-in `lenet-mnist` and `lenet-mnist-b`."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import torch
from torch import nn

from fooling.errors import FoolingError
from fooling.user_files import read_weights

MNIST_LABELS = tuple(str(digit) for digit in range(10))


class LeNet(nn.Module):
    """LeNet as in Caffe's MNIST example.

    conv 20@5x5 -> maxpool 2 -> conv 50@5x5 -> maxpool 2 -> fc 500 -> ReLU -> fc 10.
    Takes `[N, 1, 28, 28]` images in `[0, 1]` (Caffe scales pixels by 1/256, with no mean)
    and returns logits `[N, 10]`.
    """

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 20, kernel_size=5),
            nn.MaxPool2d(2),
            nn.Conv2d(20, 50, kernel_size=5),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(50 * 4 * 4, 500),
            nn.ReLU(inplace=True),
            nn.Linear(500, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


SHIPPED_WEIGHTS = {
    "lenet-mnist": "lenet_mnist.safetensors",
    "lenet-mnist-b": "lenet_mnist_b.safetensors",
}
"""The weights files shipped in `fooling/classifiers/weights`, by built-in name.

Both were trained on the real MNIST with `fooling train lenet-mnist` (`LENET_RECIPE`):
`lenet-mnist` with the default seed 0 (99.20% test accuracy), `lenet-mnist-b` with
`fooling train lenet-mnist --seed 1` (99.27% on a 2-core x86_64 CPU, torch 2.13), so that
they differ only in their random start and batch order: the paper's DNN_A and DNN_B,
for `fooling transfer`. They were trained before `LENET_RECIPE` trained channels-last,
which rounds sums in another order: the same two commands now give 99.19% and 99.20%
(a 2-core Xeon, torch 2.13, 2026-12-06), and the shipped weights stay as they were.
"""


def shipped_weights_path(name: str = "lenet-mnist") -> Path:
    """The path of the shipped weights of a built-in LeNet (see `SHIPPED_WEIGHTS`)."""
    folder = resources.files("fooling.classifiers") / "weights"
    return Path(str(folder / SHIPPED_WEIGHTS[name]))


def load_lenet(path: str | Path | None = None) -> LeNet:
    """Build a LeNet and load its weights (safetensors, or tensors-only `torch.save`).

    Args:
        path: a weights file (see `fooling.user_files.read_weights`); the shipped ones when None.

    Returns:
        The network in eval mode, on the CPU.

    Raises:
        FoolingError: the file is missing or does not hold LeNet weights.
    """
    path = Path(path) if path is not None else shipped_weights_path()
    if not path.is_file():
        raise FoolingError(f"LeNet weights not found at {path}; run `fooling train lenet-mnist`")
    state = read_weights(path)
    net = LeNet()
    try:
        net.load_state_dict(state)
    except (RuntimeError, ValueError) as error:
        raise FoolingError(f"{path} does not hold LeNet weights: {error}") from None
    return net.eval()
