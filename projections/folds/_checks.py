"""The asset-checks projection: every check's newest result, per asset partition.

Folds `AssetCheckEvaluated` events. Per (asset, check) it keeps, for each partition, the
newest result by (time, event id) as a small tuple, plus running counts of partitions
whose newest result passed or failed, so that a summary costs O(checks), not
O(partitions), and applying an event costs O(1). Duplicates and late (older) results
change nothing, so any order of the same events folds to the same state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conflux.events import AssetCheckEvaluated
from conflux.projections.api import CheckResultSummary, CheckSummary

if TYPE_CHECKING:
    from datetime import datetime

    from conflux.events import AnyEvent, AssetCheckSnapshot

_Newest = tuple["datetime", str, bool]
"""(time, event id, passed) of a partition's newest result."""


@dataclass(slots=True)
class CheckState:
    """One check of one asset: each partition's newest result and the counts over them."""

    partitions: dict[str | None, _Newest] = field(default_factory=dict)
    passed: int = 0
    failed: int = 0
    latest: AssetCheckEvaluated | None = None
    """The newest result over every partition."""

    def apply(self, event: AssetCheckEvaluated) -> bool:
        """Fold one result; False if it changed nothing (a duplicate or an older result)."""
        stamp = (event.time, event.event_id)
        if self.latest is None or stamp > (self.latest.time, self.latest.event_id):
            self.latest = event
        previous = self.partitions.get(event.partition_key)
        if previous is not None:
            if stamp <= previous[:2]:
                return False
            if previous[2]:
                self.passed -= 1
            else:
                self.failed -= 1
        self.partitions[event.partition_key] = (event.time, event.event_id, event.passed)
        if event.passed:
            self.passed += 1
        else:
            self.failed += 1
        return True


@dataclass
class ChecksProjection:
    """Fold of the check results of every asset: asset key -> check name -> state."""

    assets: dict[str, dict[str, CheckState]] = field(default_factory=dict)

    def apply(self, event: AnyEvent) -> None:
        """Fold one event; events of other types are ignored."""
        if isinstance(event, AssetCheckEvaluated):
            checks = self.assets.setdefault(event.asset_key, {})
            state = checks.get(event.check_name)
            if state is None:
                state = checks[event.check_name] = CheckState()
            state.apply(event)

    def summaries(
        self, asset_key: str, defined: tuple[AssetCheckSnapshot, ...] = ()
    ) -> list[CheckSummary]:
        """The asset's checks, by name: those `defined` now, and any seen in results."""
        states = self.assets.get(asset_key, {})
        specs = {c.name: c for c in defined}
        return [
            _summary(name, specs.get(name), states.get(name))
            for name in sorted(set(specs) | set(states))
        ]


def _summary(name: str, spec: AssetCheckSnapshot | None, state: CheckState | None) -> CheckSummary:
    latest = state.latest if state is not None else None
    if latest is None:
        status = "not_evaluated"
    elif latest.passed:
        status = "passed"
    else:
        status = "failed" if latest.severity == "ERROR" else "warning"
    return CheckSummary(
        name=name,
        blocking=spec.blocking if spec is not None else (latest.blocking if latest else False),
        description=spec.description if spec is not None else None,
        defined=spec is not None,
        status=status,
        passed=state.passed if state is not None else 0,
        failed=state.failed if state is not None else 0,
        last_result=CheckResultSummary(
            partition_key=latest.partition_key,
            passed=latest.passed,
            severity=latest.severity,
            time=latest.time,
            run_id=latest.run_id,
            event_id=latest.event_id,
            materialization_event_id=latest.materialization_event_id,
            metadata=latest.metadata,
            error_type=latest.error_type,
            message=latest.message,
        )
        if latest is not None
        else None,
    )
