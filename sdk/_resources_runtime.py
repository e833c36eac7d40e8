"""Resources at run time: what an asset receives for each resource key, set up once.

A worker (or `materialize`) keeps one `ResourceSet` per `Definitions`. Each resource key
resolves, on first use, to the object assets receive:

- a `ConfigurableResource`: itself (its `setup_for_execution` called once);
- a `ConfigurableResourceFactory`: what its `create_resource` builds;
- a `ResourceDefinition` (`@resource`): what its function returns;
- an IO manager in any form (`ConfigurableIOManagerFactory`, `@io_manager`, ...): the
  IO manager (a `FilesystemIOManager()` with no folder gets the default's folder);
- `configure_at_launch()`: built from the run's config (`resources: {key: {config}}`),
  once per distinct config;
- anything else: itself.

`close()` tears down what was set up, in reverse order.
"""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any

from conflux.events import DefinitionError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pydantic import JsonValue

    from conflux.sdk._definitions import Definitions


class ResourceSet:
    """The resources of one `Definitions` as assets receive them."""

    def __init__(self, defs: Definitions, *, default_io_manager: object) -> None:
        self.defs = defs
        self.default_io_manager = default_io_manager
        self._built: dict[tuple[str, str], object] = {}
        self._stack = contextlib.ExitStack()

    # -- lookups --------------------------------------------------------------------------

    def get(self, key: str, run_config: Mapping[str, JsonValue] | None = None) -> object:
        """The object assets receive for resource `key`.

        Raises:
            DefinitionError: no resource `key`, or a launch-time resource without config.
        """
        from conflux.sdk._config import resource_config

        if key not in self.defs.resources:
            raise DefinitionError(
                f"no resource {key!r} here: add it to Definitions(resources={{{key!r}: ...}})"
            )
        raw = resource_config(run_config, key)
        cache_key = (key, json.dumps(raw, sort_keys=True, default=str) if raw is not None else "")
        if cache_key not in self._built:
            self._built[cache_key] = self._build(key, self.defs.resources[key], raw)
        return self._built[cache_key]

    def io_manager(self, key: str, run_config: Mapping[str, JsonValue] | None) -> Any:
        """The IO manager stored under resource `key` (the default for `io_manager` if unset)."""
        if key not in self.defs.resources:
            from conflux.sdk._definitions import IO_MANAGER_KEY

            if key == IO_MANAGER_KEY:
                return self.default_io_manager
            raise DefinitionError(
                f"no IO manager {key!r} here: add it to Definitions(resources={{{key!r}: ...}})"
            )
        return self.get(key, run_config)

    def namespace(self, run_config: Mapping[str, JsonValue] | None) -> _Namespace:
        """`context.resources`: every resource by attribute, built on first access."""
        return _Namespace(self, run_config)

    def close(self) -> None:
        """Tear down every resource that was set up, last first."""
        self._stack.close()

    # -- building -------------------------------------------------------------------------

    def _build(self, key: str, value: object, raw: JsonValue) -> object:
        from conflux.sdk._config import build_config, resolve_env
        from conflux.sdk._io_manager import (
            ConfigurableIOManagerFactory,
            FilesystemIOManager,
            IOManagerDefinition,
            resolve_io_manager,
        )
        from conflux.sdk._resources import (
            ConfigurableResource,
            ConfigurableResourceFactory,
            InitResourceContext,
            PartialResource,
            ResourceDefinition,
        )

        where = f"resource {key!r}"
        if isinstance(value, PartialResource):
            if raw is None and not value.defaults:
                raise DefinitionError(
                    f"{where} is configured at launch, but the run gives no config for it: pass "
                    f"run_config=RunConfig(resources={{{key!r}: ...}})",
                )
            merged = {**value.defaults, **(raw if isinstance(raw, dict) else {})}
            value = build_config(value.resource_type, merged, where)  # type: ignore[arg-type]
        if isinstance(value, ConfigurableResource | ConfigurableResourceFactory):
            unset = value.unset_env_vars()
            if unset:
                raise DefinitionError(
                    f"{where} reads environment variable(s) {', '.join(unset)}, which are not "
                    "set where the asset runs: set them in the worker's environment"
                )
        storage = getattr(self.default_io_manager, "base_dir", None)
        if isinstance(value, ConfigurableIOManagerFactory | IOManagerDefinition):
            return resolve_io_manager(value, storage_dir=storage)
        if isinstance(value, FilesystemIOManager):
            return resolve_io_manager(value, storage_dir=storage)
        if isinstance(value, ConfigurableResourceFactory):
            return value.create_resource(InitResourceContext(resource_config=value.model_dump()))
        if isinstance(value, ResourceDefinition):
            config = resolve_env(raw, where) if raw is not None else None
            return value.build(config)
        if isinstance(value, ConfigurableResource):
            context = InitResourceContext(value.model_dump())
            return self._stack.enter_context(value.yield_for_execution(context))
        return value


class _Namespace:
    """Resources by attribute (`context.resources.warehouse`)."""

    def __init__(self, owner: ResourceSet, run_config: Mapping[str, JsonValue] | None) -> None:
        self._owner = owner
        self._run_config = run_config

    def __getattr__(self, name: str) -> object:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._owner.defs.resources:
            raise AttributeError(
                f"no resource {name!r}: add it to Definitions(resources={{{name!r}: ...}})"
            )
        return self._owner.get(name, self._run_config)

    def __contains__(self, name: str) -> bool:
        return name in self._owner.defs.resources
