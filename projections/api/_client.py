"""`ApiClient`: the query API from Python (urllib only, cheap to import).

Errors come back typed: the server names the error class (`kind`) and the client raises
that class with the server's one-line message, so `conflux` prints the same line the
server would. A server that does not answer is `ApiUnavailableError`.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import quote, urlencode

from pydantic import BaseModel, TypeAdapter

from conflux.events import (
    ApiUnavailableError,
    ConfluxError,
    DefinitionError,
    InvalidPartitionKeyError,
    SelectionError,
)
from conflux.projections.api._models import (
    AssetSummary,
    BackfillSummary,
    DynamicPartitionsKeys,
    DynamicPartitionsSummary,
    EventRecord,
    LineageAnswer,
    NotFoundError,
    PartitionRanges,
    RunSummary,
    StatusReport,
)

if TYPE_CHECKING:
    from datetime import datetime

    from conflux.projections.api._query import SqlAnswer
    from conflux.projections.api._reports import InstigatorSummary, LocationSummary, WhyReport

_M = TypeVar("_M", bound=BaseModel)

_KINDS: dict[str, type[ConfluxError]] = {
    "SelectionError": SelectionError,
    "InvalidPartitionKeyError": InvalidPartitionKeyError,
    "DefinitionError": DefinitionError,
    "NotFoundError": NotFoundError,
}
"""Error kinds the server sends -> the class raised here (others: `ConfluxError`)."""


def _raise_for(body: bytes, status: int, url: str) -> ConfluxError:
    try:
        data = json.loads(body)
        message, kind = str(data["error"]), str(data.get("kind", ""))
    except (ValueError, KeyError, TypeError):
        return ConfluxError(f"query API at {url} answered {status}: {body[:200]!r}")
    cls = _KINDS.get(kind)
    if cls is None:
        import conflux.events

        found = getattr(conflux.events, kind, None)  # only the package's public names
        cls = found if isinstance(found, type) and issubclass(found, ConfluxError) else ConfluxError
    try:
        return cls(message)
    except TypeError:  # an error class with required keyword fields
        return ConfluxError(message)


class ApiClient:
    """Reads from a running projector's query API.

    Args:
        base_url: e.g. `http://127.0.0.1:8321` (what `conflux dev` writes to its state).
        timeout: seconds per request before `ApiUnavailableError`.
        token: sent as `Authorization: Bearer` to an API that requires one (default: the
            `CONFLUX_API_TOKEN` environment variable).
    """

    def __init__(self, base_url: str, timeout: float = 5.0, token: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._headers = {}
        token = token if token is not None else os.environ.get("CONFLUX_API_TOKEN")
        if token:
            self._headers["Authorization"] = f"Bearer {token}"

    def _get(self, path: str, params: dict[str, object | None] | None = None) -> bytes:
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        url = self.base_url + path + (f"?{urlencode(query)}" if query else "")
        try:
            request = urllib.request.Request(url, headers=self._headers)
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                data: bytes = response.read()
                return data
        except urllib.error.HTTPError as exc:
            raise _raise_for(exc.read(), exc.code, self.base_url) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ApiUnavailableError(
                f"query API at {self.base_url} did not answer ({reason}): is `conflux dev` "
                "running? start it, or set CONFLUX_API"
            ) from exc

    def _one(
        self, model: type[_M], path: str, params: dict[str, object | None] | None = None
    ) -> _M:
        return model.model_validate_json(self._get(path, params))

    def _many(
        self, model: type[_M], path: str, params: dict[str, object | None] | None = None
    ) -> list[_M]:
        return TypeAdapter(list[model]).validate_json(self._get(path, params))  # type: ignore[valid-type]

    def status(self) -> StatusReport:
        """Whether the system is ready, and what is not."""
        return self._one(StatusReport, "/status")

    def assets(self) -> list[AssetSummary]:
        """Every asset, sorted by key."""
        return self._many(AssetSummary, "/assets")

    def asset(self, key: str) -> AssetSummary:
        """One asset. Raises `SelectionError` if nothing is known of it."""
        return self._one(AssetSummary, f"/assets/{quote(key, safe='')}")

    def partition_ranges(self, key: str) -> PartitionRanges:
        """The asset's partition status as ranges (a few lines at any number of partitions).

        Raises:
            SelectionError: the asset is not defined.
            DefinitionError: the asset is not partitioned.
        """
        return self._one(PartitionRanges, f"/assets/{quote(key, safe='')}/partitions")

    def runs(self, status: str | None = None, limit: int = 50) -> list[RunSummary]:
        """Runs, newest first."""
        return self._many(RunSummary, "/runs", {"status": status, "limit": limit})

    def run(self, run_id: str) -> RunSummary:
        """One run. Raises `NotFoundError` (a `ConfluxError`) if no event of it was seen."""
        return self._one(RunSummary, f"/runs/{quote(run_id, safe='')}")

    def backfills(self) -> list[BackfillSummary]:
        """Every backfill, newest first."""
        return self._many(BackfillSummary, "/backfills")

    def backfill(self, backfill_id: str) -> BackfillSummary:
        """One backfill. Raises `NotFoundError` (a `ConfluxError`) if it is unknown."""
        return self._one(BackfillSummary, f"/backfills/{quote(backfill_id, safe='')}")

    def events(
        self,
        asset: str | None = None,
        partition: str | None = None,
        type: str | None = None,
        since: datetime | None = None,
        after: int | None = None,
        limit: int | None = None,
    ) -> list[EventRecord]:
        """Matching events, oldest first; with `limit`, the latest `limit` of them."""
        params: dict[str, object | None] = {
            "asset": asset,
            "partition": partition,
            "type": type,
            "since": since.isoformat() if since is not None else None,
            "after": after,
            "limit": limit,
        }
        return self._many(EventRecord, "/events", params)

    def sql(self, query: str, params: dict[str, str] | None = None) -> SqlAnswer:
        """Run a read-only query against the archive (`{name:Type}` bound from `params`).

        Raises:
            ConfluxError: the archive refused it (a statement that writes, a syntax error:
                the engine's reason), or the projector keeps no archive.
        """
        from conflux.projections.api._query import SqlAnswer

        bound = {f"param_{name}": value for name, value in (params or {}).items()}
        return self._one(SqlAnswer, "/sql", {"query": query, **bound})

    def why(self, asset_key: str, partition: str | None = None) -> WhyReport:
        """Why an asset partition is as it is (`conflux why`)."""
        from conflux.projections.api._reports import WhyReport

        return self._one(WhyReport, "/why", {"asset": asset_key, "partition": partition})

    def resolve_selection(self, q: str) -> list[str]:
        """The asset keys a selection names. Raises `SelectionError` with the reason."""
        data = json.loads(self._get("/selection", {"q": q}))
        return [str(k) for k in data["asset_keys"]]

    def lineage(
        self,
        asset: str,
        partition: str | None = None,
        *,
        direction: str = "upstream",
        depth: int = 5,
        event_id: str | None = None,
    ) -> LineageAnswer:
        """What the latest (or the given) materialization read, or what was built from it.

        Raises:
            SelectionError: the asset is not defined.
            DefinitionError: the partition does not fit the asset.
            NotFoundError: nothing of it is archived, or the projector keeps no archive.
        """
        params: dict[str, object | None] = {
            "asset": asset,
            "partition": partition,
            "direction": direction,
            "depth": depth,
            "event_id": event_id,
        }
        return self._one(LineageAnswer, "/lineage", params)

    def validate_partition(self, asset_key: str, partition: str | None) -> None:
        """Check an asset and partition before reporting a materialization of them.

        Raises:
            SelectionError: the asset is not defined.
            InvalidPartitionKeyError: the partition is not one of the asset's keys.
            DefinitionError: a partitioned asset got no partition, or the reverse.
        """
        self._get(
            f"/assets/{quote(asset_key, safe='')}/validate-partition", {"partition": partition}
        )

    def dynamic_partitions(self, name: str) -> DynamicPartitionsKeys:
        """The current keys of dynamic partitions `name`, in order of addition.

        Raises:
            NotFoundError: no asset uses `name` and no key was ever added to it.
        """
        return self._one(DynamicPartitionsKeys, f"/partitions/{quote(name, safe='')}")

    def dynamic_partitions_list(self) -> list[DynamicPartitionsSummary]:
        """Every dynamic partitions name an asset uses or that has keys, with its key count."""
        return self._many(DynamicPartitionsSummary, "/partitions")

    def instigators(self, instigator_type: str | None = None) -> list[InstigatorSummary]:
        """Every schedule and sensor (or those of one type): status, cursor, ticks."""
        from conflux.projections.api._reports import InstigatorSummary

        return self._many(InstigatorSummary, "/instigators", {"type": instigator_type})

    def instigator(self, name: str, instigator_type: str | None = None) -> InstigatorSummary:
        """One schedule or sensor. Raises `NotFoundError` naming close matches."""
        from conflux.projections.api._reports import InstigatorSummary

        path = f"/instigators/{quote(name, safe='')}"
        return self._one(InstigatorSummary, path, {"type": instigator_type})

    def locations(self) -> list[LocationSummary]:
        """Every code location: status, interpreter, snapshot, live workers, last error."""
        from conflux.projections.api._reports import LocationSummary

        return self._many(LocationSummary, "/locations")
