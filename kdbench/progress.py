"""The one progress bar: a tqdm line with rate and time left, on stderr, refreshed at most every
few seconds so that DVC's captured logs stay short. Disabled where `show` is false."""

import sys

from tqdm import tqdm


def progress(total: int, what: str, unit: str = "ex", show: bool = True) -> tqdm:
    """Call .update(n) as work is done and .close() at the end (or use it as a context)."""
    return tqdm(total=total, desc=f"  {what}", unit=unit, file=sys.stderr, mininterval=5.0,
                disable=not show, ascii=True, dynamic_ncols=False, ncols=90)
