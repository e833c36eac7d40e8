"""Resources: configured objects (clients, paths, credentials) injected by parameter name."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ConfigurableResource(BaseModel):
    """A resource whose configuration is a pydantic model (Dagster's `ConfigurableResource`).

    Declare fields for its configuration; pass an instance in `Definitions(resources=...)`;
    an asset receives it by naming a parameter after its resource key.

    Example:
        >>> class Warehouse(ConfigurableResource):
        ...     url: str
        ...
        >>> @asset
        ... def orders(warehouse: Warehouse) -> list[str]:
        ...     return fetch(warehouse.url)
        ...
        >>> defs = Definitions(assets=[orders], resources={"warehouse": Warehouse(url="...")})
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    def setup_for_execution(self) -> None:
        """Called once in a worker before the first asset that uses this resource runs."""

    def teardown_after_execution(self) -> None:
        """Called once when the worker (or `materialize`) is done with the resource."""
