"""The query API's contract: the models the projector serves and `ApiClient`, which reads them.

What the CLI (and any script) imports to read a running system: pydantic and urllib only.
`ApiTransport` (with `NotFoundError` and `check_partition_keys`) imports no pydantic, for
the commands that only pass the JSON on; `EventQuery` is the event filter from the CLI's
options to the event log. The server side is the projector's
(`conflux.projections.projector`). Listed once, below (see `conflux._lazy`); each name
loads on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conflux._lazy import lazy_package

if TYPE_CHECKING:
    from conflux.projections.api._checks import (
        check_partition_keys as check_partition_keys,
    )
    from conflux.projections.api._client import (
        ApiClient as ApiClient,
    )
    from conflux.projections.api._event_query import (
        EventQuery as EventQuery,
    )
    from conflux.projections.api._models import (
        BACKFILL_ENDED as BACKFILL_ENDED,
        AssetSummary as AssetSummary,
        BackfillSummary as BackfillSummary,
        BrokerStatus as BrokerStatus,
        CheckResultSummary as CheckResultSummary,
        CheckSummary as CheckSummary,
        ComponentStatus as ComponentStatus,
        DeadLetterSummary as DeadLetterSummary,
        DynamicPartitionsKeys as DynamicPartitionsKeys,
        DynamicPartitionsSummary as DynamicPartitionsSummary,
        EventRecord as EventRecord,
        LastMaterialization as LastMaterialization,
        LineageAnswer as LineageAnswer,
        LineageLink as LineageLink,
        LineageRoot as LineageRoot,
        LocationStatus as LocationStatus,
        PartitionCounts as PartitionCounts,
        PartitionDimension as PartitionDimension,
        PartitionRange as PartitionRange,
        PartitionRanges as PartitionRanges,
        RangeStatus as RangeStatus,
        RunPartition as RunPartition,
        RunPartitions as RunPartitions,
        RunPartitionStatus as RunPartitionStatus,
        RunStatus as RunStatus,
        RunSummary as RunSummary,
        StatusReport as StatusReport,
    )
    from conflux.projections.api._query import (
        SqlAnswer as SqlAnswer,
        SqlColumn as SqlColumn,
    )
    from conflux.projections.api._reports import (
        InstigatorSummary as InstigatorSummary,
        LocationError as LocationError,
        LocationSummary as LocationSummary,
        LocationWorker as LocationWorker,
        MaterializationInfo as MaterializationInfo,
        RunCause as RunCause,
        TickSummary as TickSummary,
        WhyReport as WhyReport,
    )
    from conflux.projections.api._run_logs import (
        RunLogDrops as RunLogDrops,
        RunLogLine as RunLogLine,
        RunLogs as RunLogs,
    )
    from conflux.projections.api._transport import (
        ApiTransport as ApiTransport,
        NotFoundError as NotFoundError,
    )

__getattr__, __dir__ = lazy_package(__name__)
