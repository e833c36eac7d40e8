"""Dynamic partitions: keys added and removed at run time by events, not written in code.

`DynamicPartitionsDefinition(name="customers")` declares only a name. Its keys are a
fold of the `DynamicPartitionsAdded` / `DynamicPartitionsDeleted` events on the
definitions topic (`conflux partitions add customers acme`), kept by the definitions
projection, which hands the coordinator and the readers a definition *bound* to the
current keys. The definition a user writes is unbound: it knows its name, not its keys.
"""

from __future__ import annotations

import difflib
import shlex
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, ConfigDict

from conflux.events import (
    DefinitionError,
    DynamicPartitionsAdded,
    DynamicPartitionsDeleted,
    DynamicPartitionsSnapshot,
    InvalidPartitionKeyError,
    check_dynamic_partition_key,
    check_dynamic_partitions_name,
    dynamic_partition_key_problem,
)
from conflux.sdk.partitions._base import PartitionsDefinition
from conflux.sdk.partitions._range import PartitionKeyRange

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from datetime import datetime


class DynamicPartitionsStore(Protocol):
    """Anything that knows the current keys of dynamic partitions (Dagster's protocol).

    `DefinitionsProjection` is one: pass it as `dynamic_partitions_store=` to ask an
    unbound definition about its keys.
    """

    def get_dynamic_partitions(self, partitions_def_name: str) -> Sequence[str]:
        """The current keys of `partitions_def_name`, in order of addition."""
        ...

    def has_dynamic_partition(self, partitions_def_name: str, partition_key: str) -> bool:
        """True when `partition_key` is a current key of `partitions_def_name`."""
        ...


class _DynamicRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    partitions_def_name: str
    """The `DynamicPartitionsDefinition`'s name."""
    partition_keys: tuple[str, ...]
    """The keys, valid dynamic keys, in the order given (duplicates dropped)."""


class AddDynamicPartitionsRequest(_DynamicRequest):
    """A request to add keys to a dynamic partitions definition (Dagster's name).

    Built by `DynamicPartitionsDefinition.build_add_request`; its keys are already
    checked. `to_event()` is the event that carries it out once produced.
    """

    def to_event(self, *, producer: str = "", requested_by: str = "") -> DynamicPartitionsAdded:
        """The `DynamicPartitionsAdded` event for this request."""
        return DynamicPartitionsAdded(
            partitions_def_name=self.partitions_def_name,
            partition_keys=self.partition_keys,
            producer=producer,
            requested_by=requested_by,
        )


class DeleteDynamicPartitionsRequest(_DynamicRequest):
    """A request to remove keys from a dynamic partitions definition (Dagster's name).

    Removing a key keeps its history (materializations stay in the log and the archive);
    status views stop listing it.
    """

    def to_event(self, *, producer: str = "", requested_by: str = "") -> DynamicPartitionsDeleted:
        """The `DynamicPartitionsDeleted` event for this request."""
        return DynamicPartitionsDeleted(
            partitions_def_name=self.partitions_def_name,
            partition_keys=self.partition_keys,
            producer=producer,
            requested_by=requested_by,
        )


def _checked_keys(partition_keys: Sequence[str] | str, *, new: bool) -> tuple[str, ...]:
    if isinstance(partition_keys, str):
        raise InvalidPartitionKeyError(
            f"partition_keys is the string {partition_keys!r}, not a list of keys: "
            f"pass [{partition_keys!r}]"
        )
    keys = tuple(dict.fromkeys(partition_keys))
    if not keys:
        raise InvalidPartitionKeyError("no partition key given: pass at least one key")
    for key in keys:
        check_dynamic_partition_key(key, new=new)
    return keys


def add_command(name: str, key: str) -> str:
    """The shell command that adds `key` to dynamic partitions `name` (for error messages)."""
    return f"conflux partitions add {shlex.quote(name)} {shlex.quote(key)}"


class DynamicPartitionsDefinition(PartitionsDefinition):
    """Partitions whose keys are added and removed at run time (Dagster's class and name).

    What callers may rely on:

    * the keys are the ones added by `DynamicPartitionsAdded` events (the CLI's
      `conflux partitions add NAME KEY...`, or a request built by `build_add_request`)
      and not removed since, in order of first addition (a key removed and added again
      goes to the end);
    * two definitions with the same name are equal, whatever keys they are bound to:
      the definition is the name, the keys are state;
    * the object a user writes is *unbound*: it answers about keys only with a
      `dynamic_partitions_store=` (Dagster's keyword), else it raises `DefinitionError`.
      The definitions projection (`partitions_def(asset_key)`) and
      `partitions_from_snapshot(..., dynamic_partitions=...)` hand out *bound* copies
      (`with_keys`), which answer from the keys they hold, by dictionary lookups;
    * it may be a dimension of a `MultiPartitionsDefinition`.

    Example:
        >>> customers = DynamicPartitionsDefinition(name="customers")
        >>> customers.build_add_request(["acme", "bolt"]).partition_keys
        ('acme', 'bolt')
        >>> customers.with_keys(["acme", "bolt"]).get_partition_keys()
        ['acme', 'bolt']

    Raises:
        DefinitionError: the name is empty, has surrounding whitespace or a control
            character.
    """

    def __init__(self, name: str) -> None:
        if not isinstance(name, str):
            raise DefinitionError(
                f"DynamicPartitionsDefinition must have a name: got {name!r}. Its keys are "
                "added under that name (`conflux partitions add NAME KEY`); a function "
                "returning keys (Dagster's older partition_fn) is not supported: list the "
                "keys in a StaticPartitionsDefinition, or add them as they appear"
            )
        check_dynamic_partitions_name(name)
        self._name = name
        self._keys: tuple[str, ...] | None = None
        self._positions: dict[str, int] = {}

    @property
    def name(self) -> str:
        """The name the keys are added under (`conflux partitions add NAME ...`)."""
        return self._name

    @property
    def is_bound(self) -> bool:
        """True when this object holds a key set (see `with_keys`)."""
        return self._keys is not None

    def with_keys(self, partition_keys: Iterable[str]) -> DynamicPartitionsDefinition:
        """A copy bound to `partition_keys` (in order; duplicates dropped, not checked).

        The keys are trusted: they come from the fold of validated events.
        """
        bound = DynamicPartitionsDefinition.__new__(DynamicPartitionsDefinition)
        bound._name = self._name
        bound._positions = {key: i for i, key in enumerate(dict.fromkeys(partition_keys))}
        bound._keys = tuple(bound._positions)
        return bound

    # -- requests (for sensors and the CLI) -------------------------------------------------

    def build_add_request(self, partition_keys: Sequence[str]) -> AddDynamicPartitionsRequest:
        """A request to add `partition_keys` (Dagster's method), to be carried out later.

        Raises:
            InvalidPartitionKeyError: no key, or a key that is empty, has surrounding
                whitespace, contains `|`, `,` or a control character, or is longer than
                `MAX_PARTITION_KEY_LENGTH` (1,024) characters.
        """
        return AddDynamicPartitionsRequest(
            partitions_def_name=self._name, partition_keys=_checked_keys(partition_keys, new=True)
        )

    def build_delete_request(self, partition_keys: Sequence[str]) -> DeleteDynamicPartitionsRequest:
        """A request to remove `partition_keys` (Dagster's method), to be carried out later.

        Raises:
            InvalidPartitionKeyError: as for `build_add_request`, but any length (a key
                added before the bound can be removed).
        """
        return DeleteDynamicPartitionsRequest(
            partitions_def_name=self._name,
            partition_keys=_checked_keys(partition_keys, new=False),
        )

    # -- keys -----------------------------------------------------------------------------

    def _resolve(
        self, store: DynamicPartitionsStore | None
    ) -> tuple[tuple[str, ...], dict[str, int]]:
        if store is not None:
            keys = tuple(dict.fromkeys(store.get_dynamic_partitions(self._name)))
            return keys, {key: i for i, key in enumerate(keys)}
        if self._keys is None:
            raise DefinitionError(
                f"the keys of DynamicPartitionsDefinition {self._name!r} live in the event "
                "log, not in this object: pass dynamic_partitions_store=..., use the "
                "definition bound by the definitions projection (partitions_def(asset_key)), "
                f"or list them with `conflux partitions list {shlex.quote(self._name)}`"
            )
        return self._keys, self._positions

    def get_partition_keys(
        self,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> Sequence[str]:
        """The current keys in order of addition (`current_time` is ignored).

        Raises:
            DefinitionError: unbound and no `dynamic_partitions_store` given.
        """
        return list(self._resolve(dynamic_partitions_store)[0])

    def has_partition_key(
        self,
        key: str,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> bool:
        """True when `key` has been added and not removed since.

        Raises:
            DefinitionError: unbound and no `dynamic_partitions_store` given.
        """
        if dynamic_partitions_store is not None:
            return dynamic_partitions_store.has_dynamic_partition(self._name, key)
        return key in self._resolve(None)[1]

    def get_num_partitions(
        self,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> int:
        """How many keys there are now."""
        return len(self._resolve(dynamic_partitions_store)[0])

    def key_at(self, index: int, current_time: datetime | None = None) -> str:
        """The key at `index` in order of addition (negative: from the end).

        Raises:
            IndexError: there are not that many keys.
        """
        return self._resolve(None)[0][index]

    def index_of(self, key: str, current_time: datetime | None = None) -> int:
        """The position of `key` in order of addition.

        Raises:
            InvalidPartitionKeyError: `key` is not a current key.
        """
        self.validate_partition_key(key)
        return self._resolve(None)[1][key]

    def validate_partition_key(self, key: str, current_time: datetime | None = None) -> None:
        """Return if `key` is a current key, else say how to add it.

        Raises:
            InvalidPartitionKeyError: `key` could never be a dynamic key (the message says
                why), or has not been added (the message names the command that adds it).
        """
        keys, positions = self._resolve(None)
        if key in positions:
            return
        problem = dynamic_partition_key_problem(key)
        if problem is not None:
            raise InvalidPartitionKeyError(problem)
        close = difflib.get_close_matches(key, keys, n=3) if len(keys) <= 10_000 else []
        hint = f" (did you mean {', '.join(repr(k) for k in close)}?)" if close else ""
        raise InvalidPartitionKeyError(
            f"partition key {key!r} has not been added to {self.describe_keys()}{hint}: "
            f"add it first with `{add_command(self._name, key)}`"
        )

    def get_partition_keys_in_range(
        self,
        start: str | PartitionKeyRange,
        end: str | None = None,
        current_time: datetime | None = None,
    ) -> list[str]:
        """The keys from `start` to `end`, both included, in order of addition.

        Raises:
            InvalidPartitionKeyError: an end is not a current key, or `start` was added
                after `end`.
        """
        if isinstance(start, PartitionKeyRange) or end is None:
            return super().get_partition_keys_in_range(start, end, current_time)
        self.validate_partition_key(start)
        self.validate_partition_key(end)
        keys, positions = self._resolve(None)
        lo, hi = positions[start], positions[end]
        if lo > hi:
            raise InvalidPartitionKeyError(
                f"partition range {start}..{end} is empty: {start!r} was added after "
                f"{end!r}; swap --from and --to (the start and end keys)"
            )
        return list(keys[lo : hi + 1])

    def describe_keys(self) -> str:
        """The name and the current keys (abbreviated past ten), in one line."""
        if self._keys is None:
            return f"dynamic partitions {self._name!r} (keys added at run time)"
        shown = ", ".join(self._keys[:10])
        more = ", ..." if len(self._keys) > 10 else ""
        count = len(self._keys)
        if not count:
            return f"dynamic partitions {self._name!r} (no key added yet)"
        return f"dynamic partitions {self._name!r} ({count} key{'s' * (count != 1)}: {shown}{more})"

    def to_snapshot(self) -> DynamicPartitionsSnapshot:
        """The name (the keys are state, folded from events)."""
        return DynamicPartitionsSnapshot(name=self._name)

    def __repr__(self) -> str:
        return f"DynamicPartitionsDefinition(name={self._name!r})"
