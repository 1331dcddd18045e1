"""An ONNX file as a black-box model: onnxruntime runs it, on image batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from fooling.errors import FoolingError


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
        self.path, self.device = path, device
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

    def __getstate__(self) -> tuple[Path, torch.device]:
        return self.path, self.device  # a session does not pickle: it is opened again

    def __setstate__(self, state: tuple[Path, torch.device]) -> None:
        self.__init__(*state)

    def _run(self, array: np.ndarray) -> np.ndarray:
        scores = self.session.run(None, {self.input_name: array})[0]
        return np.asarray(scores, dtype=np.float32)
