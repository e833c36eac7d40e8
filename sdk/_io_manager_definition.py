"""Dagster's `IOManagerDefinition`, as far as a Conflux location needs it.

In Dagster an IO manager is wrapped in a definition before it goes in `resources=`; in
Conflux the IO manager object goes there itself. `IOManagerDefinition.hardcoded_io_manager`
hands the object back, so ported code that wraps its IO manager keeps working.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conflux.sdk._io_manager import IOManager


class IOManagerDefinition:
    """Dagster's IO manager definition; Conflux takes IO manager objects directly.

    Example:
        >>> io = IOManagerDefinition.hardcoded_io_manager(InMemoryIOManager())
        >>> isinstance(io, InMemoryIOManager)
        True
    """

    @staticmethod
    def hardcoded_io_manager(value: IOManager, description: str | None = None) -> IOManager:
        """`value` itself (Dagster wraps it; Conflux uses the IO manager as given)."""
        return value
