"""Stream sensors: `@stream_sensor` turns records of a user's own Kafka topic into runs.

A stream sensor is a sensor (`SensorDefinition`, snapshot kind `"stream"`): the
coordinator asks for a tick at most every `minimum_interval_seconds`, and the location's
worker evaluates it. The evaluation reads the topic from the sensor's cursor, hands the
records to the user function, and returns its run requests with the new cursor.

Exactly-once run requests, without consumer-group commits:

* The cursor is the only position: JSON `{"<partition>": <next offset>}`. The records
  are read with a consumer in *assign* mode (it never joins a group nor commits), from
  the cursor's offsets. The new cursor (last offset + 1 per partition read) travels in
  the same `TickCompleted` event as the run requests, so both happen or neither does.
* A tick whose completion never lands (the worker died between reading and emitting,
  the tick timed out, the function raised) leaves the cursor where it was: the next tick
  reads the same records again, and since its run requests were never taken, nothing
  runs twice. Run keys add a second guard (a rewound cursor): a run request without one
  gets the batch's key, `"<topic>:<partition>:<offset>"` of the batch's last record
  (`#<i>` appended to the i-th keyless request of a tick, from 1).
* Partitions missing from the cursor are read from their beginning (`start="earliest"`,
  the default: records produced before the sensor started become runs) or, with
  `start="latest"`, the sensor's first tick (empty cursor) stores the end of every
  partition and asks for nothing; a partition added to the topic later is read from its
  beginning in both modes (its records are all new to the sensor).

One consumer per sensor lives across ticks in the worker process (creating one costs a
connection and a metadata round trip per tick); it follows the cursor (a tick whose
cursor differs from where the consumer is, re-assigns it) and is closed when the
worker's tick evaluation stops (`close()`).

confluent-kafka is imported only when a tick is evaluated: defining a stream sensor (and
`import conflux`) loads no Kafka client. faust is not used: the sensor keeps no state
besides the cursor in its tick events.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from conflux.sdk._run_request import DefaultSensorStatus, TickResult, tick_result
from conflux.sdk._sensor import InvalidSensorError, SensorDefinition, SensorEvaluationContext

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from confluent_kafka import Consumer

    from conflux.events import AssetMaterialized, RunRequestSpec, SensorSnapshot
    from conflux.sdk._definitions import Definitions
    from conflux.sdk._selection import UnresolvedAssetJobDefinition

Start = Literal["earliest", "latest"]
BOOTSTRAP_ENV = "CONFLUX_BOOTSTRAP"
"""Where `bootstrap_servers=None` finds the cluster (`conflux dev` sets it for workers)."""
METADATA_TTL_S = 10.0
"""How often the consumer looks for new partitions of the topic."""


class InvalidStreamCursorError(ValueError):
    """A stream sensor's cursor is not `{"<partition>": <offset>}` JSON."""


@dataclass(frozen=True, slots=True)
class StreamRecord:
    """One record of the sensor's topic.

    Attributes:
        topic, partition, offset: where it is (unique).
        key: the record's key decoded as UTF-8 (None: no key).
        value: the record's bytes (None: a tombstone).
        timestamp: the record's timestamp (UTC), None when the record has none.
        headers: the record's headers, in order.
    """

    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes | None
    timestamp: datetime | None = None
    headers: tuple[tuple[str, bytes | None], ...] = ()

    @property
    def text(self) -> str | None:
        """The value decoded as UTF-8 (None for a tombstone)."""
        return None if self.value is None else self.value.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The value parsed as JSON (None for a tombstone; ValueError if it is not JSON)."""
        return None if self.value is None else json.loads(self.value)

    @property
    def run_key(self) -> str:
        """`"<topic>:<partition>:<offset>"`: a run key naming this record (one run per record)."""
        return f"{self.topic}:{self.partition}:{self.offset}"


def parse_cursor(cursor: str | None) -> dict[int, int]:
    """A stream sensor's cursor as partition -> the next offset to read (empty if none).

    Raises:
        InvalidStreamCursorError: the cursor is set but is not `{"<partition>": <offset>}`.
    """
    if not cursor:
        return {}
    try:
        data = json.loads(cursor)
        if not isinstance(data, dict):
            raise TypeError(type(data).__name__)
        out = {int(p): int(o) for p, o in data.items()}
        if any(p < 0 or o < 0 for p, o in out.items()):
            raise ValueError("a negative partition or offset")
    except (ValueError, TypeError) as exc:
        raise InvalidStreamCursorError(
            f"cursor {cursor!r} is not a stream sensor's cursor ({exc}): set it to JSON "
            '{"<partition>": <next offset>} (`conflux sensors cursor NAME --set ...`), '
            "or delete it to start over"
        ) from exc
    return out


def encode_cursor(positions: Mapping[int, int]) -> str:
    """The cursor for `positions` (partitions in order, compact)."""
    return json.dumps({str(p): positions[p] for p in sorted(positions)}, separators=(",", ":"))


def advance(positions: Mapping[int, int], records: Iterable[StreamRecord]) -> dict[int, int]:
    """The positions after `records`: each partition's last offset + 1 (never backwards)."""
    out = dict(positions)
    for record in records:
        out[record.partition] = max(out.get(record.partition, 0), record.offset + 1)
    return out


def with_default_run_keys(
    specs: Sequence[RunRequestSpec], records: Sequence[StreamRecord]
) -> tuple[RunRequestSpec, ...]:
    """Give each run request without a run key the batch's key (see the module docstring)."""
    if not records:
        return tuple(specs)
    base = records[-1].run_key
    out: list[RunRequestSpec] = []
    index = 0
    for spec in specs:
        if spec.run_key is None:
            key = base if index == 0 else f"{base}#{index}"
            spec = spec.model_copy(update={"run_key": key})
            index += 1
        out.append(spec)
    return tuple(out)


def _record(msg: Any) -> StreamRecord:
    key = msg.key()
    kind, ms = msg.timestamp()
    headers = msg.headers() or []
    return StreamRecord(
        topic=msg.topic(),
        partition=msg.partition(),
        offset=msg.offset(),
        key=key.decode("utf-8", errors="replace") if isinstance(key, bytes) else key,
        value=msg.value(),
        timestamp=datetime.fromtimestamp(ms / 1000, UTC) if kind != 0 and ms >= 0 else None,
        headers=tuple((str(k), v) for k, v in headers),
    )


class _Reader:
    """The sensor's consumer: assign mode, positioned by the cursor (not thread-safe)."""

    def __init__(self, topic: str, bootstrap: str, config: Mapping[str, object]) -> None:
        from confluent_kafka import Consumer

        from conflux.events import kafka_config

        conf = kafka_config(bootstrap, role="consumer")
        conf.update(
            {
                "client.id": f"conflux-stream-sensor:{topic}",
                # librdkafka insists on a group id; assign mode never joins or commits.
                "group.id": f"conflux-stream-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                # An offset no longer on the broker (retention): read on from the oldest kept.
                "auto.offset.reset": "earliest",
                "enable.partition.eof": False,
            }
        )
        conf.update(config)
        self.topic = topic
        self.bootstrap = bootstrap
        self.consumer: Consumer = Consumer(conf)
        self.partitions: list[int] | None = None
        self._listed = 0.0
        self.want: dict[int, int | None] = {}
        """Partition -> the next offset the consumer delivers (None: its beginning)."""

    def list_partitions(self, *, refresh: bool = False) -> list[int] | None:
        """The topic's partitions (None: the topic does not exist), re-read every 10 s."""
        now = time.monotonic()
        if refresh or self.partitions is None or now - self._listed > METADATA_TTL_S:
            meta = self.consumer.list_topics(self.topic, timeout=5.0).topics.get(self.topic)
            if meta is None or meta.error is not None or not meta.partitions:
                self.partitions = None
            else:
                self.partitions = sorted(meta.partitions)
            self._listed = now
        return self.partitions

    def end_offsets(self, partitions: Sequence[int]) -> dict[int, int]:
        """Each partition's high watermark (the offset the next record gets)."""
        from confluent_kafka import TopicPartition

        return {
            p: int(self.consumer.get_watermark_offsets(TopicPartition(self.topic, p), 5.0)[1])
            for p in partitions
        }

    def read(
        self, positions: Mapping[int, int], max_records: int, wait_s: float
    ) -> list[StreamRecord]:
        """Read up to `max_records` records after `positions`.

        Partitions missing from `positions` are read from their beginning; the read waits
        up to `wait_s` for a first record.
        """
        from confluent_kafka import OFFSET_BEGINNING, TopicPartition

        partitions = self.list_partitions() or []
        desired: dict[int, int | None] = {p: positions.get(p) for p in partitions}
        if desired != self.want:
            self.consumer.assign(
                [
                    TopicPartition(self.topic, p, OFFSET_BEGINNING if o is None else o)
                    for p, o in desired.items()
                ]
            )
            self.want = desired
        if not desired:
            return []
        out: list[StreamRecord] = []
        deadline = time.monotonic() + wait_s
        while not out:  # poll() returns at the first record; consume() would wait the full time
            msg = self.consumer.poll(max(deadline - time.monotonic(), 0.0))
            if msg is not None:
                self._take([msg], out)
            if time.monotonic() >= deadline:
                break
        while out and len(out) < max_records:  # then whatever the client already holds
            batch = self.consumer.consume(num_messages=max_records - len(out), timeout=0)
            if not batch:
                break
            self._take(batch, out)
        return out

    def _take(self, messages: Sequence[Any], out: list[StreamRecord]) -> None:
        from confluent_kafka import KafkaError, KafkaException

        for msg in messages:
            err = msg.error()
            if err is not None:
                if err.fatal():
                    raise KafkaException(err)
                if err.code() != KafkaError._PARTITION_EOF:
                    logging.getLogger("conflux.kafka").info(
                        "stream sensor on %s: %s", self.topic, err.str()
                    )
                continue
            p, o = msg.partition(), msg.offset()
            known = self.want.get(p)
            if known is not None and o < known:
                continue  # fetched before a re-assignment: already past it
            self.want[p] = o + 1
            out.append(_record(msg))

    def close(self) -> None:
        self.consumer.close()


class StreamSensorDefinition(SensorDefinition):
    """A sensor over a Kafka topic (see the module docstring; made by `@stream_sensor`)."""

    def __init__(
        self,
        name: str | None = None,
        *,
        evaluation_fn: Callable[..., object],
        topic: str,
        bootstrap_servers: str | None = None,
        minimum_interval_seconds: float = 1.0,
        max_records: int = 500,
        max_wait_seconds: float = 1.0,
        start: Start = "earliest",
        consumer_config: Mapping[str, object] | None = None,
        target: object = None,
        job: UnresolvedAssetJobDefinition | None = None,
        description: str | None = None,
        default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
        timeout_seconds: float = 60.0,
    ) -> None:
        super().__init__(
            name,
            evaluation_fn=evaluation_fn,
            minimum_interval_seconds=minimum_interval_seconds,
            target=target,
            job=job,
            description=description,
            default_status=default_status,
            timeout_seconds=timeout_seconds,
            kind="stream",
        )
        what = f"stream sensor {self.name}"
        if not topic:
            raise InvalidSensorError(f"{what}: pass topic=, the Kafka topic to read")
        if max_records < 1:
            raise InvalidSensorError(f"{what}: max_records must be 1 or more")
        if not 0 <= max_wait_seconds < self.timeout_seconds:
            raise InvalidSensorError(
                f"{what}: max_wait_seconds={max_wait_seconds:g} must be at least 0 and under "
                f"timeout_seconds={self.timeout_seconds:g}"
            )
        if start not in ("earliest", "latest"):
            raise InvalidSensorError(f"{what}: start={start!r}: pass 'earliest' or 'latest'")
        self.topic = topic
        self.bootstrap_servers = bootstrap_servers
        self.max_records = int(max_records)
        self.max_wait_seconds = float(max_wait_seconds)
        self.start: Start = start
        self.consumer_config = dict(consumer_config or {})
        self._params = _arity(evaluation_fn, what)
        self._reader: _Reader | None = None
        self._lock = threading.Lock()

    def to_snapshot(self, defs: Definitions) -> SensorSnapshot:
        """The sensor's snapshot (kind "stream"; the topic is named in its description)."""
        snap = super().to_snapshot(defs)
        if snap.description is None:
            snap = snap.model_copy(update={"description": f"records of Kafka topic {self.topic}"})
        return snap

    def evaluate(
        self,
        *,
        cursor: str | None,
        asset_events: Sequence[AssetMaterialized] = (),
        last_tick_completion_time: datetime | None = None,
        log: logging.Logger | None = None,
    ) -> TickResult:
        """Read the records after `cursor`, run the function on them, return the tick.

        Raises:
            InvalidStreamCursorError: the cursor is not a stream cursor (a person set it).
            InvalidSensorError: no bootstrap servers (argument or `CONFLUX_BOOTSTRAP`).
            Whatever the function or the Kafka client raise (the cursor stays as it was).
        """
        positions = parse_cursor(cursor)
        with self._lock:
            reader = self._open()
            try:
                partitions = reader.list_partitions()
                if partitions is None:
                    partitions = reader.list_partitions(refresh=True)
                if partitions is None:
                    return TickResult(
                        skip_reason=f"topic {self.topic} does not exist (yet)", cursor=cursor
                    )
                if self.start == "latest" and not positions:
                    ends = reader.end_offsets(partitions)
                    return TickResult(
                        skip_reason=f"started at the end of topic {self.topic}",
                        cursor=encode_cursor(ends),
                    )
                records = reader.read(positions, self.max_records, self.max_wait_seconds)
            except BaseException:
                self._discard()  # a client in an unknown state: the next tick starts afresh
                raise
        last = last_tick_completion_time.timestamp() if last_tick_completion_time else None
        context = SensorEvaluationContext(
            sensor_name=self.name, cursor=cursor, last_tick_completion_time=last, log=log
        )
        return self.decide(records, cursor, context)

    def decide(
        self,
        records: Sequence[StreamRecord],
        cursor: str | None,
        context: SensorEvaluationContext | None = None,
    ) -> TickResult:
        """Run the function on `records` read after `cursor` (pure: no Kafka; for tests too).

        No records: a skip, the cursor unchanged, the function not called. Otherwise the
        function's requests (keyless ones get the batch's run key) and the cursor past the
        records (the function cannot move it: the cursor is the read position).
        """
        if not records:
            return TickResult(skip_reason=f"no new record on {self.topic}", cursor=cursor)
        positions = parse_cursor(cursor)
        context = context or SensorEvaluationContext(sensor_name=self.name, cursor=cursor)
        fn = self.evaluation_fn
        batch = list(records)
        raw = fn(context, batch) if self._params >= 2 else fn(batch)
        result = tick_result(raw, f"stream sensor {self.name}")
        new = encode_cursor(advance(positions, records))
        specs = with_default_run_keys(result.run_requests, records)
        return TickResult(specs, result.skip_reason, new)

    def _open(self) -> _Reader:
        if self._reader is None:
            bootstrap = self.bootstrap_servers or os.environ.get(BOOTSTRAP_ENV)
            if not bootstrap:
                raise InvalidSensorError(
                    f"stream sensor {self.name}: no Kafka cluster to read {self.topic} from: "
                    f"pass bootstrap_servers=, or set {BOOTSTRAP_ENV} for the worker"
                )
            self._reader = _Reader(self.topic, bootstrap, self.consumer_config)
        return self._reader

    def _discard(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            try:
                reader.close()
            except Exception:  # closing a broken client: nothing more to do
                logging.getLogger("conflux.kafka").debug("closing %s", self.name, exc_info=True)

    def close(self, timeout: float = 5.0) -> None:
        """Close the sensor's consumer, if open (the next evaluation opens a new one).

        Waits up to `timeout` seconds for an evaluation reading the topic meanwhile.
        """
        if self._lock.acquire(timeout=timeout):
            try:
                self._discard()
            finally:
                self._lock.release()

    def __repr__(self) -> str:
        return f"StreamSensorDefinition({self.name!r}, topic={self.topic!r})"


def _arity(fn: Callable[..., object], what: str) -> int:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return 2
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return 2
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if not positional:
        raise InvalidSensorError(
            f"{what}: the function takes no records: define it as fn(context, records) or "
            "fn(records)"
        )
    return min(len(positional), 2)


def stream_sensor(
    *,
    topic: str,
    bootstrap_servers: str | None = None,
    target: object = None,
    job: UnresolvedAssetJobDefinition | None = None,
    name: str | None = None,
    minimum_interval_seconds: float = 1.0,
    max_records: int = 500,
    max_wait_seconds: float = 1.0,
    start: Start = "earliest",
    consumer_config: Mapping[str, object] | None = None,
    description: str | None = None,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
    timeout_seconds: float = 60.0,
) -> Callable[[Callable[..., object]], StreamSensorDefinition]:
    """A sensor over the records of a Kafka topic: each tick gets the records since the last.

    The function takes `(context, records)` or `(records)`: `records` is a list of
    `StreamRecord` (at most `max_records`, in the order read) and returns what a sensor
    returns (`RunRequest`s, a `SkipReason`, None). A tick with no new record is a skip and
    does not call it. Each record is handed over by exactly one completed tick.

    Args:
        topic: the topic to read (it may be created later: ticks skip until it exists).
        bootstrap_servers: the cluster (default: `CONFLUX_BOOTSTRAP`, read by the worker).
        minimum_interval_seconds: the shortest time between two ticks (>= 1 s).
        max_records: the most records one tick hands over.
        max_wait_seconds: how long a tick waits for a first record when none is there.
        start: where partitions that the cursor does not name start: "earliest" (their
            beginning) or "latest" (the first tick stores the topic's end).
        consumer_config: librdkafka settings for the consumer (security, ...), applied last.
        target: what run requests without `asset_selection` materialize (`job=` too).
        job: a job from `define_asset_job`, as the target.
        name: unique in the location (default: the function's name).
        description: shown with the sensor (default: the function's docstring).
        default_status: RUNNING to tick without `conflux sensors start`.
        timeout_seconds: an evaluation running longer is a failed tick (its records are
            read again by the next one).

    Example:
        >>> @stream_sensor(topic="orders", target=[process_order])
        ... def new_orders(records: list[StreamRecord]) -> list[RunRequest]:
        ...     return [
        ...         RunRequest(run_key=r.run_key, tags={"order": r.json()["id"]})
        ...         for r in records
        ...     ]
    """

    def wrap(fn: Callable[..., object]) -> StreamSensorDefinition:
        return StreamSensorDefinition(
            name=name or fn.__name__,
            evaluation_fn=fn,
            topic=topic,
            bootstrap_servers=bootstrap_servers,
            minimum_interval_seconds=minimum_interval_seconds,
            max_records=max_records,
            max_wait_seconds=max_wait_seconds,
            start=start,
            consumer_config=consumer_config,
            target=target,
            job=job,
            description=description or inspect.getdoc(fn),
            default_status=default_status,
            timeout_seconds=timeout_seconds,
        )

    return wrap
