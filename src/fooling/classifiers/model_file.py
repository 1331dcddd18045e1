"""A user's model file (TorchScript, torch.export `.pt2`, ONNX), loaded with no unpickling."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from fooling.classifiers.onnx_model import OnnxModel
from fooling.errors import FoolingError, first_line
from fooling.user_files import no_unpickling


def load_model_file(path: Path, device: torch.device) -> nn.Module | OnnxModel:
    """A TorchScript, torch.export (`.pt2`) or ONNX (`.onnx`) model file, loaded safely.

    Raises:
        FoolingError: the file is not such a model, or it holds pickled objects.
    """
    if path.suffix == ".onnx":
        with no_unpickling(path):
            return OnnxModel(path, device)
    kind = "a torch.export" if path.suffix == ".pt2" else "a TorchScript"
    try:
        with no_unpickling(path), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TorchScript is deprecated; torch.export warns
            if path.suffix == ".pt2":
                return torch.export.load(path).module()
            return torch.jit.load(path, map_location="cpu").eval()
    except FoolingError:
        raise
    except Exception as error:
        raise FoolingError(f"{path} is not {kind} model: {first_line(error)}") from None
