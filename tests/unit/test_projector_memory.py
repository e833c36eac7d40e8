"""The projector's malloc settings take on glibc (the platform the benchmarks ran on)."""

from __future__ import annotations

import ctypes.util
import platform
import subprocess
import sys

import pytest

from conflux.projections.projector import limit_malloc_arenas, release_free_memory

glibc = pytest.mark.skipif(
    sys.platform != "linux"
    or platform.libc_ver()[0] != "glibc"
    or not ctypes.util.find_library("c"),
    reason="glibc only",
)


@glibc
def test_arena_cap_takes_in_a_fresh_process() -> None:
    code = (
        "from conflux.projections.projector import limit_malloc_arenas as f; "
        "import sys; sys.exit(0 if f() else 1)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


@glibc
def test_trim_returns_freed_pages() -> None:
    blocks = [bytearray(64 * 1024 - 64) for _ in range(500)]  # below the mmap threshold
    del blocks[:-1]
    assert release_free_memory() is True


def test_both_are_callable_anywhere() -> None:
    assert isinstance(limit_malloc_arenas(8), bool)
    assert isinstance(release_free_memory(), bool)
