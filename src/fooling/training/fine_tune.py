"""Teach a trained classifier one more class: extend its last linear layer, then fine-tune.

`with_extra_class` copies the network and gives its last `nn.Linear` (in module
order, which must be the layer that outputs the classes) one more output, the
old outputs unchanged and the new one starting at zero. `fine_tune` then trains
either the head alone or the whole network, with the generic trainer:

- the head (the default): every image goes through the frozen body once, the
  features entering the last layer are kept, and the layer alone is trained on
  them, so an epoch costs a matrix product, not a pass through the network;
- `full`: every parameter, on the images as the classifier prepares them; batch
  normalisation keeps its statistics (small fine-tuning batches would spoil them).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import torch
from torch import nn

from fooling.classifiers import Classifier
from fooling.errors import FoolingError
from fooling.training.trainer import Recipe, Trained, train

HEAD_RECIPE = Recipe(epochs=30, batch_size=64, learning_rate=3e-3, optimizer="adam",
                     schedule="cosine")  # fmt: skip
"""The head alone, on features: cheap epochs, so many of them."""
FULL_RECIPE = Recipe(epochs=3, batch_size=32, learning_rate=3e-3, optimizer="sgd",
                     momentum=0.9, schedule="cosine", weight_decay=1e-5)  # fmt: skip
"""The whole network: a few gentle passes, from weights that are already good."""
FEATURE_BATCH = 64


@dataclass(frozen=True)
class Head:
    """Where a network's classes come out.

    Attributes:
        name: the dotted name of its last `nn.Linear`.
        layer: that layer.
    """

    name: str
    layer: nn.Linear


def final_linear(model: object, classes: int | None = None) -> Head:
    """The network's last `nn.Linear`, checked to output `classes` scores when given.

    Raises:
        FoolingError: not a PyTorch module that can be changed (TorchScript, an
            exported program, ONNX), no `nn.Linear`, or a last one of another width.
    """
    if not isinstance(model, nn.Module) or isinstance(model, torch.jit.ScriptModule):
        kind = "a TorchScript module" if isinstance(model, nn.Module) else type(model).__name__
        raise FoolingError(
            f"only a PyTorch module can be given another class, not {kind}; "
            "load the model as an nn.Module (a built-in, torchvision:NAME or timm:NAME)"
        )
    layers = [(name, module) for name, module in model.named_modules()
              if isinstance(module, nn.Linear)]  # fmt: skip
    if not layers:
        raise FoolingError("the model has no nn.Linear layer to give another class")
    name, layer = layers[-1]
    if classes is not None and layer.out_features != classes:
        raise FoolingError(
            f"the model's last nn.Linear ({name}) has {layer.out_features} outputs, "
            f"not one per class ({classes})"
        )
    return Head(name, layer)


def with_extra_class(model: object, classes: int) -> nn.Module:
    """A copy of `model` whose last linear layer has `classes + 1` outputs.

    The first `classes` outputs are the old ones, weight for weight; the new one
    starts at zero. `model` itself is not changed.

    Raises:
        FoolingError: as `final_linear`.
    """
    final_linear(model, classes)
    assert isinstance(model, nn.Module)
    model = copy.deepcopy(model)
    head = final_linear(model, classes)
    old = head.layer
    new = nn.Linear(old.in_features, classes + 1, bias=old.bias is not None)
    new = new.to(old.weight.device, old.weight.dtype)
    with torch.no_grad():
        new.weight.zero_()
        new.weight[:classes] = old.weight
        if old.bias is not None and new.bias is not None:
            new.bias.zero_()
            new.bias[:classes] = old.bias
    parent, _, attribute = head.name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, attribute, new)
    return model


def fine_tune(
    model: nn.Module,
    classifier: Classifier,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    full: bool = False,
    epochs: int | None = None,
    max_steps: int | None = None,
    seed: int = 0,
    progress: bool = True,
) -> Trained:
    """Train `model` (from `with_extra_class`) in place on labelled images.

    Args:
        model: the network, on `classifier`'s device.
        classifier: prepares the images as the model wants them (size, normalisation).
        images: `uint8 [N, C, H, W]`.
        labels: `long [N]`, indices into the model's outputs.
        full: train every parameter, not only the last layer.
        epochs: passes over the images (default: `HEAD_RECIPE`'s or `FULL_RECIPE`'s).
        max_steps: stop after this many updates.
        seed: seeds the batches (and nothing else: the new row starts at zero).
        progress: show a progress bar.

    Returns:
        What the training did; the model is left in eval mode.

    Raises:
        FoolingError: as `final_linear`, or no images.
    """
    recipe = FULL_RECIPE if full else HEAD_RECIPE
    recipe = replace(recipe, epochs=epochs or recipe.epochs, max_steps=max_steps)
    head = final_linear(model)
    if full:
        wrapped = _Prepared(classifier, model)
        return train(wrapped, (images, labels), recipe, seed=seed, progress=progress)
    features = _features(model, head.layer, classifier, images)
    trained = train(head.layer, (features, labels.to(features.device)), recipe, seed=seed,
                    progress=progress)  # fmt: skip
    model.eval()
    return trained


@torch.no_grad()
def _features(
    model: nn.Module, layer: nn.Linear, classifier: Classifier, images: torch.Tensor
) -> torch.Tensor:
    """What enters `layer` for each image, through the model in eval mode, fp32."""
    if len(images) == 0:
        raise FoolingError("no training images")
    captured: list[torch.Tensor] = []
    hook = layer.register_forward_pre_hook(lambda _, inputs: captured.append(inputs[0].float()))
    try:
        model.eval()
        for batch in images.split(FEATURE_BATCH):
            model(classifier.prepare(batch.float().div(255)))
    finally:
        hook.remove()
    return torch.cat(captured).flatten(1)


class _Prepared(nn.Module):
    """The model behind its classifier's preparation, taking `uint8` images; batch
    normalisation stays in eval mode whatever mode the whole is in."""

    def __init__(self, classifier: Classifier, model: nn.Module) -> None:
        super().__init__()
        self.classifier = classifier
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(self.classifier.prepare(images.float().div(255)))

    def train(self, mode: bool = True) -> _Prepared:
        super().train(mode)
        for module in self.model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()
        return self
