"""The `fooling` command line: parse, dispatch, and turn user errors into one line and exit 2.

Each command is a module in `fooling.commands` with `HELP`, `EXAMPLE`,
`add_arguments(parser)` and `run(args) -> exit code`; its parser dispatches to
it through `set_defaults(run=...)`. Command modules load heavy libraries
(matplotlib, foolbox) only when they run, so `--help` stays quick.

Whatever goes wrong outside fooling's control ends as one line too: a file
that cannot be written (a full disk, no permission), memory that runs out,
or Ctrl-C at any moment, start-up included (exit code 130).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Sequence

from fooling.allocator import keep_freed_memory
from fooling.errors import FoolingError
from fooling.interrupt import InterruptAnywhere

USAGE_ERROR = 2
INTERRUPTED = 130
COMMANDS = (
    "evolve",
    "ascend",
    "adversarial",
    "figure1",
    "classify",
    "train",
    "demo",
    "transfer",
    "retrain",
    "ablate",
    "study",
    "reproduce",
    "audit",
    "detect",
)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (`fooling: error: ...`) and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with a working example in every command's --help."""
    modules = {name: importlib.import_module(f"fooling.commands.{name}") for name in COMMANDS}
    parser = _Parser(
        prog="fooling",
        description="Find images a classifier labels with near-certain confidence "
        "although no human would recognise them.",
        epilog="example: " + modules["demo"].EXAMPLE,
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, module in modules.items():
        sub = commands.add_parser(
            name, help=module.HELP, description=module.HELP, epilog="example: " + module.EXAMPLE
        )
        module.add_arguments(sub)
        sub.set_defaults(run=module.run, parser=parser)  # reproduce runs its steps with it
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code.

    Raises:
        SystemExit: from argparse for --help and usage errors.
    """
    command = "fooling"
    try:
        with InterruptAnywhere():
            args = build_parser().parse_args(argv)
            command = args.command
            warnings.showwarning = _one_line_warning
            keep_freed_memory()  # this process is the search's own (see fooling.allocator)
            return args.run(args)
    except KeyboardInterrupt:
        print(f"fooling: interrupted; {command} stopped", file=sys.stderr)
        return INTERRUPTED
    except Exception as error:
        message = _one_line(error)
        if message is None:
            raise
        print(f"fooling: error: {message}", file=sys.stderr)
        return USAGE_ERROR


def _one_line(error: Exception) -> str | None:
    """The line a user sees for an error from outside the program; None for a bug."""
    if isinstance(error, FoolingError):
        return str(error)
    if isinstance(error, OSError):  # a full disk, no permission, a path that cannot be
        where = f": {error.filename}" if error.filename else ""
        return f"{error.strerror or error}{where}"
    if (
        isinstance(error, MemoryError)
        or "can't allocate memory" in str(error)
        or (type(error).__name__ == "OutOfMemoryError")
    ):
        return "out of memory; try a smaller --population (or a smaller model or batch)"
    return None


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
