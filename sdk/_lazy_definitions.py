"""`@definitions`: a function that builds a location's `Definitions` (Dagster's name).

The function runs when the location loads (a worker's `load_definitions_from_file`, or a
call), not at import, so it may read configuration or build many assets.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from conflux.events import DefinitionError

if TYPE_CHECKING:
    from collections.abc import Callable

    from conflux.sdk._definitions import Definitions


class LazyDefinitions:
    """A function that returns `Definitions`, marked for the loader (made by `@definitions`)."""

    def __init__(self, load_fn: Callable[..., Definitions]) -> None:
        self.load_fn = load_fn
        functools.update_wrapper(self, load_fn)

    def __call__(self, *args: object, **kwargs: object) -> Definitions:
        """Build the definitions (each call calls the function)."""
        from conflux.sdk._definitions import Definitions

        built = self.load_fn(*args, **kwargs)
        if not isinstance(built, Definitions):
            raise DefinitionError(
                f"@definitions function {getattr(self.load_fn, '__name__', '?')} returned "
                f"{type(built).__name__}: return Definitions(...)"
            )
        return built


def definitions(fn: Callable[..., Definitions]) -> LazyDefinitions:
    """Mark a function that builds the location's `Definitions` (Dagster's `@definitions`).

    Example:
        >>> @definitions
        ... def defs() -> Definitions:
        ...     return Definitions(assets=[orders], sensors=[orders_sensor])
    """
    return LazyDefinitions(fn)
