"""Classifiers the user brings: TorchScript, torch.export and ONNX files; torchvision, timm names.

TorchScript (`torch.jit.save`) and torch.export (`.pt2`) files load as
`nn.Module`s, so every method works on them. ONNX files run through
onnxruntime as black boxes: evolution needs only their scores, and methods
that need gradients refuse them (`Classifier.differentiable` is False).
`torchvision:NAME` and `timm:NAME` build that library's pretrained model when
the library is installed (its weights download on first use).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from fooling.classifiers.classifier import Classifier, check_input_shape
from fooling.classifiers.efficientnet import imagenet_labels
from fooling.classifiers.model_file import load_model_file
from fooling.classifiers.onnx_model import OnnxModel
from fooling.errors import FoolingError, first_line
from fooling.user_files import file_digest, no_unpickling, read_labels

HUBS = ("torchvision", "timm")
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def load_user_classifier(
    spec: str,
    device: torch.device,
    *,
    input_shape: Sequence[int] | None = None,
    labels: Path | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    outputs: str = "logits",
    precision: str = "auto",
    backend: str = "auto",
) -> Classifier:
    """A classifier from a model file or a `torchvision:NAME` / `timm:NAME` name.

    Args:
        spec: a `.onnx` file, a `.pt2` (torch.export) file, another file
            (TorchScript), or `torchvision:NAME` / `timm:NAME`.
        device: where the model runs.
        input_shape: `(C, H, W)`; read from the ONNX file or the library when None.
        labels: a text file with one class name per line (default: the class
            indices, or ImageNet's names for torchvision and timm models).
        mean: per-channel mean on `[0, 1]` images (the library's for hub models).
        std: per-channel std (the library's for hub models).
        outputs: `"logits"` or `"probabilities"`.
        precision: as `Classifier`'s.
        backend: as `Classifier`'s.

    Returns:
        The classifier, named after the file or model.

    Raises:
        FoolingError: the file or library is missing or unusable, or an option does not fit.
    """
    hub, _, hub_name = spec.partition(":")
    fingerprint = model_file = None  # a hub model's comes from its weights
    if hub in HUBS and hub_name:
        with no_unpickling(spec):
            model, defaults = _hub_model(hub, hub_name)
        input_shape = input_shape or defaults["input_shape"]
        mean, std = mean or defaults["mean"], std or defaults["std"]
        name = spec
    else:
        path = Path(spec)
        if not path.is_file():
            raise FoolingError(f"no model file at {spec}")
        model = load_model_file(path, device)
        fingerprint = file_digest(path)
        model_file = None if isinstance(model, OnnxModel) else path.resolve()
        if input_shape is None and isinstance(model, OnnxModel):
            input_shape = model.input_shape
        name = path.name
    if input_shape is None:
        raise FoolingError(f"give the input shape of {spec}: --input-shape C H W")
    count = _count_outputs(model, spec, check_input_shape(input_shape))
    if labels is not None:
        names = read_labels(labels, count)
    elif hub in HUBS and count == 1000:
        names = imagenet_labels()
    else:
        names = [str(index) for index in range(count)]
    return Classifier(
        model, input_shape=input_shape, labels=names, mean=mean, std=std, outputs=outputs,
        device=device, precision=precision, name=name, fingerprint=fingerprint, backend=backend,
        model_file=model_file,
    )  # fmt: skip


def _count_outputs(model: nn.Module | OnnxModel, spec: str, input_shape: tuple[int, ...]) -> int:
    """The number of classes, from trial batches of one and of two images.

    Raises:
        FoolingError: the model fails on either batch or returns no `[N, K]` scores.
    """
    counts = []
    for size in (1, 2):
        try:
            with torch.inference_mode():
                scores = model(torch.zeros(size, *input_shape))
        except Exception as error:
            first = first_line(error)
            if size == 1:
                raise FoolingError(
                    f"{spec} fails on one image of shape {input_shape}: {first}"
                ) from None
            raise FoolingError(
                f"{spec} takes one image but fails on a batch of two: {first} "
                "(fooling sends batches: export the model with a dynamic batch size)"
            ) from None
        if not isinstance(scores, torch.Tensor) or scores.dim() != 2 or len(scores) != size:
            shape = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores)
            raise FoolingError(f"{spec} returned {shape} for {size} image(s); expected [N, K]")
        counts.append(scores.shape[1])
    return counts[0]


def _hub_model(hub: str, name: str) -> tuple[nn.Module, dict]:
    try:
        library = importlib.import_module(hub)
    except ImportError:
        raise FoolingError(f"{hub}:{name} needs {hub}: pip install {hub}") from None
    try:
        if hub == "torchvision":
            model = library.models.get_model(name, weights="DEFAULT")
            defaults = {"input_shape": (3, 224, 224), "mean": IMAGENET_MEAN, "std": IMAGENET_STD}
        else:
            model = library.create_model(name, pretrained=True)
            config = model.pretrained_cfg
            defaults = {
                "input_shape": tuple(config["input_size"]),
                "mean": tuple(config["mean"]),
                "std": tuple(config["std"]),
            }
    except Exception as error:
        raise FoolingError(f"{hub} could not build {name!r}: {error}") from None
    return model.eval(), defaults
