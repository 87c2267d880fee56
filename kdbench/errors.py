"""The one error type a user sees: a single line naming the problem and what is allowed."""

import functools
import sys
import time
from collections.abc import Callable
from pathlib import Path


class KDBenchError(Exception):
    """A problem with the user's input (params, data, files), reported as one line."""


def report_errors(main: Callable[[], None]) -> Callable[[], None]:
    """Run a stage's main; a KDBenchError becomes one line on stderr and exit status 2.
    A stage that finishes logs its wall time and the process's peak memory."""

    @functools.wraps(main)
    def wrapper() -> None:
        start = time.time()
        try:
            main()
        except KDBenchError as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)
        from kdbench.runtime import peak_memory_gib

        print(f"{Path(sys.argv[0]).stem}: done in {time.time() - start:.1f} s, "
              f"peak memory {peak_memory_gib():.2f} GiB", flush=True)

    return wrapper
