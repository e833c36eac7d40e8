"""The folds of the log shared by the coordinator and every reader: pure `apply(event)`.

Definitions (the asset graph), asset state (by column), runs, backfills and their
partition space, checks, components, schedules and sensors, automation facts and the
condition evaluator, asset selection. Each is idempotent and order-tolerant within what
the topic catalog guarantees, and rebuildable by replaying the log (rule 4); none does
I/O. Also checkpoints (`save_checkpoint` / `load_checkpoint`): a fold's state with the
offsets it has applied, in a file, which the coordinator and the projector resume from.
Listed once, below (see `conflux._lazy`); each name loads on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conflux._lazy import lazy_package

if TYPE_CHECKING:
    from conflux.projections.folds._asset_state import (
        AssetStateProjection as AssetStateProjection,
        LastAttempt as LastAttempt,
        MaterializationRef as MaterializationRef,
        PartitionState as PartitionState,
        PartitionStatus as PartitionStatus,
        latest_materialization as latest_materialization,
        status_counts as status_counts,
    )
    from conflux.projections.folds._automation import (
        AutomationFacts as AutomationFacts,
        cron_leaves as cron_leaves,
        latest_tick as latest_tick,
        matched_assets as matched_assets,
        window_schedule as window_schedule,
    )
    from conflux.projections.folds._automation_eval import (
        Evaluator as Evaluator,
        run_group as run_group,
    )
    from conflux.projections.folds._backfill_space import (
        BackfillSpace as BackfillSpace,
        resolve_space as resolve_space,
        space_total as space_total,
    )
    from conflux.projections.folds._backfills import (
        BackfillsProjection as BackfillsProjection,
        summarize_backfill as summarize_backfill,
    )
    from conflux.projections.folds._checkpoint import (
        Checkpoint as Checkpoint,
        code_fingerprint as code_fingerprint,
        load_checkpoint as load_checkpoint,
        save_checkpoint as save_checkpoint,
    )
    from conflux.projections.folds._checks import (
        ChecksProjection as ChecksProjection,
    )
    from conflux.projections.folds._components import (
        ComponentsProjection as ComponentsProjection,
        is_alive as is_alive,
    )
    from conflux.projections.folds._definitions import (
        DefinitionsProjection as DefinitionsProjection,
        LocationState as LocationState,
        dynamic_names as dynamic_names,
    )
    from conflux.projections.folds._instigators import (
        InstigatorFacts as InstigatorFacts,
        InstigatorRecord as InstigatorRecord,
        defined_instigators as defined_instigators,
        effective_status as effective_status,
        next_cron_tick as next_cron_tick,
        next_tick as next_tick,
        ticks_between as ticks_between,
    )
    from conflux.projections.folds._runs import (
        RunRecord as RunRecord,
        RunsProjection as RunsProjection,
    )
    from conflux.projections.folds._selection import (
        resolve_selection as resolve_selection,
        unknown_asset_message as unknown_asset_message,
    )

__getattr__, __dir__ = lazy_package(__name__)
