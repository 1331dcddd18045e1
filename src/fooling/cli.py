"""The `fooling` command line: parse, dispatch, and turn user errors into one line and exit 2.

Each command is a module in `fooling.commands` with `HELP`, `EXAMPLE`,
`add_arguments(parser)` and `run(args) -> exit code`; its parser dispatches to
it through `set_defaults(run=...)`. Command modules load heavy libraries
(matplotlib, foolbox) only when they run, so `--help` stays quick.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

from fooling.commands import adversarial, ascend, classify, demo, evolve, figure1, train
from fooling.errors import FoolingError

USAGE_ERROR = 2
INTERRUPTED = 130
COMMANDS = {
    "evolve": evolve,
    "ascend": ascend,
    "adversarial": adversarial,
    "figure1": figure1,
    "classify": classify,
    "train": train,
    "demo": demo,
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
        epilog="example: " + demo.EXAMPLE,
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, module in COMMANDS.items():
        sub = commands.add_parser(
            name, help=module.HELP, description=module.HELP, epilog="example: " + module.EXAMPLE
        )
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code.

    Raises:
        SystemExit: from argparse for --help and usage errors.
    """
    args = build_parser().parse_args(argv)
    warnings.showwarning = _one_line_warning
    try:
        return args.run(args)
    except FoolingError as error:
        print(f"fooling: error: {error}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print(f"fooling: interrupted; {args.command} stopped", file=sys.stderr)
        return INTERRUPTED


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
