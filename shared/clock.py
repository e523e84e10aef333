"""The time, in one place, so tests can hold the clock still (TOTP steps, recent authentication)."""

from __future__ import annotations

import time


def now() -> float:
    """Seconds since the epoch."""
    return time.time()
