"""Wall-clock time in Unix milliseconds, the unit of every timestamp in the API."""

import time


def now_ms() -> int:
    return int(time.time() * 1000)
