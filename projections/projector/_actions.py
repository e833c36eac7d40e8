"""What the web UI may do: the same events the CLI emits, checked the same way first.

Each action is a pydantic model of the request body and one function that checks it
against the read model and builds the event (`MaterializationRequested`,
`AssetMaterialized` with source `reported`, `BackfillRequested`, `BackfillCanceled`,
`InstigatorStatusChanged`). Nothing is emitted for a request that fails its checks, and
the UI has no other way to change anything: the log stays the only writer's path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, JsonValue, ValidationError

from conflux.events import (
    AssetMaterialized,
    BackfillCanceled,
    BackfillRequested,
    ConfluxError,
    InstigatorStatusChanged,
    MaterializationRequested,
    PartitionRange,
    new_id,
)
from conflux.projections.api import BACKFILL_ENDED, check_partition_keys

if TYPE_CHECKING:
    from conflux.events import Event
    from conflux.projections.projector._read_model import ReadModel

PRODUCER = "ui"
"""The `producer` of every event the UI emits (the CLI's is `cli`)."""


class ActionError(ConfluxError):
    """A UI action's body is malformed or names what does not exist; nothing is emitted."""


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


_B = TypeVar("_B", bound=_Body)


class MaterializeBody(_Body):
    """`conflux materialize SELECTION [--partition K ...] [--from A --to B]`."""

    selection: str
    partitions: list[str] = []
    from_key: str | None = None
    to_key: str | None = None
    run_config: dict[str, JsonValue] | None = None
    """`--config-json`: the run config in Dagster's shape."""


class ReportBody(_Body):
    """`conflux report ASSET [--partition K] [--data-version V] [--metadata K=V ...]`."""

    asset_key: str
    partition: str | None = None
    data_version: str | None = None
    metadata: dict[str, JsonValue] = {}


class BackfillBody(MaterializeBody):
    """`conflux backfill SELECTION ... [--missing-only | --failed-only]`."""

    only: Literal["all", "missing", "failed"] = "all"


class CancelBackfillBody(_Body):
    """`conflux backfill cancel ID`."""

    backfill_id: str


class InstigatorBody(_Body):
    """`conflux schedules|sensors start|stop NAME`."""

    type: Literal["schedule", "sensor"]
    name: str
    running: bool


def _parse(model: type[_B], body: object) -> _B:
    if isinstance(body, dict):  # the UI's JSON names the range `from`/`to`, as the CLI does
        body = {{"from": "from_key", "to": "to_key"}.get(k, k): v for k, v in body.items()}
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise ActionError(f"bad request body: {where}: {first['msg']}") from None


def _range(body: MaterializeBody) -> PartitionRange | None:
    if (body.from_key is None) != (body.to_key is None):
        raise ActionError("from and to go together: give both, or neither")
    if body.partitions and body.from_key is not None:
        raise ActionError("give either partitions or from/to, not both")
    if body.from_key is None or body.to_key is None:
        return None
    return PartitionRange(start=body.from_key, end=body.to_key)


def _check_range(model: ReadModel, keys: list[str], span: PartitionRange) -> None:
    """Refuse a range that no selected asset has, in order (`--from` after `--to`)."""
    end = span.end
    check_partition_keys(keys, [span.start], lambda a, k: model.validate_partition(a, k, to=end))


def build_action(model: ReadModel, name: str, raw: object, *, user: str) -> Event:
    """Check one action against the read model and build its event.

    Raises:
        ActionError: the body is malformed, or the action is not one of the five.
        SelectionError, DefinitionError, NotFoundError: as the CLI would raise them.
    """
    match name:
        case "materialize":
            body = _parse(MaterializeBody, raw)
            span = _range(body)
            keys = model.resolve_selection(body.selection)
            check_partition_keys(keys, body.partitions, model.validate_partition)
            if span is not None:
                _check_range(model, keys, span)
            run_id = new_id()
            return MaterializationRequested(
                run_id=run_id,
                selection=body.selection,
                asset_keys=tuple(keys),
                partition_keys=tuple(body.partitions) or None,
                partition_range=span,
                requested_by=user,
                producer=PRODUCER,
                correlation_id=run_id,
                run_config=body.run_config or None,
            )
        case "report":
            report = _parse(ReportBody, raw)
            model.validate_partition(report.asset_key, report.partition)
            return AssetMaterialized(
                asset_key=report.asset_key,
                partition_key=report.partition,
                data_version=report.data_version or new_id()[:16],
                source="reported",
                metadata=report.metadata,
                producer=f"{PRODUCER}:{user}",
            )
        case "backfill":
            backfill = _parse(BackfillBody, raw)
            span = _range(backfill)
            keys = model.resolve_selection(backfill.selection)
            check_partition_keys(keys, backfill.partitions[:1], model.validate_partition)
            if span is not None:
                _check_range(model, keys, span)
            backfill_id = new_id()
            return BackfillRequested(
                backfill_id=backfill_id,
                selection=backfill.selection,
                asset_keys=tuple(keys),
                partition_keys=tuple(backfill.partitions) or None,
                partition_range=span,
                only=backfill.only,
                requested_by=user,
                producer=PRODUCER,
                correlation_id=backfill_id,
            )
        case "cancel-backfill":
            from conflux.projections.projector._backfill_views import backfill_summary

            cancel = _parse(CancelBackfillBody, raw)
            summary = backfill_summary(model, cancel.backfill_id)
            if summary.status in BACKFILL_ENDED:
                raise ActionError(
                    f"backfill {summary.backfill_id} already ended ({summary.status})"
                )
            return BackfillCanceled(
                backfill_id=summary.backfill_id,
                requested_by=user,
                producer=PRODUCER,
                correlation_id=summary.backfill_id,
            )
        case "instigator":
            from conflux.projections.projector._instigator_views import read_instigators

            change = _parse(InstigatorBody, raw)
            read_instigators(model, change.type, change.name)  # NotFoundError, with matches
            return InstigatorStatusChanged(
                instigator_type=change.type,
                name=change.name,
                status="running" if change.running else "stopped",
                requested_by=user,
                producer=PRODUCER,
            )
    raise ActionError(
        f"no action {name!r}: one of materialize, report, backfill, cancel-backfill, instigator"
    )


def action_answer(event: Event) -> dict[str, JsonValue]:
    """What the UI is told once the event is on the log: the ids it follows next."""
    answer: dict[str, JsonValue] = {"event_id": event.event_id, "type": type(event).__name__}
    for field in ("run_id", "backfill_id", "name", "status"):
        value = getattr(event, field, None)
        if isinstance(value, str):
            answer[field] = value
    return answer
