"""The ClickHouse archive: every event, typed tables for lineage, and its positions.

One small store interface (`ArchiveStore`) over embedded ClickHouse (`ChdbStore`, a
folder owned by one process) and a server (`ServerStore`); the sink that writes the log
into it in batches; and the seeding of a broker that keeps nothing (Tansu) from it.
chdb, clickhouse-connect and pyarrow load only with the names that need them. Listed
once, below (see `conflux._lazy`); each name loads on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conflux._lazy import lazy_package

if TYPE_CHECKING:
    from conflux.projections.archive._chdb import (
        ChdbStore as ChdbStore,
    )
    from conflux.projections.archive._history import (
        MAX_EVENTS as MAX_EVENTS,
        ArchivedEvent as ArchivedEvent,
        canonical_type as canonical_type,
        find_events as find_events,
        run_events as run_events,
    )
    from conflux.projections.archive._run_logs import (
        RUN_LOGS_PROJECTION as RUN_LOGS_PROJECTION,
        RunLogRow as RunLogRow,
        RunLogWriter as RunLogWriter,
        read_run_logs as read_run_logs,
    )
    from conflux.projections.archive._seed import (
        seed_broker as seed_broker,
    )
    from conflux.projections.archive._server import (
        ServerStore as ServerStore,
    )
    from conflux.projections.archive._sink import (
        ArchiveSink as ArchiveSink,
        RawRecord as RawRecord,
    )
    from conflux.projections.archive._store import (
        READ_ONLY_LIMITS as READ_ONLY_LIMITS,
        ArchiveError as ArchiveError,
        ArchiveStore as ArchiveStore,
        ArchiveUnavailableError as ArchiveUnavailableError,
        Direction as Direction,
        MaterializationRecord as MaterializationRecord,
    )
    from conflux.projections.archive._views import (
        INTERFACE_VERSION as INTERFACE_VERSION,
        VIEW_NAMES as VIEW_NAMES,
    )

__getattr__, __dir__ = lazy_package(__name__)
