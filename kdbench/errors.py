"""The one error type a user sees: a single line naming the problem and what is allowed."""

import functools
import sys
from collections.abc import Callable


class KDBenchError(Exception):
    """A problem with the user's input (params, data, files), reported as one line."""


def report_errors(main: Callable[[], None]) -> Callable[[], None]:
    """Run a stage's main; a KDBenchError becomes one line on stderr and exit status 2."""

    @functools.wraps(main)
    def wrapper() -> None:
        try:
            main()
        except KDBenchError as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)

    return wrapper
