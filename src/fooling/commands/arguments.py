"""Options and argparse value types shared by the commands."""

from __future__ import annotations

import argparse
from pathlib import Path

from fooling.classifiers import Classifier, load_classifier


def positive_int(text: str) -> int:
    """An argparse type for integers >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def add_classifier_arguments(parser: argparse.ArgumentParser) -> None:
    """Which classifier to fool or use, and how to read a model of the user's."""
    parser.add_argument(
        "--classifier", default="lenet-mnist", metavar="NAME|FILE",
        help="a built-in name (lenet-mnist, efficientnet-lite0/1/2), a TorchScript, "
        ".pt2 or .onnx file, or torchvision:NAME / timm:NAME",
    )  # fmt: skip
    parser.add_argument("--weights", type=Path, help="weights file for a built-in classifier")
    parser.add_argument("--device", help="cpu, cuda or cuda:N (default: CUDA if present)")
    parser.add_argument(
        "--precision", choices=("auto", "fp32", "bf16"), default="auto",
        help="auto: bf16 autocast on a GPU, fp32 on a CPU; fp32 forces full precision",
    )  # fmt: skip
    model = parser.add_argument_group("a model of your own")
    model.add_argument("--input-shape", type=positive_int, nargs=3, metavar=("C", "H", "W"))
    model.add_argument("--labels", type=Path, help="text file, one class name per line")
    model.add_argument("--mean", type=float, nargs="+", help="per-channel mean on [0, 1] images")
    model.add_argument("--std", type=float, nargs="+", help="per-channel std on [0, 1] images")
    model.add_argument("--outputs", choices=("logits", "probabilities"), default="logits")


def classifier_from(args: argparse.Namespace) -> Classifier:
    """The classifier that `add_classifier_arguments` options name.

    Raises:
        FoolingError: as `load_classifier`.
    """
    return load_classifier(
        args.classifier, args.device, weights=args.weights, input_shape=args.input_shape,
        labels=args.labels, mean=args.mean, std=args.std, outputs=args.outputs,
        precision=args.precision,
    )  # fmt: skip
