"""Run config: `Config` (an asset's `config` parameter), `RunConfig`, `EnvVar`.

A run carries its config as JSON in `MaterializationRequested.run_config`, in Dagster's
shape: `{"ops": {<node>: {"config": {...}}}, "resources": {<key>: {"config": {...}}}}`.
The coordinator copies it onto each work item without reading it (it imports no user
code); the worker builds each asset's `Config` from its part, so a bad value fails that
asset with the reason. In process, `materialize(run_config=...)` checks every selected
asset's config before anything runs, as Dagster does.

An `EnvVar` field is read from the environment when the model is built, and travels in a
run config as `{"env": NAME}` (never its value), resolved where the config is used.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationError, model_validator

from conflux.events import DefinitionError

if TYPE_CHECKING:
    from pydantic import JsonValue
    from pydantic.main import ModelWrapValidatorHandler


class InvalidConfigError(DefinitionError):
    """A run's config does not fit what an asset (or resource) declares.

    Dagster raises `DagsterInvalidConfigError` in the same cases.
    """


class EnvVar(str):
    """The name of an environment variable whose value configures a field (Dagster's `EnvVar`).

    Example:
        >>> Warehouse(password=EnvVar("WAREHOUSE_PASSWORD"))
    """

    __slots__ = ()

    @property
    def env_var_name(self) -> str:
        """The variable's name."""
        return str.__str__(self)

    def get_value(self, default: str | None = None) -> str | None:
        """The variable's value now (or `default` when it is not set)."""
        return os.environ.get(self.env_var_name, default)

    @classmethod
    def int(cls, name: str) -> IntEnvVar:
        """An environment variable read as an integer."""
        return IntEnvVar(name)

    def __repr__(self) -> str:
        return f"EnvVar({self.env_var_name!r})"


class IntEnvVar(EnvVar):
    """An `EnvVar` whose value is an integer."""

    __slots__ = ()


class EnvVarModel(BaseModel):
    """Base of `Config` and `ConfigurableResource`: fields given as `EnvVar` are read then.

    An unset variable leaves the field empty and is named by `unset_env_vars()`, which
    the executor checks before it uses the model (Dagster fails there too, not at import).
    """

    _env_vars: dict[str, str] = PrivateAttr(default_factory=dict)
    """Field -> the environment variable it was read from."""

    @model_validator(mode="wrap")
    @classmethod
    def _read_env_vars(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        names: dict[str, str] = {}
        if isinstance(data, Mapping):
            data = dict(data)
            for name, value in list(data.items()):
                if isinstance(value, EnvVar):
                    names[str(name)] = value.env_var_name
                    raw = value.get_value()
                    if isinstance(value, IntEnvVar):
                        data[name] = int(raw) if raw not in (None, "") else 0
                    else:
                        data[name] = raw if raw is not None else ""
        model = handler(data)
        if names and isinstance(model, EnvVarModel):
            model._env_vars.update(names)
        return model

    def unset_env_vars(self) -> list[str]:
        """The environment variables named by fields that are not set now."""
        return sorted(n for n in self._env_vars.values() if n not in os.environ)


class Config(EnvVarModel):
    """The config an asset (or op) takes, declared as a pydantic model (Dagster's `Config`).

    An asset receives it through a parameter named `config` (typed with the class); the
    values come from the run's config (`materialize(run_config=...)`, `RunRequest(run_config
    =...)`, `define_asset_job(config=...)`, `conflux materialize --config-json`), and fields
    with defaults may be left out. Unknown fields are refused, as in Dagster.

    Example:
        >>> class ForecastConfig(Config):
        ...     lookback_days: int = 30
        ...
        >>> @asset
        ... def forecast(config: ForecastConfig) -> int:
        ...     return config.lookback_days
        ...
        >>> config = RunConfig({"forecast": ForecastConfig(lookback_days=7)})
        >>> materialize([forecast], run_config=config)
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class PermissiveConfig(Config):
    """A `Config` that also keeps fields it does not declare (Dagster's `PermissiveConfig`)."""

    model_config = ConfigDict(frozen=True, extra="allow", arbitrary_types_allowed=True)


def config_to_json(value: object) -> JsonValue:
    """A `Config` (or resource, or plain data) as run-config JSON.

    `EnvVar` fields become `{"env": NAME}`: the value never travels in an event.

    Raises:
        InvalidConfigError: a value is not JSON-able data.
    """
    if isinstance(value, EnvVar):
        return {"env": value.env_var_name}
    if isinstance(value, BaseModel):
        env = value._env_vars if isinstance(value, EnvVarModel) else {}
        out: dict[str, JsonValue] = {}
        for name in type(value).model_fields:
            if name in env:
                out[name] = {"env": env[name]}
            else:
                out[name] = config_to_json(getattr(value, name))
        for name, extra in (value.model_extra or {}).items():
            out[name] = config_to_json(extra)
        return out
    if isinstance(value, Mapping):
        return {str(k): config_to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [config_to_json(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    from enum import Enum

    if isinstance(value, Enum):
        return config_to_json(value.value)
    raise InvalidConfigError(
        f"run config value {value!r} ({type(value).__name__}) is not JSON data: use strings, "
        "numbers, booleans, lists, dicts and Config models"
    )


class RunConfig:
    """The config of one run: per-asset `Config` and resource config (Dagster's `RunConfig`).

    Args:
        ops: asset (node) name -> its `Config` (or the config as a dict).
        resources: resource key -> a configured resource (or its config as a dict), for
            resources declared with `configure_at_launch()`.

    Example:
        >>> RunConfig({"greeting": GreetingConfig(person_name="Alice")})
    """

    def __init__(
        self,
        ops: Mapping[str, object] | None = None,
        resources: Mapping[str, object] | None = None,
        loggers: Mapping[str, object] | None = None,
        execution: Mapping[str, object] | None = None,
    ) -> None:
        self.ops = dict(ops or {})
        self.resources = dict(resources or {})
        self.loggers = dict(loggers or {})
        self.execution = dict(execution or {})

    def to_config_dict(self) -> dict[str, JsonValue]:
        """The run config as a dict in Dagster's shape (what travels in the request)."""
        out: dict[str, JsonValue] = {}
        if self.ops:
            out["ops"] = {name: _wrap(value) for name, value in self.ops.items()}
        if self.resources:
            out["resources"] = {name: _wrap(value) for name, value in self.resources.items()}
        if self.loggers:
            out["loggers"] = config_to_json(self.loggers)
        if self.execution:
            out["execution"] = config_to_json(self.execution)
        return out

    def __repr__(self) -> str:
        return f"RunConfig(ops={self.ops!r}, resources={self.resources!r})"


def _wrap(value: object) -> JsonValue:
    """An op's or resource's entry: `{"config": ...}` (a dict given as is stays as is)."""
    if isinstance(value, BaseModel):
        return {"config": config_to_json(value)}
    if isinstance(value, Mapping):
        return config_to_json(value)
    return {"config": config_to_json(value)}


def coerce_run_config(run_config: object) -> dict[str, JsonValue] | None:
    """A run config as JSON data (from a `RunConfig`, a dict, or None).

    Raises:
        InvalidConfigError: it is neither, or holds values that are not JSON data.
    """
    if run_config is None:
        return None
    raw: JsonValue
    if isinstance(run_config, RunConfig):
        raw = run_config.to_config_dict()
    elif isinstance(run_config, Mapping):
        raw = config_to_json(run_config)
    else:
        raise InvalidConfigError(
            f"run_config={run_config!r}: pass a RunConfig or a dict like "
            "{'ops': {'my_asset': {'config': {...}}}}"
        )
    assert isinstance(raw, dict)
    return raw or None


def node_config(run_config: Mapping[str, JsonValue] | None, *names: str) -> JsonValue:
    """The `config` entry of the first of `names` under `ops` (None when absent)."""
    if not run_config:
        return None
    ops = run_config.get("ops")
    if not isinstance(ops, Mapping):
        return None
    for name in names:
        entry = ops.get(name)
        if isinstance(entry, Mapping):
            return entry.get("config")
    return None


def resource_config(run_config: Mapping[str, JsonValue] | None, key: str) -> JsonValue:
    """The `config` entry of resource `key` (None when absent)."""
    if not run_config:
        return None
    resources = run_config.get("resources")
    if not isinstance(resources, Mapping):
        return None
    entry = resources.get(key)
    return entry.get("config") if isinstance(entry, Mapping) else None


def resolve_env(value: JsonValue, where: str) -> JsonValue:
    """`value` with every `{"env": NAME}` replaced by the variable's value.

    Raises:
        InvalidConfigError: a named variable is not set.
    """
    if isinstance(value, dict):
        if len(value) == 1 and isinstance(value.get("env"), str):
            name = value["env"]
            assert isinstance(name, str)
            if name not in os.environ:
                raise InvalidConfigError(
                    f"{where}: environment variable {name} is not set: set it where the asset "
                    "runs (the worker's environment)"
                )
            return os.environ[name]
        return {k: resolve_env(v, where) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_env(v, where) for v in value]
    return value


def build_config(config_type: type[BaseModel], raw: JsonValue, where: str) -> BaseModel:
    """An instance of `config_type` from run-config JSON (None: its defaults).

    Raises:
        InvalidConfigError: the values do not fit (missing, unknown or wrong fields).
    """
    data = resolve_env(raw, where) if raw is not None else {}
    if not isinstance(data, dict):
        raise InvalidConfigError(
            f"{where}: config must be an object of fields, got {type(data).__name__}"
        )
    try:
        return config_type.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
            for err in exc.errors()[:5]
        )
        hint = (
            " (no config was given: pass run_config, e.g. "
            f"RunConfig({{...: {config_type.__name__}(...)}}))"
            if raw is None
            else ""
        )
        raise InvalidConfigError(
            f"{where}: config does not fit {config_type.__name__}: {problems}{hint}"
        ) from None


_NO_DEFAULT: Any = object()


class Field:
    """A field of Dagster's older config schema.

    Example:
        >>> @asset(config_schema={"n": Field(int, default_value=1)})
        ... def counted(context: AssetExecutionContext) -> int:
        ...     return context.op_config["n"]
    """

    def __init__(
        self,
        config: object = Any,
        default_value: object = _NO_DEFAULT,
        is_required: bool | None = None,
        description: str | None = None,
    ) -> None:
        self.config = config
        self.default_value = default_value
        self.is_required = is_required if is_required is not None else default_value is _NO_DEFAULT
        self.description = description


class Noneable:
    """Dagster's older config type "this, or None"."""

    def __init__(self, inner: object) -> None:
        self.inner = inner


class Array:
    """Dagster's older config type "a list of this"."""

    def __init__(self, inner: object) -> None:
        self.inner = inner


class Shape:
    """Dagster's older config type "an object with these fields"."""

    def __init__(self, fields: Mapping[str, object], description: str | None = None) -> None:
        self.fields = dict(fields)


class Permissive(Shape):
    """Dagster's older config type "an object with these fields, and any others"."""

    def __init__(self, fields: Mapping[str, object] | None = None) -> None:
        super().__init__(fields or {})


def _python_type(config: object, name: str) -> Any:
    """The Python type of one older config type."""
    if isinstance(config, Noneable):
        return _python_type(config.inner, name) | None
    if isinstance(config, Array):
        return list[_python_type(config.inner, name)]  # type: ignore[misc]
    if isinstance(config, Shape | Mapping):
        return schema_model(name, config)
    if isinstance(config, list) and len(config) == 1:
        return list[_python_type(config[0], name)]  # type: ignore[misc]
    return config if isinstance(config, type) else Any


def schema_model(name: str, schema: object) -> type[BaseModel]:
    """A model for Dagster's older `config_schema=` (field -> type, `Field`, `Shape`, ...).

    Types Conflux does not read accept anything.
    """
    from pydantic import create_model

    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return schema
    base: type[Config] = PermissiveConfig if isinstance(schema, Permissive) else Config
    fields: dict[str, Any] = {}
    items = schema.fields if isinstance(schema, Shape) else schema
    if isinstance(items, Mapping):
        for key, spec in items.items():
            if isinstance(spec, Field):
                default = (
                    ...
                    if spec.is_required
                    else (None if spec.default_value is _NO_DEFAULT else spec.default_value)
                )
                fields[str(key)] = (_python_type(spec.config, f"{name}_{key}"), default)
            else:
                fields[str(key)] = (_python_type(spec, f"{name}_{key}"), ...)
        return create_model(f"{name}_config", __base__=base, **fields)
    return create_model(f"{name}_config", __base__=PermissiveConfig)


def config_from_yaml_strings(yaml_strings: Sequence[str]) -> dict[str, Any]:
    """One run config from YAML documents, later ones merged over earlier (Dagster's helper).

    Raises:
        InvalidConfigError: a document is not YAML of a mapping.
    """
    import importlib

    yaml: Any = importlib.import_module("yaml")  # pyyaml is a dependency; its stubs may not be
    merged: dict[str, Any] = {}
    for text in yaml_strings:
        try:
            value = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise InvalidConfigError(f"run config YAML does not parse: {exc}") from None
        if not isinstance(value, Mapping):
            raise InvalidConfigError("a run config YAML document must be a mapping")
        merged = _deep_merge(merged, dict(value))
    return merged


def config_from_files(config_files: Sequence[str]) -> dict[str, Any]:
    """One run config from YAML files, later ones merged over earlier (Dagster's helper)."""
    from pathlib import Path

    return config_from_yaml_strings([Path(f).read_text(encoding="utf-8") for f in config_files])


def _deep_merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(dict(out[key]), value)
        else:
            out[key] = value
    return out
