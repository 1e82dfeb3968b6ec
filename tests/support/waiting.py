"""Waiting on a condition with a deadline instead of sleeping a fixed time."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable, TypeVar

T = TypeVar("T")


def wait_until(condition: Callable[[], T], timeout: float = 30, interval: float = 0.02,
               what: str = "the condition") -> T:
    """Poll `condition` until it returns something truthy and return that; fail the test
    naming `what` if the deadline passes first."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def file_is_locked(path: Path) -> bool:
    """Whether some process holds a flock/POSIX lock on path (read from /proc/locks, so
    looking never takes the lock)."""
    try:
        inode = os.stat(path).st_ino
        table = Path("/proc/locks").read_text()
    except OSError:
        return False
    return any(field.rsplit(":", 1)[-1] == str(inode)
               for line in table.splitlines() for field in line.split()[5:6])
