"""An ONNX file as a black-box model: onnxruntime runs it, on image batches."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fooling.errors import FoolingError
from fooling.records import atomic_write_bytes


class OnnxModel:
    """An ONNX file as a callable on image batches, run by onnxruntime.

    The file is read once; the model keeps its bytes and pickles as them, with their
    SHA-256, so that it reaches a Ray worker on another machine, where the file need
    not exist, as the very model loaded here.

    Args:
        path: the `.onnx` file (named in messages).
        device: CUDA runs use onnxruntime's CUDA provider when it has one.
        data: the file's bytes, when already read.

    Raises:
        FoolingError: onnxruntime is missing or the file is not a loadable model.
    """

    def __init__(self, path: Path, device: torch.device, data: bytes | None = None) -> None:
        try:
            import onnxruntime
        except ImportError:
            raise FoolingError(f"{path} needs onnxruntime: pip install onnxruntime") from None
        providers = ["CPUExecutionProvider"]
        available = onnxruntime.get_available_providers()
        if device.type == "cuda" and "CUDAExecutionProvider" in available:
            providers.insert(0, "CUDAExecutionProvider")
        try:
            data = path.read_bytes() if data is None else data
            self.session = onnxruntime.InferenceSession(data, providers=providers)
        except Exception as error:
            raise FoolingError(f"{path} is not a model onnxruntime can load: {error}") from None
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise FoolingError(f"{path} must take one input of shape [N, C, H, W]")
        self.path, self.device, self.data = path, device, data
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.input_name = inputs[0].name
        batch, *rest = inputs[0].shape
        self.batch = batch if isinstance(batch, int) else None  # a fixed batch size, if any
        self.input_shape = tuple(rest) if all(isinstance(size, int) for size in rest) else None

    def file(self, folder: Path) -> Path:
        """A file that holds this model's bytes, for a backend that reads a file (OpenVINO):
        the one it was loaded from while that is unchanged, else a copy in `folder` named by
        the bytes' SHA-256 (on a Ray worker of another machine, say)."""
        try:
            if self.path.stat().st_size == len(self.data) and self.path.read_bytes() == self.data:
                return self.path
        except OSError:
            pass
        copy = folder / f"{self.sha256}.onnx"
        if not copy.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(copy, self.data)
        return copy

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

    def __getstate__(self) -> dict[str, Any]:
        """The model's bytes and their SHA-256 (a session does not pickle: it is opened again)."""
        return {"path": self.path, "device": self.device, "data": self.data,
                "sha256": self.sha256}  # fmt: skip

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Open the model again from its bytes, once they are checked.

        Raises:
            FoolingError: the bytes are not those that were sent.
        """
        if hashlib.sha256(state["data"]).hexdigest() != state["sha256"]:
            raise FoolingError(f"the bytes of {state['path']} changed on their way here")
        self.__init__(state["path"], state["device"], state["data"])

    def _run(self, array: np.ndarray) -> np.ndarray:
        scores = self.session.run(None, {self.input_name: array})[0]
        return np.asarray(scores, dtype=np.float32)
