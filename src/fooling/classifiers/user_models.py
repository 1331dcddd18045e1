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
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from fooling.classifiers.classifier import Classifier
from fooling.classifiers.efficientnet import imagenet_labels
from fooling.errors import FoolingError

HUBS = ("torchvision", "timm")
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class OnnxModel:
    """An ONNX file as a callable on image batches, run by onnxruntime.

    Args:
        path: the `.onnx` file.
        device: CUDA runs use onnxruntime's CUDA provider when it has one.

    Raises:
        FoolingError: onnxruntime is missing or the file is not a loadable model.
    """

    def __init__(self, path: Path, device: torch.device) -> None:
        try:
            import onnxruntime
        except ImportError:
            raise FoolingError(f"{path} needs onnxruntime: pip install onnxruntime") from None
        providers = ["CPUExecutionProvider"]
        available = onnxruntime.get_available_providers()
        if device.type == "cuda" and "CUDAExecutionProvider" in available:
            providers.insert(0, "CUDAExecutionProvider")
        try:
            self.session = onnxruntime.InferenceSession(str(path), providers=providers)
        except Exception as error:
            raise FoolingError(f"{path} is not a model onnxruntime can load: {error}") from None
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise FoolingError(f"{path} must take one input of shape [N, C, H, W]")
        self.input_name = inputs[0].name
        batch, *rest = inputs[0].shape
        self.batch = batch if isinstance(batch, int) else None  # a fixed batch size, if any
        self.input_shape = tuple(rest) if all(isinstance(size, int) for size in rest) else None

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        array = images.detach().float().cpu().contiguous().numpy()
        if self.batch is None:
            scores = self._run(array)
        else:  # a model exported for a fixed batch size: run it chunk by chunk, padded
            chunks = []
            for start in range(0, len(array), self.batch):
                chunk = array[start : start + self.batch]
                padding = np.zeros((self.batch - len(chunk), *chunk.shape[1:]), chunk.dtype)
                chunks.append(self._run(np.concatenate([chunk, padding]))[: len(chunk)])
            scores = np.concatenate(chunks)
        return torch.from_numpy(scores).to(images.device)

    def _run(self, array: np.ndarray) -> np.ndarray:
        scores = self.session.run(None, {self.input_name: array})[0]
        return np.asarray(scores, dtype=np.float32)


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

    Returns:
        The classifier, named after the file or model.

    Raises:
        FoolingError: the file or library is missing or unusable, or an option does not fit.
    """
    hub, _, hub_name = spec.partition(":")
    if hub in HUBS and hub_name:
        model, defaults = _hub_model(hub, hub_name)
        input_shape = input_shape or defaults["input_shape"]
        mean, std = mean or defaults["mean"], std or defaults["std"]
        name = spec
    else:
        path = Path(spec)
        if not path.is_file():
            raise FoolingError(f"no model file at {spec}")
        model = _load_file(path, device)
        if input_shape is None and isinstance(model, OnnxModel):
            input_shape = model.input_shape
        name = path.name
    if input_shape is None:
        raise FoolingError(f"give the input shape of {spec}: --input-shape C H W")
    try:
        with torch.inference_mode():
            count = model(torch.zeros(1, *input_shape)).shape[-1]
    except Exception as error:
        shape = tuple(input_shape)
        raise FoolingError(f"{spec} fails on one image of shape {shape}: {error}") from None
    if labels is not None:
        names = _read_labels(labels, count)
    elif hub in HUBS and count == 1000:
        names = imagenet_labels()
    else:
        names = [str(index) for index in range(count)]
    return Classifier(
        model, input_shape=input_shape, labels=names, mean=mean, std=std, outputs=outputs,
        device=device, precision=precision, name=name,
    )  # fmt: skip


def _load_file(path: Path, device: torch.device) -> nn.Module | OnnxModel:
    if path.suffix == ".onnx":
        return OnnxModel(path, device)
    try:
        if path.suffix == ".pt2":
            return torch.export.load(path).module()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is deprecated
            return torch.jit.load(path, map_location="cpu").eval()
    except Exception as error:
        kind = "a torch.export" if path.suffix == ".pt2" else "a TorchScript"
        raise FoolingError(f"{path} is not {kind} model: {str(error).splitlines()[0]}") from None


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


def _read_labels(path: Path, count: int) -> list[str]:
    try:
        names = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise FoolingError(f"cannot read labels from {path}: {error}") from None
    if len(names) != count:
        raise FoolingError(f"{path} has {len(names)} labels but the model has {count} outputs")
    return names
