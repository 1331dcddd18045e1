"""The one error type a user sees as a single line and exit code 2."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


class FoolingError(Exception):
    """Bad input from the user: an unknown name, a bad number, an unreadable file.

    The command line prints the message as one line and exits with code 2.
    """


def first_line(error: BaseException, limit: int = 160) -> str:
    """The first line of another library's error message, cut to `limit` characters.

    A message from fooling is one line; this makes one out of a library's.
    """
    line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return line if len(line) <= limit else line[: limit - 3].rstrip() + "..."


@contextlib.contextmanager
def native_logs_dropped() -> Iterator[None]:
    """Drop what C++ code writes straight to file descriptor 2 while the block runs.

    OpenVINO, handed a file that is not a model, tries its TensorFlow reader, whose
    logging (absl) prints lines of its own before the error that fooling turns into
    one line. Python's warnings and errors are not affected: they are raised, not
    printed, inside the block.
    """
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr: nothing to drop
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
