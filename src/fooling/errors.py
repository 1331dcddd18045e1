"""The one error type a user sees as a single line and exit code 2."""


class FoolingError(Exception):
    """Bad input from the user: an unknown name, a bad number, an unreadable file.

    The command line prints the message as one line and exits with code 2.
    """
