"""The allowed range of every number a user can set, checked the same way by the CLI and the API.

Each option is a `Limit`: the API calls `limit.check(value)` and the command
line parses with `limit.parse` (an argparse type), so both refuse the same
values with the same message, which names the allowed range.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import torch

from fooling.errors import FoolingError


@dataclass(frozen=True)
class Limit:
    """A number's allowed range.

    Attributes:
        name: the option's name in messages (`population`).
        low: the smallest allowed value.
        high: the largest allowed value.
        integer: whole numbers only.
        low_open: `low` itself is not allowed (`0 < value`).
        high_open: `high` itself is not allowed (`value < 1`).
    """

    name: str
    low: float
    high: float
    integer: bool = False
    low_open: bool = False
    high_open: bool = False

    def describe(self) -> str:
        """The range in words, e.g. `an integer in 1..1000000` or `a number with 0 < x <= 1`."""
        if self.integer:
            return f"an integer in {int(self.low)}..{int(self.high)}"
        left = f"{self.low:g} {'<' if self.low_open else '<='}"
        right = f"{'<' if self.high_open else '<='} {self.high:g}"
        return f"a number with {left} x {right}"

    def allows(self, value: float) -> bool:
        """Whether `value` is in range (NaN and infinities never are)."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.integer and not isinstance(value, int):
            return False
        if not math.isfinite(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def check(self, value: float) -> float:
        """`value`, if it is in range.

        Raises:
            FoolingError: it is not, naming the range.
        """
        if not self.allows(value):
            raise FoolingError(f"{self.name} must be {self.describe()}, got {value!r}")
        return value

    def parse(self, text: str) -> float:
        """An argparse type: the number in `text`, checked.

        Raises:
            argparse.ArgumentTypeError: not a number, or out of range.
        """
        import argparse

        try:
            value: float = int(text) if self.integer else float(text)
        except ValueError:
            kind = "an integer" if self.integer else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind}") from None
        if not self.allows(value):
            raise argparse.ArgumentTypeError(f"must be {self.describe()}, got {text}")
        return value


def whole(name: str, low: int, high: int) -> Limit:
    """An integer range `low..high`."""
    return Limit(name, low, high, integer=True)


GENERATIONS = whole("generations", 1, 10**9)
POPULATION = whole("population", 1, 10**6)
SEED = whole("seed", 0, 2**63 - 1)
CHECKPOINT_INTERVAL = whole("checkpoint_every", 1, 10**9)
STEPS = whole("steps", 1, 10**7)
LEARNING_RATE = Limit("learning_rate", 0, 10, low_open=True)
L2 = Limit("l2", 0, 1, high_open=True)
BLUR_EVERY = whole("blur_every", 0, 10**7)
BLUR_SIGMA = Limit("blur_sigma", 0, 100, low_open=True)
THRESHOLD = Limit("threshold", 0, 1, low_open=True)
EPS = Limit("eps", 0, 1000, low_open=True)
COUNT = whole("count", 1, 10_000)  # the MNIST test set's size
SHOW = whole("show", 1, 10_000)
WORKERS = whole("workers", 1, 4096)  # islands of a distributed run
MIGRATION_INTERVAL = whole("migrate_every", 1, 10**9)
HIDDEN_NODES = whole("max_hidden", 0, 1000)  # CPPN slots; a genome's weights grow as its square
CONTROLS = whole("controls", 1, 100)  # ablate: random draws per control curve
MAX_ABLATION_STEPS = whole("max_steps", 1, 1000)
TOP = whole("top", 1, 10**6)
EPOCHS = whole("epochs", 1, 10_000)
MAX_STEPS = whole("max_steps", 1, 10**9)
JITTER = whole("jitter", 0, 10_000)  # pixels
ZOOM = Limit("scale", 0, 100, low_open=True)
ROTATE = Limit("rotate", 0, 180)  # degrees either way
BATCH_SIZE = whole("batch_size", 1, 10**6)
MOMENTUM = Limit("momentum", 0, 1, high_open=True)
WEIGHT_DECAY = Limit("weight_decay", 0, 1)
IMAGE_SIDE = whole("image side", 1, 8192)
CHANNELS = whole("channels", 1, 64)
MEAN = Limit("mean", -1000, 1000)
STD = Limit("std", -1000, 1000)  # and not 0; a negative std inverts a channel


def check_memory(needed: int, device: torch.device, what: str) -> None:
    """Refuse work that cannot fit: `needed` bytes against the device's memory.

    The figure is an estimate, so only work that is clearly too big is refused
    (more than the device has in all); the rest is left to the allocator.

    Raises:
        FoolingError: `needed` exceeds the memory of `device`.
    """
    available = _memory(device)
    if available is not None and needed > available:
        raise FoolingError(
            f"{what} needs about {needed / 2**30:.1f} GiB, and {device.type} memory here is "
            f"{available / 2**30:.1f} GiB"
        )


def _memory(device: torch.device) -> int | None:
    """The total memory of `device` in bytes, where it can be read."""
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory
    if device.type == "cpu" and hasattr(os, "sysconf"):
        try:
            return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError):
            return None
    return None
