"""The CLI as a producer: what the commands that write share (the producer, the checks).

Writes go to Kafka directly (DESIGN: the CLI is a producer). Each command produces a few
events once and exits, so its producer is tuned for that (see `emit`). Before anything is
written, a request's asset and partition keys are checked through the query API, so a
typo gets its one-line reason and the permanent log gets nothing.
"""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING

from conflux.events import ConfluxError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from conflux.cli._system import SystemInfo
    from conflux.events import Event, EventProducer, PartitionRange
    from conflux.projections.api import ApiTransport

ONE_SHOT_PRODUCER = {"enable.idempotence": False, "max.in.flight.requests.per.connection": 1}
"""librdkafka settings of the CLI's producer, applied over `EventProducer`'s.

An idempotent librdkafka producer asks for its producer id once a broker connection is up,
but the first attempt, made before any connection, fails and is retried by a 500 ms timer:
every `conflux materialize` waited half a second for that. Idempotence keeps a long-lived
producer's retries from duplicating or reordering records; a producer that sends a few
events once and exits gets the same from one request in flight (no reordering) and from
the events themselves (a retried record is the same event, with the same id, which every
fold drops: rule 5). acks=all stays.
"""


def user_name() -> str:
    """Who runs the command (`requested_by` of its events)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def open_producer(info: SystemInfo) -> EventProducer:
    """The CLI's producer (see `ONE_SHOT_PRODUCER`), connecting in the background.

    Open it before checking a request: the connection is up by the time it is sent.
    """
    from conflux.events import EventProducer

    return EventProducer(
        info.bootstrap,
        info.topics,
        client_id="conflux-cli",
        broker_kind=info.broker_kind,
        linger_ms=0,
        config=ONE_SHOT_PRODUCER,
    )


def emit(info: SystemInfo, *events: Event, flush_timeout_s: float = 10.0) -> None:
    """Send the CLI's events to the running system, and wait until the broker has them."""
    with open_producer(info) as producer:
        for event in events:
            producer.emit(event)
        producer.flush(timeout=flush_timeout_s)


def partition_arguments(
    partitions: tuple[str, ...], from_key: str | None, to_key: str | None
) -> PartitionRange | None:
    """Check `--partition` against `--from`/`--to` and return the range, if one was given.

    Raises:
        ConfluxError: only one end of a range, or keys and a range together.
    """
    if (from_key is None) != (to_key is None):
        raise ConfluxError("--from and --to go together: pass both, or neither")
    if partitions and from_key is not None:
        raise ConfluxError("pass either --partition or --from/--to, not both")
    if from_key is None or to_key is None:
        return None
    from conflux.events import PartitionRange

    return PartitionRange(start=from_key, end=to_key)


def check_partitions(
    api: ApiTransport,
    asset_keys: Sequence[str],
    partitions: Sequence[str],
    partition_range: PartitionRange | None,
) -> None:
    """Refuse, before anything is written, keys (or a range) that no selected asset has.

    Each key must be a key of one of the selected assets (the query API's
    `validate-partition`, the check `conflux report` makes); a range's ends must both be
    keys of one of them, in order (`--from` not after `--to`).

    Raises:
        ConfluxError: the first asset's reason, e.g. `InvalidPartitionKeyError`.
    """
    from conflux.projections.api import check_partition_keys

    check_partition_keys(asset_keys, partitions, api.validate_partition)
    if partition_range is not None:
        end = partition_range.end
        check_partition_keys(
            asset_keys,
            [partition_range.start],
            lambda asset, start: api.validate_partition(asset, start, to=end),
        )
