"""Resources: configured objects (clients, paths, credentials) injected by parameter name.

Dagster's three forms are accepted: a `ConfigurableResource` (a pydantic model), a
`ConfigurableResourceFactory` (a model that builds the object), and a plain object
(`ResourceParam[T]` on the parameter, or the older `@resource` function). A resource
declared with `configure_at_launch()` takes its config from the run's config.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, PrivateAttr

from conflux.sdk._config import EnvVarModel

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from pydantic import JsonValue

T = TypeVar("T")


class ConfigurableResource(EnvVarModel):
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
    _resource_context: InitResourceContext | None = PrivateAttr(default=None)

    def __class_getitem__(cls, item: object) -> Any:
        """`ConfigurableResource[T]` (Dagster's typed form) is the class itself here."""
        return cls

    def setup_for_execution(self, context: object = None) -> None:
        """Called once in a worker before the first asset that uses this resource runs."""

    def teardown_after_execution(self, context: object = None) -> None:
        """Called once when the worker (or `materialize`) is done with the resource."""

    @contextlib.contextmanager
    def yield_for_execution(self, context: InitResourceContext) -> Iterator[Any]:
        """Set up, give what assets receive (this resource), tear down (Dagster's hook).

        Override it to keep something open for the whole execution (a connection).
        """
        _call_hook(self.setup_for_execution, context)
        try:
            yield self
        finally:
            _call_hook(self.teardown_after_execution, context)

    def with_resource_context(self, context: InitResourceContext) -> Any:
        """A copy that `get_resource_context()` answers with `context`."""
        copy = self.model_copy()
        copy._resource_context = context
        return copy

    @classmethod
    def configure_at_launch(cls, **defaults: object) -> PartialResource:
        """This resource, configured by each run's config (`resources: {key: {config: ...}}`).

        Example:
            >>> Definitions(assets=[...], resources={"db": Database.configure_at_launch()})
            >>> materialize([...], run_config=RunConfig(resources={"db": Database(table="t")}))
        """
        return PartialResource(cls, dict(defaults))

    def get_resource_context(self) -> InitResourceContext:
        """The context the resource was set up with (its config; no instance in Conflux)."""
        if self._resource_context is not None:
            return self._resource_context
        return InitResourceContext(resource_config=self.model_dump())


class ConfigurableResourceFactory(EnvVarModel, Generic[T]):
    """A configured model that builds the object assets receive (Dagster's name).

    Example:
        >>> class GitHubResource(ConfigurableResourceFactory[GitHub]):
        ...     token: str
        ...     def create_resource(self, context: InitResourceContext) -> GitHub:
        ...         return GitHub(self.token)
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    def create_resource(self, context: InitResourceContext) -> T:
        """Build the object (called once per worker, or per `materialize`)."""
        raise NotImplementedError(f"{type(self).__name__} must define create_resource()")


@dataclass(frozen=True)
class PartialResource:
    """A resource class whose config comes from each run (`configure_at_launch()`)."""

    resource_type: type[BaseModel]
    defaults: Mapping[str, object] = field(default_factory=dict)


@dataclass
class InitResourceContext:
    """What a resource function (`@resource`) or factory receives (Dagster's name)."""

    resource_config: Any = None
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("conflux.resource"))
    resources: object = None
    instance: object = None


@dataclass(frozen=True)
class ResourceDefinition:
    """A resource made by a function (Dagster's older `@resource` / `ResourceDefinition`)."""

    resource_fn: Callable[..., object]
    config_schema: object = None
    description: str | None = None
    required_resource_keys: frozenset[str] = frozenset()

    @staticmethod
    def hardcoded_resource(value: object, description: str | None = None) -> ResourceDefinition:
        """A resource that is always `value`."""
        return ResourceDefinition(lambda *_: value, description=description)

    @staticmethod
    def none_resource(description: str | None = None) -> ResourceDefinition:
        """A resource that is always None."""
        return ResourceDefinition(lambda *_: None, description=description)

    @staticmethod
    def mock_resource(description: str | None = None) -> ResourceDefinition:
        """A resource that is a `unittest.mock.MagicMock`."""
        from unittest import mock

        return ResourceDefinition(lambda *_: mock.MagicMock(), description=description)

    def configured(self, config: Mapping[str, JsonValue]) -> ResourceDefinition:
        """This resource with fixed config."""
        fn = self.resource_fn

        def configured_fn(context: InitResourceContext) -> object:
            context.resource_config = dict(config)
            return _call_resource_fn(fn, context)

        return ResourceDefinition(configured_fn, description=self.description)

    def build(self, config: object = None) -> object:
        """The object this definition makes, with `config` as its resource config."""
        return _call_resource_fn(self.resource_fn, InitResourceContext(resource_config=config))


def _call_hook(method: Callable[..., object], context: object) -> None:
    """Call a set-up/tear-down hook with the context if it takes one (Dagster's), else bare."""
    import inspect

    try:
        takes = len(inspect.signature(method).parameters) > 0
    except (TypeError, ValueError):
        takes = False
    if takes:
        method(context)
    else:
        method()


def _call_resource_fn(fn: Callable[..., object], context: InitResourceContext) -> object:
    import inspect

    try:
        takes = len(inspect.signature(fn).parameters) > 0
    except (TypeError, ValueError):
        takes = True
    return fn(context) if takes else fn()


def resource(
    fn: Callable[..., object] | None = None,
    *,
    config_schema: object = None,
    description: str | None = None,
    required_resource_keys: set[str] | None = None,
) -> Any:
    """Declare a resource as a function of its init context (Dagster's older `@resource`).

    Example:
        >>> @resource(config_schema={"url": str})
        ... def db(context: InitResourceContext) -> Connection:
        ...     return connect(context.resource_config["url"])
    """

    def wrap(f: Callable[..., object]) -> ResourceDefinition:
        return ResourceDefinition(
            f,
            config_schema=config_schema,
            description=description,
            required_resource_keys=frozenset(required_resource_keys or ()),
        )

    return wrap(fn) if fn is not None else wrap


class _ResourceMarker:
    __conflux_resource__ = True


ResourceParam = Annotated[T, _ResourceMarker()]
"""`ResourceParam[T]`: a parameter that receives a plain-object resource of type `T`."""

ResourceDependency = Annotated[T, _ResourceMarker()]
"""`ResourceDependency[T]`: a resource field that holds another resource."""
