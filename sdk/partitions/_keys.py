"""Partition keys of time windows: formatting, parsing, and a fast path for whole days.

A key is the window's start formatted with `fmt` in the definition's time zone. When a
schedule fires every hour, the repeated hour of a fall-back day has two windows with the
same wall-clock start; the second one gets its UTC offset appended (`%z`), as Dagster
does, so keys stay unique and parse back to exactly one window.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable
    from zoneinfo import ZoneInfo

# One strftime directive (with optional glibc flags), or a literal percent sign.
_DIRECTIVE = re.compile(r"%[-_0^#]*[A-Za-z%]")
# Directives whose text depends on the date only.
_DATE_ONLY = frozenset("YmdyCbBhaAjUWVGguwDFxent%")
_SENTINEL = "\x01"
_HOURS = tuple(f"{h:02d}" for h in range(24))


# Dagster's default daily and hourly formats, read without strptime ("d": one digit).
_FAST_LAYOUTS = {"%Y-%m-%d": "dddd-dd-dd", "%Y-%m-%d-%H:%M": "dddd-dd-dd-dd:dd"}


def _directives(fmt: str) -> list[str]:
    return [m.group()[-1] for m in _DIRECTIVE.finditer(fmt)]


def _plain(token: str) -> bool:
    return len(token) == 2 or token == "%%"


class KeyFormat:
    """How the windows of one definition are named: `fmt` in `tz`, unique across DST."""

    def __init__(self, fmt: str, tz: ZoneInfo, repeats_every_hour: bool) -> None:
        self.fmt = fmt
        self.tz = tz
        # Only a schedule that fires in both occurrences of a repeated hour needs a suffix.
        self.suffix_repeated_hour = repeats_every_hour and "%z" not in fmt
        directives = _directives(fmt)
        self.date_only = set(directives) <= _DATE_ONLY
        self._fast_layout = _FAST_LAYOUTS.get(fmt)
        # Whole days of hourly keys are rendered from one template when the only
        # time-of-day directives are a plain %H and %M.
        tokens = [m.group() for m in _DIRECTIVE.finditer(fmt)]
        self._hour_template: str | None = None
        self._tails: tuple[str, tuple[str, ...]] = ("", tuple(_HOURS))
        if set(directives) <= _DATE_ONLY | {"H", "M"} and all(_plain(t) for t in tokens):
            self._hour_template = _DIRECTIVE.sub(
                lambda m: _SENTINEL if m.group() == "%H" else m.group(), fmt
            )

    def format(self, tick: datetime) -> str:
        """The key of the window starting at `tick` (an aware datetime in the zone)."""
        local = tick.astimezone(self.tz)
        key = local.strftime(self.fmt)
        if self.suffix_repeated_hour and local.fold and self.is_repeated(local):
            key += local.strftime("%z")
        return key

    def is_repeated(self, local: datetime) -> bool:
        """True when `local`'s wall-clock time occurs twice (a fall-back change)."""
        first, second = local.replace(fold=0).utcoffset(), local.replace(fold=1).utcoffset()
        return first is not None and second is not None and first > second

    def parse(self, key: str) -> datetime | None:
        """The instant `key` names (a window start if the key is valid), or None.

        A key without an offset is read as the first occurrence of its wall-clock time;
        the suffixed form names the second one.
        """
        parsed_fast = self._parse_fast(key)
        if parsed_fast is not None:
            return parsed_fast
        try:
            parsed = datetime.strptime(key, self.fmt)
        except ValueError:
            pass
        else:  # with %z in fmt the key carries its offset: convert, do not relabel
            return parsed.astimezone(self.tz) if parsed.tzinfo else parsed.replace(tzinfo=self.tz)
        if "%z" in self.fmt:
            return None
        try:
            return datetime.strptime(key, self.fmt + "%z").astimezone(self.tz)
        except ValueError:
            return None

    def _parse_fast(self, key: str) -> datetime | None:
        """`key` in Dagster's default daily or hourly format, read without strptime.

        None unless the key has exactly the default layout (ASCII digits in place); then
        strptime would read the same fields.
        """
        layout = self._fast_layout
        if layout is None or len(key) != len(layout) or not key.isascii():
            return None
        for i, c in enumerate(layout):
            if (c == "d") != key[i].isdigit() or (c != "d" and key[i] != c):
                return None
        try:
            if len(key) == 10:
                return datetime(int(key[:4]), int(key[5:7]), int(key[8:]), tzinfo=self.tz)
            return datetime(
                int(key[:4]),
                int(key[5:7]),
                int(key[8:10]),
                int(key[11:13]),
                int(key[14:]),
                tzinfo=self.tz,
            )
        except ValueError:
            return None

    def hours_of_day(self, first: datetime, count: int) -> Iterable[str]:
        """Keys of `count` hourly ticks from `first`, all on one local date at one offset.

        The caller guarantees that no tick in the run is a repeated hour, so no key needs
        a suffix; this renders one template per day instead of one strftime per key.
        """
        if self._hour_template is None:
            # Wall-clock steps on the aware datetime: the run has one offset, so %z and %Z
            # stay right (a naive datetime would format them as empty strings).
            return [(first + timedelta(hours=i)).strftime(self.fmt) for i in range(count)]
        # time.strftime: the template has no %z, %Z or %f, which only datetime handles.
        parts = time.strftime(self._hour_template, first.timetuple()).split(_SENTINEL)
        if len(parts) != 2:
            return [
                _SENTINEL.join(parts).replace(_SENTINEL, h) for h in _HOURS[first.hour :][:count]
            ]
        prefix, suffix = parts
        tails = self._tails
        if tails[0] != suffix:  # the text after the hour rarely changes from day to day
            tails = self._tails = (suffix, tuple(h + suffix for h in _HOURS))
        return map(prefix.__add__, tails[1][first.hour : first.hour + count])
