"""Built-in classifiers, found by name."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from fooling.classifiers.classifier import Classifier
from fooling.classifiers.efficientnet import (
    MEAN,
    STD,
    VARIANTS,
    imagenet_labels,
    load_efficientnet_lite,
)
from fooling.classifiers.lenet import (
    MNIST_LABELS,
    SHIPPED_WEIGHTS,
    load_lenet,
    shipped_weights_path,
)
from fooling.classifiers.user_models import HUBS, IMAGENET_MEAN, load_user_classifier
from fooling.errors import FoolingError

Loader = Callable[[torch.device, Path | None, str, str], Classifier]
"""device, weights, precision, backend -> the classifier."""


def _lenet_mnist(name: str) -> Loader:
    """The loader of a built-in MNIST LeNet: its shipped weights (`SHIPPED_WEIGHTS`) by default."""

    def load(
        device: torch.device, weights: Path | None, precision: str, backend: str
    ) -> Classifier:
        return Classifier(
            load_lenet(weights or shipped_weights_path(name)),
            input_shape=(1, 28, 28),
            labels=MNIST_LABELS,
            device=device,
            batch_size=4096,
            channels_last=True,
            # bf16 would blur the 0.9999-level confidences that matter here, and saves nothing
            precision="fp32" if precision == "auto" else precision,
            dataset_mean=(0.1302,),  # the real MNIST training set's
            name=name,
            backend=backend,
        )

    return load


def _efficientnet_lite(name: str) -> Loader:
    def load(
        device: torch.device, weights: Path | None, precision: str, backend: str
    ) -> Classifier:
        size = VARIANTS[name][2]
        return Classifier(
            load_efficientnet_lite(name, weights),
            input_shape=(3, size, size),
            labels=imagenet_labels(),
            mean=MEAN,
            std=STD,
            device=device,
            batch_size=512,
            channels_last=True,
            precision=precision,
            dataset_mean=IMAGENET_MEAN,
            name=name,
            backend=backend,
        )

    return load


BUILT_IN: dict[str, Loader] = {
    **{name: _lenet_mnist(name) for name in SHIPPED_WEIGHTS},
    **{name: _efficientnet_lite(name) for name in VARIANTS},
}


def load_classifier(
    name: str,
    device: str | torch.device | None = None,
    weights: str | Path | None = None,
    *,
    input_shape: Sequence[int] | None = None,
    labels: str | Path | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    outputs: str = "logits",
    precision: str = "auto",
    backend: str = "auto",
) -> Classifier:
    """A built-in classifier by name, or a model of the user's (see `user_models`).

    Args:
        name: one of `BUILT_IN` (e.g. `"lenet-mnist"`; `"lenet-mnist-b"` is the same
            LeNet trained from another seed), a TorchScript, `.pt2` or
            `.onnx` file, or `torchvision:NAME` / `timm:NAME`.
        device: `"cpu"`, `"cuda"`, ...; the best available when None.
        weights: for a built-in, a weights file to use instead of the shipped one, or
            the run directory of `fooling train lenet-mnist`.
        input_shape: for a user's model, `(C, H, W)` when the file does not say.
        labels: for a user's model, a file with one class name per line.
        mean: for a user's model, per-channel mean on `[0, 1]` images.
        std: for a user's model, per-channel std.
        outputs: for a user's model, `"logits"` or `"probabilities"`.
        precision: `"auto"` (bf16 on a GPU, and on OpenVINO where the CPU has AMX or
            AVX-512-BF16 and bf16 wins a timed race against fp32, except for the LeNets;
            fp32 otherwise), `"fp32"` or `"bf16"`.
        backend: `"auto"`, `"torch"`, `"openvino"` or `"onnxruntime"`: what runs the
            forward pass on a CPU (see `fooling.classifiers.backends`).

    Returns:
        The ready classifier.

    Raises:
        FoolingError: the name is unknown, an option does not fit, or the device is
            not available.
    """
    device = resolve_device(device)
    user_options = {"input_shape": input_shape, "labels": labels, "mean": mean, "std": std}
    if name in BUILT_IN:
        given = [key for key, value in user_options.items() if value is not None]
        if given or outputs != "logits":
            option = given[0] if given else "outputs"
            raise FoolingError(f"{name} is built in: it takes no --{option.replace('_', '-')}")
        if weights is not None and Path(weights).is_dir():  # a `fooling train` run directory
            weights = Path(weights) / "weights.safetensors"
        path = None if weights is None else Path(weights)
        return BUILT_IN[name](device, path, precision, backend)
    if not Path(name).is_file() and name.partition(":")[0] not in HUBS:
        raise FoolingError(
            f"unknown classifier {name!r}; built-in classifiers: {', '.join(BUILT_IN)}; "
            "or give a TorchScript, .pt2 or .onnx file, or torchvision:NAME / timm:NAME"
        )
    if weights is not None:
        raise FoolingError("--weights is for built-in classifiers; a model file holds its own")
    labels = None if labels is None else Path(labels)
    return load_user_classifier(
        name, device, input_shape=input_shape, labels=labels, mean=mean, std=std,
        outputs=outputs, precision=precision, backend=backend,
    )  # fmt: skip


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
    if resolved.type not in ("cpu", "cuda", "mps"):
        raise FoolingError(f"unsupported device {device!r}; use cpu, cuda or cuda:N")
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise FoolingError(f"device {device!r} asked for, but CUDA is not available here")
    if resolved.type == "cuda" and (resolved.index or 0) >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        raise FoolingError(f"device {device!r} asked for, but this machine has {count} GPU(s)")
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise FoolingError(f"device {device!r} asked for, but MPS is not available here")
    if resolved.type == "cpu" and resolved.index not in (None, 0):
        raise FoolingError(f"unsupported device {device!r}; the CPU is `cpu`")
    return resolved
