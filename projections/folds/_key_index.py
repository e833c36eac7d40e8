"""Partition keys -> dense row numbers, without one Python object per key.

A dict of a million partition keys costs about 125 bytes a key (the str, the row int
and the dict slot); the asset-state projection's budget is 200 bytes for everything it
knows about a partition (issue 5). `KeyIndex` keeps the keys' UTF-8 bytes back to back
in one `bytearray` and finds them through an open-addressing table of row numbers
(`array('I')`, linear probing, load 1/6..2/3), 35 to 50 bytes a key.

What callers may rely on: rows are 0, 1, 2, ... in the order keys were first added and
never change or go away (there is no removal), so parallel columns can be indexed by
row; `None` (an unpartitioned asset) is a key like any other. Slots come from CRC-32 of
the key's bytes, which, unlike `hash()`, is the same in every process: a pickled index
loads as a few arrays, with nothing to rehash.
"""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING
from zlib import crc32

if TYPE_CHECKING:
    from collections.abc import Iterator

_MIN_SLOTS = 8


def encode_key(key: str) -> bytes:
    """The bytes a key is stored and hashed as: UTF-8, lone surrogates passed through.

    A key decoded from JSON may hold a lone surrogate; it must survive the round trip.
    """
    try:
        return key.encode()
    except UnicodeEncodeError:
        return key.encode("utf-8", "surrogatepass")


def decode_key(data: bytes | bytearray) -> str:
    """The key `encode_key` made `data` from."""
    try:
        return data.decode()
    except UnicodeDecodeError:
        return data.decode("utf-8", "surrogatepass")


class KeyIndex:
    """An append-only map of partition keys (str or None) to rows 0..n-1."""

    __slots__ = ("_blob", "_hashes", "_none", "_slots", "_starts")

    def __init__(self) -> None:
        self._blob = bytearray()
        """Every key's bytes, in row order."""
        self._starts = array("Q", [0])
        """Row r's key is `_blob[_starts[r]:_starts[r + 1]]` (one more entry than rows)."""
        self._hashes = array("I")
        """CRC-32 of row r's key: cheap probe rejection and rehashing."""
        self._slots = array("I", bytes(4 * _MIN_SLOTS))
        """Open addressing: 0 is empty, else row + 1; the length is a power of two."""
        self._none = -1
        """The row of the key None, or -1."""

    def __len__(self) -> int:
        return len(self._hashes)

    def find(self, key: str | None) -> int:
        """The row of `key`, or -1 if it was never added."""
        if key is None:
            return self._none
        try:
            data = key.encode()
        except UnicodeEncodeError:
            data = encode_key(key)
        h = crc32(data)
        slots, hashes, starts, blob = self._slots, self._hashes, self._starts, self._blob
        mask = len(slots) - 1
        i = h & mask
        size = len(data)
        while True:
            r = slots[i] - 1
            if r < 0:
                return -1
            if hashes[r] == h:
                start = starts[r]
                if starts[r + 1] - start == size and blob.startswith(data, start):
                    return r
            i = (i + 1) & mask

    def add(self, key: str | None) -> int:
        """The row of `key`, adding it as the next row if it is new.

        Callers keep columns with one entry per row: a row equal to their columns'
        length is new, and theirs to append.
        """
        if key is None:
            if self._none < 0:
                self._none = self._append(b"", 0)
            return self._none
        try:
            data = key.encode()
        except UnicodeEncodeError:
            data = encode_key(key)
        h = crc32(data)
        slots = self._slots
        mask = len(slots) - 1
        i = h & mask
        r = slots[i]
        if r:  # taken: probe on (a new key mostly finds its first slot free)
            hashes, starts, blob, size = self._hashes, self._starts, self._blob, len(data)
            while r:
                r -= 1
                if hashes[r] == h:
                    start = starts[r]
                    if starts[r + 1] - start == size and blob.startswith(data, start):
                        return r
                i = (i + 1) & mask
                r = slots[i]
        hashes = self._hashes
        row = len(hashes)
        hashes.append(h)
        blob = self._blob
        blob += data
        self._starts.append(len(blob))
        slots[i] = row + 1
        if 3 * row >= 2 * mask:
            self._grow()
        return row

    def key(self, row: int) -> str | None:
        """The key of `row` (IndexError if there is no such row)."""
        if row == self._none:
            return None
        return decode_key(self._blob[self._starts[row] : self._starts[row + 1]])

    def __iter__(self) -> Iterator[str | None]:
        """Every key, in row order."""
        blob, starts, none = self._blob, self._starts, self._none
        for row in range(len(self._hashes)):
            if row == none:
                yield None
            else:
                yield decode_key(blob[starts[row] : starts[row + 1]])

    def nbytes(self) -> int:
        """Bytes held by the index's buffers (for benchmarks and tests)."""
        arrays = (self._starts, self._hashes, self._slots)
        return len(self._blob) + sum(a.itemsize * len(a) for a in arrays)

    def _append(self, data: bytes, h: int) -> int:
        self._blob += data
        self._starts.append(len(self._blob))
        self._hashes.append(h)
        return len(self._hashes) - 1

    def _grow(self) -> None:
        # Four times larger: rehashing is a Python loop over every row, so growing less
        # often halves its share of the fold (~0.4 us a key at 2x); load stays 1/6..2/3.
        slots = array("I", bytes(16 * len(self._slots)))
        mask = len(slots) - 1
        none = self._none + 1
        for row, h in enumerate(self._hashes, 1):  # slots hold row + 1
            if row != none:
                i = h & mask
                while slots[i]:
                    i = (i + 1) & mask
                slots[i] = row
        self._slots = slots

    def __getstate__(self) -> tuple[bytearray, array[int], array[int], array[int], int]:
        return (self._blob, self._starts, self._hashes, self._slots, self._none)

    def __setstate__(
        self, state: tuple[bytearray, array[int], array[int], array[int], int]
    ) -> None:
        self._blob, self._starts, self._hashes, self._slots, self._none = state
