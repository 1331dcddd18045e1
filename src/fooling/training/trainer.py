"""A generic trainer: any classifier network, any labelled images, a recipe as plain data."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import nn
from torch.utils.data import TensorDataset
from tqdm.auto import tqdm

from fooling.errors import FoolingError
from fooling.limits import (
    BATCH_SIZE,
    EPOCHS,
    LEARNING_RATE,
    MAX_STEPS,
    MOMENTUM,
    SEED,
    WEIGHT_DECAY,
)

OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("linear", "cosine", "constant")


@dataclass(frozen=True)
class Recipe:
    """How to train: optimiser, learning-rate schedule, batches and passes.

    Attributes:
        epochs: passes over the training images.
        batch_size: images per update.
        learning_rate: the first learning rate.
        schedule: `"linear"` (falls to zero), `"cosine"` (to zero) or `"constant"`.
        optimizer: `"sgd"` (with `momentum`) or `"adam"`.
        momentum: SGD's momentum.
        weight_decay: L2 weight decay.
        max_steps: stop after this many updates (None: all epochs).
        channels_last: train with images and weights channels-last, oneDNN's faster layout
            on CPUs (LeNet: `benchmarks/train_layout.py`); for networks that reshape with
            `reshape` or `flatten`, not `view`.
    """

    epochs: int
    batch_size: int
    learning_rate: float
    schedule: str = "linear"
    optimizer: str = "sgd"
    momentum: float = 0.9
    weight_decay: float = 0.0
    max_steps: int | None = None
    channels_last: bool = False

    def check(self) -> None:
        """Raise FoolingError for a setting that cannot train."""
        EPOCHS.check(self.epochs)
        BATCH_SIZE.check(self.batch_size)
        if self.max_steps is not None:
            MAX_STEPS.check(self.max_steps)
        LEARNING_RATE.check(self.learning_rate)
        WEIGHT_DECAY.check(self.weight_decay)
        MOMENTUM.check(self.momentum)
        if self.schedule not in SCHEDULES:
            raise FoolingError(f"unknown schedule {self.schedule!r}; choose from {SCHEDULES}")
        if self.optimizer not in OPTIMIZERS:
            raise FoolingError(f"unknown optimizer {self.optimizer!r}; choose from {OPTIMIZERS}")

    def rate(self, step: int, total_steps: int) -> float:
        """The learning rate for update `step` of `total_steps`."""
        done = step / total_steps
        if self.schedule == "linear":
            return self.learning_rate * (1.0 - done)
        if self.schedule == "cosine":
            return self.learning_rate * 0.5 * (1.0 + math.cos(math.pi * done))
        return self.learning_rate


class LabelledImages(Protocol):
    """Training data: its length, and `data[index]` -> `(images, labels)` for a long tensor.

    `torch.utils.data.TensorDataset` is one; so is anything that loads a batch at a time.
    """

    def __len__(self) -> int: ...

    def __getitem__(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...


@dataclass(frozen=True)
class Trained:
    """What a training run did.

    Attributes:
        steps: updates made.
        seconds: wall-clock time.
        last_loss: the loss of the last batch.
    """

    steps: int
    seconds: float
    last_loss: float


def train(
    model: nn.Module,
    data: LabelledImages | tuple[torch.Tensor, torch.Tensor],
    recipe: Recipe,
    *,
    seed: int = 0,
    parameters: Iterable[nn.Parameter] | None = None,
    progress: bool = True,
) -> Trained:
    """Train `model` in place with cross-entropy on labelled images.

    Seeded: the order of the batches comes from `seed`, so a run repeats on the same
    machine (seed the model's initial weights before building it).

    Args:
        model: a network returning logits `[N, K]`; batches are moved to its device.
        data: `(images, labels)` tensors, or any `LabelledImages`.
        recipe: how to train.
        seed: seeds the order of the batches.
        parameters: the parameters to train (e.g. only the last layer's); all by default.
        progress: show a progress bar.

    Returns:
        The number of updates, the time taken and the last loss; the model is left
        in eval mode.

    Raises:
        FoolingError: a bad recipe or no data.
    """
    recipe.check()
    if isinstance(data, tuple):
        data = TensorDataset(*data)
    if len(data) == 0:
        raise FoolingError("no training images")
    device = next(model.parameters()).device
    trained = list(model.parameters() if parameters is None else parameters)
    if recipe.optimizer == "sgd":
        optimizer: torch.optim.Optimizer = torch.optim.SGD(
            trained, lr=recipe.learning_rate, momentum=recipe.momentum,
            weight_decay=recipe.weight_decay,
        )  # fmt: skip
    else:
        optimizer = torch.optim.Adam(
            trained, lr=recipe.learning_rate, weight_decay=recipe.weight_decay
        )
    generator = torch.Generator().manual_seed(SEED.check(seed))
    total_steps = recipe.epochs * -(-len(data) // recipe.batch_size)
    if recipe.max_steps is not None:
        total_steps = min(total_steps, recipe.max_steps)
    loss_fn = nn.CrossEntropyLoss()
    started, step, epoch, loss = time.perf_counter(), 0, 0, torch.zeros(())
    model.train()
    bar = tqdm(total=total_steps, desc="train", unit="batch", disable=not progress)
    with _channels_last(model, recipe.channels_last), bar:
        while step < total_steps:
            epoch += 1
            order = torch.randperm(len(data), generator=generator)
            for index in order.split(recipe.batch_size):
                if step >= total_steps:
                    break
                images, labels = data[index]
                images, labels = images.to(device), labels.to(device)
                if recipe.channels_last and images.dim() == 4:
                    images = images.contiguous(memory_format=torch.channels_last)
                for group in optimizer.param_groups:
                    group["lr"] = recipe.rate(step, total_steps)
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(model(images), labels)
                loss.backward()
                optimizer.step()
                step += 1
                bar.update(1)
                if step % 100 == 0:
                    bar.set_postfix(loss=f"{loss.item():.3f}", epoch=epoch)
    model.eval()
    return Trained(step, time.perf_counter() - started, loss.item())


@contextmanager
def _channels_last(model: nn.Module, wanted: bool) -> Iterator[None]:
    """Where `wanted`, the model's weights channels-last inside and in the default layout
    again after; left alone otherwise."""
    if not wanted:
        yield
        return
    model.to(memory_format=torch.channels_last)  # in place: the optimiser keeps its parameters
    try:
        yield
    finally:
        model.to(memory_format=torch.contiguous_format)


@torch.no_grad()
def evaluate(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000
) -> float:
    """The fraction of images the network labels correctly.

    Args:
        model: a classifier returning logits; left in eval mode.
        images: `[N, ...]`, moved batch by batch to the model's device.
        labels: `[N]`.
        batch_size: images per forward pass.

    Returns:
        Accuracy in `[0, 1]`.
    """
    model.eval()
    device = next(model.parameters()).device
    correct = 0
    for start in range(0, len(images), batch_size):
        logits = model(images[start : start + batch_size].to(device))
        correct += int((logits.argmax(dim=1).cpu() == labels[start : start + batch_size]).sum())
    return correct / max(len(images), 1)
