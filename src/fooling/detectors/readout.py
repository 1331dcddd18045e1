"""What a detector reads from a classifier: its logits and the features its last layer sees."""

from __future__ import annotations

import torch
from torch import nn

from fooling.classifiers import Classifier
from fooling.errors import FoolingError

READ_BATCH = 256  # images per forward pass when reading a set


class Readout:
    """A classifier's logits and penultimate features, in fp32 torch.

    The features are the input of the model's last `nn.Linear` (LeNet's 500
    ReLU units, EfficientNet's 1280 pooled ones), caught with a forward hook,
    so any module whose output is a final linear layer works unchanged. A model
    that shows no such layer (TorchScript, torch.export) has logits only.

    Args:
        classifier: a classifier around an `nn.Module` that returns logits.

    Raises:
        FoolingError: the model is a black box or returns probabilities.
    """

    def __init__(self, classifier: Classifier) -> None:
        model = classifier.model
        if not isinstance(model, nn.Module):
            raise FoolingError(f"{classifier.name} is a black box: detectors need its features")
        if classifier.outputs != "logits":
            raise FoolingError(f"{classifier.name} returns probabilities: detectors need logits")
        linears = [module for module in model.modules() if isinstance(module, nn.Linear)]
        self.classifier = classifier
        self.head = linears[-1] if linears else None
        self._caught: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._checked = False

    @property
    def has_features(self) -> bool:
        """Whether the model shows a last linear layer to read features before."""
        return self.head is not None

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """Logits `float32 [N, K]` of images in `[0, 1]`, with gradients back to them."""
        return self.classifier.model(self.classifier.prepare(images)).float()

    @torch.inference_mode()
    def read(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits `[N, K]` and features `[N, D]` (fp32, on the CPU; None without a last
        linear layer) of images in `[0, 1]` (or `uint8`, read as `/ 255`)."""
        if images.dtype == torch.uint8:
            images = images.float().div(255)
        if self.head is None:
            return torch.cat([self.logits(chunk).cpu() for chunk in images.split(READ_BATCH)]), None
        logits, features = [], []
        handle = self.head.register_forward_hook(self._catch)
        try:
            for chunk in images.split(READ_BATCH):
                out = self.logits(chunk)
                caught = self._caught.pop()
                self._check(out, caught)
                logits.append(out.cpu())
                features.append(caught[0].flatten(1).float().cpu())
        finally:
            handle.remove()
            self._caught.clear()
        return torch.cat(logits), torch.cat(features)

    @property
    def weight(self) -> torch.Tensor:
        """The last layer's weights `[K, D]`."""
        assert self.head is not None
        return self.head.weight.detach().float().cpu()

    @property
    def bias(self) -> torch.Tensor:
        """The last layer's bias `[K]` (zeros where it has none)."""
        assert self.head is not None
        if self.head.bias is None:
            return torch.zeros(self.head.out_features)
        return self.head.bias.detach().float().cpu()

    def _catch(self, module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor
               ) -> None:  # fmt: skip
        self._caught.append((inputs[0], output))

    def _check(self, logits: torch.Tensor, caught: tuple[torch.Tensor, torch.Tensor]) -> None:
        if self._checked:
            return
        if caught[1].shape != logits.shape or not torch.allclose(caught[1].float(), logits):
            raise FoolingError(
                f"{self.classifier.name}'s last linear layer is not its output: "
                "detectors cannot read its features"
            )
        self._checked = True
