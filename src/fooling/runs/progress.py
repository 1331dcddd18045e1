"""The per-generation log ``progress.csv``: one line per generation, appended as it runs."""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import TextIO

from fooling.errors import FoolingError
from fooling.records import ProgressRow, atomic_write_text

COLUMNS = (
    "generation",
    "evaluations",
    "seconds",
    "best_confidence",
    "median_confidence",
    "mean_confidence",
    "fooled_at_0.99",
    "lowest_confidence",
    "rescored_share",
)
HEADER = ",".join(COLUMNS) + "\n"
OLD_HEADERS = (",".join(COLUMNS[:7]) + "\n", ",".join(COLUMNS[:8]) + "\n")
"""The headers of logs written before `lowest_confidence` (read as NaN) and `rescored_share`
(read as 0: nothing was re-scored at admission then) existed."""
_MISSING = ("nan", "0")  # the values of the columns an old log lacks

_TYPES = (int, int, float, float, float, float, int, float, float)  # ProgressRow's fields


def _format(row: ProgressRow) -> str:
    """One CSV line; floats use ``repr`` so they read back exactly."""
    values = (
        str(int(value)) if kind is int else repr(float(value))
        for kind, value in zip(_TYPES, row.values(), strict=True)
    )
    return ",".join(values) + "\n"


def _parse(line: str, where: str, columns: int) -> ProgressRow:
    """Parse one CSV line (without its newline) into a row; `columns` < 9: an old format."""
    values = line.split(",")
    if len(values) != columns:
        raise FoolingError(f"{where}: expected {columns} values, found {len(values)}")
    values += _MISSING[columns - len(COLUMNS) :] if columns < len(COLUMNS) else []
    try:
        return ProgressRow(*(kind(value) for kind, value in zip(_TYPES, values, strict=True)))
    except ValueError as error:
        raise FoolingError(f"{where}: {error}") from error


def read_progress(path: Path) -> list[ProgressRow]:
    """Read a ``progress.csv``.

    An empty file gives no rows. A last line without its newline was cut off while
    being written (a crash, or a run still writing) and is skipped.

    Args:
        path: the file to read.

    Returns:
        The rows in file order.

    Raises:
        FoolingError: if the file cannot be read, its header is not the progress
            header, or a line is malformed.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise FoolingError(f"cannot read progress log {path}: {error}") from error
    if not text:
        return []
    lines = text.split("\n")
    lines.pop()  # "" after the last newline, or a line cut off mid-write
    if not lines:
        return []
    if lines[0] + "\n" not in (HEADER, *OLD_HEADERS):
        raise FoolingError(f"{path} is not a progress log: its first line is {lines[0]!r}")
    columns = lines[0].count(",") + 1
    return [
        _parse(line, f"{path}:{number}", columns)
        for number, line in enumerate(lines[1:], start=2)
        if line.strip()
    ]


class ProgressLog:
    """Appends one line per generation to ``progress.csv``, flushed at once.

    Use ``start`` before ``append``; ``close`` (or a ``with`` block) closes the file.

    Args:
        path: the CSV file.
    """

    read = staticmethod(read_progress)

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._file: TextIO | None = None

    def start(self, fresh: bool) -> None:
        """Open the log for appending.

        Args:
            fresh: write a new file with only the header, replacing any old one;
                otherwise keep the rows already there (resume) and append after them.

        Raises:
            FoolingError: if ``fresh`` is false and the existing file is not a
                readable progress log.
        """
        self.close()
        if fresh or not self.path.exists():
            rows: list[ProgressRow] = []
        else:
            rows = read_progress(self.path)
            text = self.path.read_bytes()
            if text.endswith(b"\n") and text.startswith(HEADER.encode()):
                self._open()
                return
        self._rewrite(rows)  # fresh, missing, the old format, or a cut-off last line to drop

    def append(self, row: ProgressRow) -> None:
        """Append one row and flush it to the operating system.

        Args:
            row: the generation's figures.

        Raises:
            RuntimeError: if ``start`` has not been called or the log is closed.
        """
        if self._file is None:
            raise RuntimeError("ProgressLog.append before start() or after close()")
        self._file.write(_format(row))
        self._file.flush()

    def truncate_after(self, generation: int) -> None:
        """Drop every row with a generation after ``generation`` (for a resume).

        The file is rewritten atomically; if it was open it stays open for appending.

        Args:
            generation: the last generation to keep.

        Raises:
            FoolingError: if the existing file is not a readable progress log.
        """
        was_open = self._file is not None
        self.close()
        rows = read_progress(self.path) if self.path.exists() else []
        self._rewrite([row for row in rows if row.generation <= generation])
        if not was_open:
            self.close()

    def close(self) -> None:
        """Close the file; calling it again does nothing."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> ProgressLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _rewrite(self, rows: list[ProgressRow]) -> None:
        """Replace the file with the header and ``rows``, then open it for appending."""
        atomic_write_text(self.path, HEADER + "".join(_format(row) for row in rows))
        self._open()

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        descriptor = os.open(self.path, flags, 0o666)  # never through a symbolic link
        self._file = open(descriptor, "a", encoding="utf-8", newline="\n")  # noqa: SIM115
