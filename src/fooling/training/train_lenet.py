"""Train Caffe's MNIST LeNet on real MNIST on the CPU.

The recipe is Caffe's `examples/mnist/lenet_solver.prototxt` (SGD, momentum 0.9, weight decay
5e-4, batch 64) with one change: Caffe's "inv" learning-rate policy from 0.01 reaches only
about 98.9% test accuracy in the five epochs that fit a few minutes of CPU time, so the rate
starts at 0.03 and falls linearly to zero instead, which gives about 99.2%.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn
from tqdm import tqdm

from fooling.classifiers.lenet import LeNet
from fooling.data.mnist import load_mnist
from fooling.errors import FoolingError

DEFAULT_EPOCHS = 5
DEFAULT_BATCH_SIZE = 64

BASE_LR = 0.03
MOMENTUM = 0.9
WEIGHT_DECAY = 5e-4

EVAL_BATCH_SIZE = 1000


def linear_lr(step: int, total_steps: int) -> float:
    """The learning rate for update `step` of `total_steps`: from `BASE_LR` linearly to zero.

    Args:
        step: the number of updates made so far.
        total_steps: the number of updates in the whole run.

    Returns:
        The learning rate for the next update.
    """
    return BASE_LR * (1.0 - step / total_steps)


def train_lenet(
    out: str | Path,
    *,
    epochs: int = DEFAULT_EPOCHS,
    seed: int = 0,
    batch_size: int = DEFAULT_BATCH_SIZE,
    mnist_root: str | Path | None = None,
    progress: bool = True,
    max_steps: int | None = None,
) -> float:
    """Train LeNet on the real MNIST training set and save its weights as safetensors.

    SGD as in Caffe's LeNet solver (momentum 0.9, weight decay 5e-4) with the learning rate
    falling linearly from 0.03 to zero; seeded so that a run repeats on the same machine.
    The defaults reach about 99.2% test accuracy in about 1.5 minutes on two CPU cores.

    Args:
        out: the `.safetensors` file to write; written atomically, its folder is created.
        epochs: passes over the 60,000 training images.
        seed: seeds the initial weights and the order of the batches.
        batch_size: images per update.
        mnist_root: a folder of MNIST IDX files; see `fooling.data.mnist.load_mnist`.
        progress: show a tqdm progress bar.
        max_steps: stop after this many updates (for quick checks); None trains all epochs.

    Returns:
        The accuracy on the 10,000 real MNIST test images, in `[0, 1]`.

    Raises:
        FoolingError: a bad number, MNIST not found, or `out` cannot be written.
    """
    if epochs < 1:
        raise FoolingError(f"epochs must be at least 1, not {epochs}")
    if batch_size < 1:
        raise FoolingError(f"batch size must be at least 1, not {batch_size}")
    if max_steps is not None and max_steps < 1:
        raise FoolingError(f"max steps must be at least 1, not {max_steps}")
    out = Path(out)
    train_x, train_y = load_mnist("train", mnist_root)
    test_x, test_y = load_mnist("test", mnist_root)

    torch.manual_seed(seed)
    net = LeNet()
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.SGD(
        net.parameters(), lr=BASE_LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY
    )
    loss_fn = nn.CrossEntropyLoss()
    steps_per_epoch = -(-len(train_x) // batch_size)
    total_steps = epochs * steps_per_epoch
    if max_steps is not None:
        total_steps = min(total_steps, max_steps)

    net.train()
    step = 0
    epoch = 0
    with tqdm(total=total_steps, desc="train lenet", unit="batch", disable=not progress) as bar:
        while step < total_steps:
            epoch += 1
            order = torch.randperm(len(train_x), generator=generator)
            for start in range(0, len(order), batch_size):
                if step >= total_steps:
                    break
                index = order[start : start + batch_size]
                for group in optimizer.param_groups:
                    group["lr"] = linear_lr(step, total_steps)
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(net(train_x[index]), train_y[index])
                loss.backward()
                optimizer.step()
                step += 1
                bar.update(1)
                if step % 100 == 0:
                    bar.set_postfix(loss=f"{loss.item():.3f}", epoch=epoch)

    accuracy = evaluate(net, test_x, test_y)
    save_weights(net, out)
    return accuracy


@torch.no_grad()
def evaluate(net: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """The fraction of images the network labels correctly.

    Args:
        net: a classifier returning logits.
        images: `[N, 1, 28, 28]`.
        labels: `[N]`.

    Returns:
        Accuracy in `[0, 1]`; the network is left in eval mode.
    """
    net.eval()
    correct = 0
    for start in range(0, len(images), EVAL_BATCH_SIZE):
        logits = net(images[start : start + EVAL_BATCH_SIZE])
        correct += int((logits.argmax(dim=1) == labels[start : start + EVAL_BATCH_SIZE]).sum())
    return correct / max(len(images), 1)


def save_weights(net: nn.Module, out: Path) -> None:
    """Write the network's state dict to `out` as safetensors, atomically.

    Args:
        net: the network.
        out: the destination; its folder is created if needed.

    Raises:
        FoolingError: the file cannot be written.
    """
    state = {name: tensor.detach().contiguous() for name, tensor in net.state_dict().items()}
    # A fresh name in the same folder (not mkstemp, whose 0600 mode would stick to `out`).
    tmp = out.with_name(f".{out.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        save_file(state, str(tmp))
        os.replace(tmp, out)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise FoolingError(f"cannot write {out}: {error}") from None
