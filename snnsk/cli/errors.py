"""The error of the ``snnsk`` command that means "what you gave the command is wrong".

:func:`snnsk.cli.main` prints a :class:`CommandError` as one line and exits
with status 2; any other exception is a bug (of snnsk or of a library it
calls) and propagates with its traceback. Wrong input is found before any
fit starts: by the command's own checks of its arguments and files, and by
running the estimator's checks of its parameters and data up front
(:func:`user_input`), so that an error raised later is never mistaken for
one of the user's.
"""

from __future__ import annotations

import contextlib

__all__ = ["CommandError", "one_line", "user_input"]


class CommandError(ValueError):
    """A bad argument, parameter value or file given to the ``snnsk`` command.

    A ``ValueError``, so that callers of the command's helpers (and argparse
    ``type`` converters) that catch ``ValueError`` keep working.
    """


def one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line (its type's name if it has none)."""
    return " ".join(str(exc).split()) or type(exc).__name__


@contextlib.contextmanager
def user_input(what: str):
    """Report a ``ValueError`` or ``TypeError`` raised inside as a :class:`CommandError`.

    Only for code that checks what the user gave (an estimator's validation
    of its parameters or of data read from a file), never around a fit or a
    prediction, whose errors are bugs to be seen whole.

    Parameters
    ----------
    what : str
        What was being checked, such as ``'--param'`` or a file name; it
        starts the message.
    """
    try:
        yield
    except CommandError:
        raise
    except (ValueError, TypeError) as exc:
        raise CommandError(f"{what}: {one_line(exc)}") from exc
