"""The projector's process memory: glibc's malloc arenas, and giving freed pages back.

The projector is a long-lived process with many threads (the consume loop, the archive
writer, the query API's threads, librdkafka's and the embedded ClickHouse's). glibc gives
each thread that allocates an arena of its own, up to 8 per core, and keeps the pages a
burst of allocation freed for reuse instead of returning them: measured live, RSS grew
about twice as fast as the state it holds (see docs/benchmarks.md, "read side"). Both are
glibc's defaults for short-lived, allocation-heavy programs; a projector runs for months.

Only glibc is tuned (`mallopt` and `malloc_trim` are its own); on another C library (musl,
macOS) the functions here do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
from functools import cache

_log = logging.getLogger("conflux.projector")

M_ARENA_MAX = -8
"""glibc's `mallopt` parameter for the most arenas (malloc.h)."""
ARENA_MAX = 2
"""Arenas for the whole process: the consume loop and the archive writer allocate the most;
every other thread shares them (their allocations are few, and contention is negligible
next to the GIL)."""


@cache
def _libc() -> ctypes.CDLL | None:
    """glibc, or None on another C library (nothing is tuned then)."""
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version  # noqa: B018 - only glibc has it
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):
        return None
    return libc


def limit_malloc_arenas(arenas: int = ARENA_MAX) -> bool:
    """Cap glibc's malloc arenas for this process; True when it took.

    Call it before the process starts threads: a thread that has allocated keeps the arena
    it got (the cap applies to arenas created after the call). Same effect as
    `MALLOC_ARENA_MAX` in the environment, which a process cannot set for itself.
    """
    libc = _libc()
    if libc is None:
        return False
    return bool(libc.mallopt(M_ARENA_MAX, arenas))


def release_free_memory() -> bool:
    """Give the pages malloc holds free back to the system (`malloc_trim(0)`).

    Takes a few milliseconds with a few hundred MB of heap; True when pages were returned.
    """
    libc = _libc()
    if libc is None:
        return False
    return bool(libc.malloc_trim(0))
