"""The projector: reads the log into the read model and the archive, and serves both.

The read model (`ReadModel`: current state, compact, behind one lock; checkpointed with
its positions), history from the archive (`EventHistory`: events, run timelines), the
query API's server (`QueryApi`: JSON, SQL, the web UI's files, its live stream and
actions), lineage and `why` answers, and replay (`replay`: fold the log again into fresh
projections). Listed once, below (see `conflux._lazy`); each name loads on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conflux._lazy import lazy_package

if TYPE_CHECKING:
    from conflux.projections.projector._history import (
        EventHistory as EventHistory,
    )
    from conflux.projections.projector._locations import (
        close_location_names as close_location_names,
    )
    from conflux.projections.projector._memory import (
        limit_malloc_arenas as limit_malloc_arenas,
        release_free_memory as release_free_memory,
    )
    from conflux.projections.projector._metrics import (
        ProjectorMetrics as ProjectorMetrics,
    )
    from conflux.projections.projector._projector import (
        Projector as Projector,
    )
    from conflux.projections.projector._query_api import (
        QueryApi as QueryApi,
        check_bind as check_bind,
    )
    from conflux.projections.projector._read_model import (
        ReadModel as ReadModel,
    )
    from conflux.projections.projector._replay import (
        ProjectionName as ProjectionName,
        ReplayResult as ReplayResult,
        Start as Start,
        archive_fold as archive_fold,
        read_model_fold as read_model_fold,
        replay as replay,
    )
    from conflux.projections.projector._restore import (
        load_read_model as load_read_model,
        rebuild_from_archive as rebuild_from_archive,
        save_read_model as save_read_model,
    )
    from conflux.projections.projector._sql import (
        ReadOnlyArchiveError as ReadOnlyArchiveError,
        run_sql as run_sql,
    )

__getattr__, __dir__ = lazy_package(__name__)
