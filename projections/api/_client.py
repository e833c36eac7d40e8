"""`ApiClient`: the query API from Python, answered as the models it serves.

It reads through `ApiTransport` (urllib, typed errors) and validates each answer into
the model the server dumped, so a caller gets the same fields with their types.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, TypeAdapter

from conflux.projections.api._models import (
    AssetSummary,
    BackfillSummary,
    DynamicPartitionsKeys,
    DynamicPartitionsSummary,
    EventRecord,
    LineageAnswer,
    PartitionRanges,
    RunSummary,
    StatusReport,
)
from conflux.projections.api._transport import ApiTransport

if TYPE_CHECKING:
    from collections.abc import Mapping

    from conflux.projections.api._event_query import EventQuery
    from conflux.projections.api._query import SqlAnswer
    from conflux.projections.api._reports import InstigatorSummary, LocationSummary, WhyReport
    from conflux.projections.api._run_logs import RunLogs

_M = TypeVar("_M", bound=BaseModel)


class ApiClient(ApiTransport):
    """Reads from a running projector's query API.

    Args:
        base_url: e.g. `http://127.0.0.1:8321` (what `conflux dev` writes to its state).
        timeout: seconds per request before `ApiUnavailableError`.
        token: sent as `Authorization: Bearer` to an API that requires one (default: the
            `CONFLUX_API_TOKEN` environment variable).
    """

    def _one(
        self, model: type[_M], path: str, params: Mapping[str, object | None] | None = None
    ) -> _M:
        return model.model_validate_json(self.get(path, params))

    def _many(
        self, model: type[_M], path: str, params: Mapping[str, object | None] | None = None
    ) -> list[_M]:
        return TypeAdapter(list[model]).validate_json(self.get(path, params))  # type: ignore[valid-type]

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

    def run_logs(
        self,
        run_id: str,
        *,
        asset_key: str | None = None,
        partition_key: str | None = None,
        after: str | None = None,
    ) -> RunLogs:
        """What a run's attempts wrote (`conflux logs`); `after`: a previous answer's cursor.

        Raises `NotFoundError` when the projector keeps no archive.
        """
        from conflux.projections.api._run_logs import RunLogs

        params = {"asset": asset_key, "partition": partition_key, "after": after}
        return self._one(RunLogs, f"/runs/{quote(run_id, safe='')}/logs", params)

    def backfills(self) -> list[BackfillSummary]:
        """Every backfill, newest first."""
        return self._many(BackfillSummary, "/backfills")

    def backfill(self, backfill_id: str) -> BackfillSummary:
        """One backfill. Raises `NotFoundError` (a `ConfluxError`) if it is unknown."""
        return self._one(BackfillSummary, f"/backfills/{quote(backfill_id, safe='')}")

    def events(self, query: EventQuery | None = None) -> list[EventRecord]:
        """The events `query` matches (all of them without one), oldest first.

        With `query.limit`, the latest `limit` of them (see `EventQuery`).
        """
        return self._many(EventRecord, "/events", query.to_params() if query else None)

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
