"""How a decorated function's parameters are read: context, config, resources, inputs.

Shared by `@asset`, `@multi_asset`, `@op` and `@graph_asset`, so each sorts its
parameters the same way, as Dagster does:

- `context` (or a parameter typed `AssetExecutionContext` / `OpExecutionContext`): the
  execution context;
- `config` (or a parameter typed with a `Config` subclass): the run's config for it;
- a parameter typed with a `ConfigurableResource` subclass, or `ResourceParam[...]`: the
  resource of that name;
- anything else: an upstream value (an asset for an asset, an op's output for an op).
"""

from __future__ import annotations

import inspect
import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING

from conflux.events import DefinitionError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from pydantic import BaseModel

CONTEXT_NAMES = frozenset({"context"})
CONTEXT_TYPES = frozenset({"AssetExecutionContext", "OpExecutionContext"})


@dataclass(frozen=True)
class Params:
    """A function's parameters, sorted."""

    context: str | None
    config: str | None
    config_type: type[BaseModel] | None
    resources: tuple[str, ...]
    inputs: tuple[str, ...]
    """The remaining parameters, in order."""
    annotations: Mapping[str, object]


def _type_name(annotation: object) -> str:
    name = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    return name.rsplit(".", 1)[-1] if isinstance(name, str) else ""


def is_context_annotation(annotation: object) -> bool:
    """True for `AssetExecutionContext` / `OpExecutionContext` (or their names)."""
    return _type_name(annotation) in CONTEXT_TYPES


def _is_resource_param(annotation: object) -> bool:
    from conflux.sdk._resources import ConfigurableResource, ConfigurableResourceFactory

    if typing.get_origin(annotation) is typing.Annotated:
        metadata = getattr(annotation, "__metadata__", ())
        return any(getattr(m, "__conflux_resource__", False) for m in metadata)
    return isinstance(annotation, type) and issubclass(
        annotation, ConfigurableResource | ConfigurableResourceFactory
    )


def _config_type(annotation: object) -> type[BaseModel] | None:
    from conflux.sdk._config import Config

    if isinstance(annotation, type) and issubclass(annotation, Config):
        return annotation
    return None


def _signature(fn: Callable[..., object]) -> inspect.Signature:
    """`fn`'s signature with its annotations evaluated where possible.

    Under `from __future__ import annotations` an annotation is a string; a class defined
    in the function that declares the asset (a test, a factory) is found in the locals of
    the frames that are declaring it, as pydantic finds forward references.
    """
    try:
        return inspect.signature(fn, eval_str=True)
    except (NameError, TypeError, SyntaxError):
        pass
    import sys

    local_names: dict[str, object] = {}
    frame = sys._getframe(1)
    for _ in range(8):
        frame = frame.f_back  # type: ignore[assignment]
        if frame is None:
            break
        for name, value in frame.f_locals.items():
            local_names.setdefault(name, value)
    try:
        return inspect.signature(fn, eval_str=True, locals=local_names)
    except (NameError, TypeError, SyntaxError):  # annotations naming what is not importable
        return inspect.signature(fn)


def inspect_params(fn: Callable[..., object], what: str) -> Params:
    """Sort `fn`'s parameters (see the module docstring).

    Raises:
        DefinitionError: `*args` / `**kwargs`, or a `config` parameter with no `Config` type.
    """
    signature = _signature(fn)
    context: str | None = None
    config: str | None = None
    config_type: type[BaseModel] | None = None
    resources: list[str] = []
    inputs: list[str] = []
    annotations: dict[str, object] = {}
    for name, param in signature.parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise DefinitionError(
                f"{what}: *args/**kwargs are not supported; name each parameter",
                asset_key=getattr(fn, "__name__", None),
            )
        annotation = param.annotation
        annotations[name] = annotation
        found_config = _config_type(annotation)
        if context is None and (name in CONTEXT_NAMES or is_context_annotation(annotation)):
            context = name
        elif found_config is not None or name == "config":
            if found_config is None:
                from conflux.sdk._config import PermissiveConfig

                found_config = PermissiveConfig  # untyped `config`: whatever the run gives
            config, config_type = name, found_config
        elif _is_resource_param(annotation):
            resources.append(name)
        else:
            inputs.append(name)
    return Params(
        context=context,
        config=config,
        config_type=config_type,
        resources=tuple(resources),
        inputs=tuple(inputs),
        annotations=annotations,
    )
