"""The one error type a user sees as a single line and exit code 2."""


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
