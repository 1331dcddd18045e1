"""Options and argparse value types shared by the commands.

One convention for every command that writes: `--out DIR` (a run directory,
by default `runs/<command>`), `--force` to replace a run already there,
`--quiet` for no progress bars, and `--seed`. Every number is parsed by its
`fooling.limits` range, so the command line refuses what the API refuses.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from fooling.classifiers import Classifier, load_classifier
from fooling.classifiers.backends import BACKENDS
from fooling.classifiers.classifier import PRECISIONS
from fooling.distributed.cluster import INSTALL
from fooling.errors import FoolingError
from fooling.limits import IMAGE_SIDE, MEAN, SEED, STD, WORKERS, Limit

DEFAULT_CLASSIFIER = "lenet-mnist"
DEVICE_HELP = "cpu, cuda or cuda:N (default: CUDA if present)"
COUNT = Limit("count", 1, 10_000_000, integer=True)
WEIGHTS_HELP = "weights file (or a `fooling train` run directory) for a built-in classifier"


def run_path(text: str) -> Path:
    """An argparse type for `--out`: any path but an empty one (which would mean here)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must be a directory path, not an empty string")
    return Path(text)


def add_output_arguments(
    parser: argparse.ArgumentParser, command: str, *, seed: int | None = 0, random: bool = True
) -> None:
    """`--out`, `--force`, `--quiet` and `--seed`, the same for every command that writes.

    A command that resumes runs passes `seed=None`, meaning 0 for a new run and the
    checkpoint's for a resumed one; one that draws nothing at random passes
    `random=False` and has no `--seed`.
    """
    parser.add_argument(
        "--out", type=run_path, default=Path("runs") / command, metavar="DIR",
        help=f"the run directory to write (default: runs/{command})",
    )  # fmt: skip
    parser.add_argument("--force", action="store_true", help="replace a run already in --out")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    if random:
        parser.add_argument(
            "--seed", type=SEED.parse, default=seed, help="random seed (default: 0)"
        )


def add_worker_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """`--workers` and `--address`: run the command's units of work on Ray.

    Args:
        parser: the command's parser.
        what: the unit of work, for the help (e.g. "islands").
    """
    parser.add_argument(
        "--workers", type=WORKERS.parse, default=1, metavar="N",
        help=f"{what} at once, each a Ray worker process of its own (default: 1, no Ray; "
        f'more needs: {INSTALL})',
    )  # fmt: skip
    parser.add_argument(
        "--address", metavar="ADDRESS",
        help="with --workers, the Ray cluster to join: auto (the one `ray start` began on "
        "this machine) or HOST:PORT (default: a cluster of this machine only, on 127.0.0.1)",
    )  # fmt: skip


def worker_options(args: argparse.Namespace) -> dict[str, Any]:
    """`workers` and `address` from the arguments of `add_worker_arguments`.

    Raises:
        FoolingError: `--address` without `--workers` N > 1.
    """
    if args.address is not None and args.workers == 1:
        raise FoolingError("--address is the Ray cluster of --workers N > 1: give --workers too")
    return {"workers": args.workers, "address": args.address}


def add_scoring_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """`--device` and `--backend`, for commands that only score, in fp32.

    Args:
        parser: the command's parser.
        what: what is scored with, for the help (e.g. "the targets").
    """
    parser.add_argument("--device", help=DEVICE_HELP)
    parser.add_argument(
        "--backend", choices=BACKENDS, default="auto",
        help=f"what runs {what} on a CPU (scores are fp32 whatever runs them)",
    )  # fmt: skip


def add_classifier_arguments(parser: argparse.ArgumentParser, *, int8: bool = False) -> None:
    """Which classifier to fool or use, and how to read a model of the user's.

    `int8` offers `--precision int8`: for a search, which calibrates it on its own images.
    """
    parser.add_argument(
        "--classifier", metavar="NAME|FILE",
        help=f"a built-in name ({DEFAULT_CLASSIFIER} by default, lenet-mnist-b, "
        "efficientnet-lite0/1/2), "
        "a TorchScript, .pt2 or .onnx file, or torchvision:NAME / timm:NAME",
    )  # fmt: skip
    parser.add_argument("--weights", type=Path, help=WEIGHTS_HELP)
    parser.add_argument("--device", help=DEVICE_HELP)
    int8_help = ("; int8 (never chosen by auto): OpenVINO quantised by NNCF on the encoding's "
                 "own images (see docs/cpu.md#int8)")  # fmt: skip
    parser.add_argument(
        "--precision", choices=[name for name in PRECISIONS if int8 or name != "int8"],
        default="auto",
        help="auto: bf16 on a GPU, and on OpenVINO where the CPU has AMX or AVX-512-BF16 "
        f"and bf16 wins a timed race against fp32; else fp32{int8_help if int8 else ''}. "
        "Saved and printed confidences are fp32 whatever the precision",
    )  # fmt: skip
    parser.add_argument(
        "--backend", choices=BACKENDS, default="auto",
        help="what runs the forward pass on a CPU (auto: the fastest installed that agrees "
        "with torch)",
    )  # fmt: skip
    add_model_file_arguments(parser)


def add_model_file_arguments(parser: argparse.ArgumentParser) -> None:
    """How to read a model file of the user's: input shape, labels, normalisation, outputs."""
    model = parser.add_argument_group("a model of your own")
    model.add_argument("--input-shape", type=IMAGE_SIDE.parse, nargs=3, metavar=("C", "H", "W"))
    model.add_argument("--labels", type=Path, help="text file, one class name per line")
    model.add_argument(
        "--mean", type=MEAN.parse, nargs="+", help="per-channel mean on [0, 1] images"
    )
    model.add_argument("--std", type=STD.parse, nargs="+", help="per-channel std on [0, 1] images")
    model.add_argument("--outputs", choices=("logits", "probabilities"), default="logits")


def classifier_options(args: argparse.Namespace) -> dict[str, Any]:
    """The `load_classifier` options that `add_classifier_arguments` read, but name and device."""
    return {
        "weights": args.weights, "input_shape": args.input_shape, "labels": args.labels,
        "mean": args.mean, "std": args.std, "outputs": args.outputs, "precision": args.precision,
        "backend": args.backend,
    }  # fmt: skip


def classifier_from(args: argparse.Namespace) -> Classifier:
    """The classifier that `add_classifier_arguments` options name.

    Raises:
        FoolingError: as `load_classifier`.
    """
    name = args.classifier or DEFAULT_CLASSIFIER
    return load_classifier(name, args.device, **classifier_options(args))


def split_classes(values: list[str] | None) -> list[str] | None:
    """`--classes 3 7`, `--classes 3,7` or labels, as one list (None when not given)."""
    if not values:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def add_real_image_arguments(parser: argparse.ArgumentParser | Any) -> None:  # or a group
    """`--data`, `--fit-count` and `--held-out-count`: the real images detectors are fitted on."""
    parser.add_argument(
        "--data", type=Path, metavar="FOLDER",
        help="the classifier's real images, one sub-folder per class (a fifth held out); "
        "a 28 x 28 gray classifier uses MNIST when not given",
    )  # fmt: skip
    parser.add_argument(
        "--fit-count", type=COUNT.parse, metavar="N",
        help="fit the detectors on only the first N real training images (default: all)",
    )  # fmt: skip
    parser.add_argument(
        "--held-out-count", type=COUNT.parse, metavar="N",
        help="set the thresholds on only the first N real held-out images (default: all)",
    )  # fmt: skip
