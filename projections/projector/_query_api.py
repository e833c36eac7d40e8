"""The query API: JSON reads of the read model, and the web UI around them (stdlib only).

Endpoints (GET): `/health`, `/status`, `/assets`, `/assets/<quoted key>`,
`/assets/<quoted key>/validate-partition?partition=K[&to=END]`, `/assets/<quoted key>/partitions`,
`/runs?status=&limit=`, `/runs/<id>`, `/runs/<id>/partitions?limit=` (its timeline),
`/runs/<id>/logs?asset=&partition=&after=` (what its attempts wrote, with an archive),
`/events?asset=&partition=&type=&run=&since=&after=&limit=` (an `EventQuery`), `/selection?q=`,
`/lineage?asset=&partition=&direction=&depth=&event_id=`, `/sql?query=&param_<name>=`
(history: when an archive is attached).
`/partitions` (every dynamic partitions name with its key count), `/partitions/<quoted name>`
(its current keys, in order of addition). `/locations` (every code location: status,
interpreter, snapshot, live workers, last load error). `/instigators?type=schedule|sensor`,
`/instigators/<quoted name>` (schedules and sensors: status, cursor, last tick and error).
The web UI: `/` and `/ui/<file>`, `/stream` (live events) and `POST /actions/<name>` (see
`conflux.projections.projector._http`). Errors are `{"error": one line, "kind": error class name}`
with 400, 404 or 500, so that `ApiClient` raises the same typed error the server hit.
"""

from __future__ import annotations

import getpass
import logging
import threading
from typing import TYPE_CHECKING

from pydantic import BaseModel

from conflux.events import ConfluxError
from conflux.projections.api import EventQuery, NotFoundError
from conflux.projections.projector._backfill_views import backfill_summaries, backfill_summary
from conflux.projections.projector._dynamic import (
    dynamic_partitions_keys,
    dynamic_partitions_summaries,
)
from conflux.projections.projector._http import (
    ActionsUnavailableError,
    BadRequestError,
    Handler,
    Server,
)
from conflux.projections.projector._stream import EventStream

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from prometheus_client import CollectorRegistry
    from pydantic import JsonValue

    from conflux.events import Event
    from conflux.projections.api import BrokerStatus
    from conflux.projections.archive import ArchiveStore
    from conflux.projections.projector._history import EventHistory
    from conflux.projections.projector._lineage import LineageService
    from conflux.projections.projector._logs import RunLogIngest
    from conflux.projections.projector._read_model import ReadModel

_log = logging.getLogger("conflux.projections.api")


_BadRequest = BadRequestError


def _dump(value: BaseModel | Sequence[BaseModel]) -> object:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return [v.model_dump(mode="json") for v in value]


def _int(query: dict[str, str], name: str) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise _BadRequest(f"{name}={raw!r} is not an integer") from None


def _event_query(query: dict[str, str]) -> EventQuery:
    """`/events?...` as an `EventQuery`: a parameter given filters, also when empty."""
    try:
        found = EventQuery.from_params(query)
    except ValueError as exc:
        raise _BadRequest(str(exc)) from None
    _check_type(found.type)
    return found


def _check_type(name: str | None) -> None:
    if name is None:
        return
    from conflux.events import EVENT_TYPES

    if name.lower() not in {t.lower() for t in EVENT_TYPES}:
        raise _BadRequest(f"no event type {name!r}: one of {', '.join(sorted(EVENT_TYPES))}")


class UnsafeBindError(ConfluxError):
    """The API was told to listen beyond loopback without a token."""


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def check_bind(host: str, token: str | None) -> None:
    """Refuse to listen beyond loopback without a token (call before opening anything).

    Raises:
        UnsafeBindError: `host` is not loopback and `token` is empty.
    """
    if host not in LOOPBACK_HOSTS and not token:
        raise UnsafeBindError(
            f"listening on {host} needs a token: pass --token (or set "
            "CONFLUX_API_TOKEN), or keep the default host 127.0.0.1"
        )


class QueryApi:
    """Serves a `ReadModel` over HTTP: JSON reads, the web UI, its stream and actions.

    See `conflux.projections.projector._http` for the HTTP side. Requests run on daemon threads.

    The socket is bound when the object is made (port 0: a free port), so `url` is known
    before `start()`; call `close()` when done, also if it never started.
    """

    def __init__(
        self,
        model: ReadModel,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        token: str | None = None,
        caught_up: Callable[[], bool] = lambda: True,
        progress: Callable[[], str | None] = lambda: None,
        broker_problem: Callable[[], str | None] = lambda: None,
        expected_locations: Sequence[str] = (),
        emit: Callable[[Event], None] | None = None,
        brokers: Callable[[], Sequence[BrokerStatus]] = tuple,
    ) -> None:
        """Bind the server.

        Args:
            model: what to serve.
            port: the TCP port; 0 picks a free one (see `port`).
            host: the interface: loopback unless a token is given.
            token: required of every request when given (see `_http`); required when
                `host` is not loopback.
            caught_up: whether the feeding projector has read the log to its end.
            progress: what the feeding projector does until then (for `/status`).
            broker_problem: why the broker looks unreachable to the feeding projector,
                or None when it answers.
            expected_locations: locations that must load (or fail) before `/status` is
                ready.
            emit: puts an event on the log (and waits until the broker has it); None
                serves reads only, and actions answer 503.
            brokers: the cluster's brokers from its metadata, for `/status`.

        Raises:
            UnsafeBindError: `host` is not loopback and no token is given.
        """
        check_bind(host, token)
        self.model = model
        self._caught_up = caught_up
        self._progress = progress
        self._broker_problem = broker_problem
        self._brokers = brokers
        self._expected = tuple(expected_locations)
        self._host = host
        self._emit = emit
        self.stream = EventStream()
        """Live events for the UI: the projector publishes what it applies."""
        self._server = Server((host, port), Handler)
        self._server.api = self
        self._server.token = token or None
        self._thread: threading.Thread | None = None
        self.lineage: LineageService | None = None
        self.logs: RunLogIngest | None = None
        """Archives the logs topic and answers `/runs/<id>/logs` (with an archive)."""
        """Answers `/lineage` once the projector has opened its archive."""
        self.history: EventHistory | None = None
        """Answers `/events` and run timelines once the projector has opened its archive."""
        self.sql: ArchiveStore | None = None
        """Runs `/sql` queries: a read-only store on the archive."""
        self.metrics: CollectorRegistry | None = None
        """What `/metrics` serves (None: it answers 404)."""
        self.error: BaseException | None = None
        """What stopped the serving thread, if it stopped by an error."""

    @property
    def port(self) -> int:
        """The bound TCP port."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The base URL, e.g. `http://127.0.0.1:8321`."""
        return f"http://{self._host}:{self.port}"

    def start(self) -> None:
        """Serve in a daemon thread until `close()`."""
        self._thread = threading.Thread(target=self._serve, name="conflux-query-api", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            self._server.serve_forever(poll_interval=0.1)
        except BaseException as exc:
            self.error = exc
            raise

    def close(self) -> None:
        """Stop serving and release the socket."""
        self.stream.close()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> QueryApi:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def route(self, segments: list[str], query: dict[str, str]) -> object:
        """Answer one GET: the JSON-able body, or raise a typed error."""
        model = self.model
        match segments:
            case ["health"]:
                return {"ok": True}
            case ["status"]:
                return _dump(
                    model.status(
                        caught_up=self._caught_up(),
                        expected_locations=self._expected,
                        broker_problem=self._broker_problem(),
                        brokers=self._brokers(),
                        progress=self._progress(),
                    )
                )
            case ["assets"]:
                return _dump(model.asset_summaries())
            case ["assets", key]:
                return _dump(model.asset_summary(key))
            case ["assets", key, "partitions"]:
                return _dump(model.partition_ranges(key))
            case ["assets", key, "validate-partition"]:
                model.validate_partition(key, query.get("partition"), to=query.get("to"))
                return {"ok": True}
            case ["runs"]:
                limit = _int(query, "limit")
                return _dump(
                    model.run_summaries(
                        status=query.get("status") or None, limit=50 if limit is None else limit
                    )
                )
            case ["runs", run_id, "logs"]:
                from conflux.projections.projector._logs import answer_run_logs

                try:
                    return _dump(answer_run_logs(self.logs, model, run_id, query))
                except ValueError as exc:
                    raise _BadRequest(f"after={query.get('after')!r}: {exc}") from None
            case ["runs", run_id, "partitions"]:
                limit = _int(query, "limit")
                history = self._history()
                return _dump(history.run_partitions(run_id, 1000 if limit is None else limit))
            case ["runs", run_id]:
                run = model.run_summary(run_id)
                if run is None:
                    raise NotFoundError(f"no run {run_id!r}: list runs with `conflux runs`")
                return _dump(run)
            case ["events"]:
                events_query = _event_query(query)  # a malformed one: 400 before all else
                return _dump(self._history().events(events_query))
            case ["sql"]:
                from conflux.projections.projector._sql import run_sql

                return run_sql(self.sql, query)
            case ["backfills"]:
                return _dump(backfill_summaries(model))
            case ["backfills", backfill_id]:
                return _dump(backfill_summary(model, backfill_id))
            case ["selection"]:
                return {"asset_keys": model.resolve_selection(query.get("q", ""))}
            case ["lineage"]:
                return _dump(self._lineage(query))
            case ["why"]:
                from conflux.projections.projector._why import explain

                asset = query.get("asset") or ""
                if not asset:
                    raise _BadRequest("why needs asset=KEY")
                return _dump(explain(model, asset, query.get("partition") or None, self.history))
            case ["partitions"]:
                return _dump(dynamic_partitions_summaries(model))
            case ["partitions", name]:
                return _dump(dynamic_partitions_keys(model, name))
            case ["locations"]:
                from conflux.projections.projector._locations import location_summaries

                return _dump(location_summaries(model, self._expected))
            case ["instigators"] | ["instigators", _]:
                from conflux.projections.projector._instigator_views import read_instigators

                kind = query.get("type") or None
                if kind not in (None, "schedule", "sensor"):
                    raise _BadRequest(f"type={kind!r}: use schedule or sensor")
                wanted = segments[1] if len(segments) > 1 else None
                found = read_instigators(model, kind, wanted)
                return _dump(found[0] if wanted is not None else found)
        raise NotFoundError(f"no endpoint {'/' + '/'.join(segments)!r} in the query API")

    def act(self, name: str, body: object) -> dict[str, JsonValue]:
        """Do one UI action: check it, emit its event, and say what was emitted.

        Raises:
            ActionsUnavailableError: this API was started without `emit`.
            ActionError, SelectionError, DefinitionError, NotFoundError: the action was
                refused before anything was emitted.
        """
        from conflux.projections.projector._actions import action_answer, build_action

        if self._emit is None:
            raise ActionsUnavailableError(
                "this query API serves reads only: use the CLI, or the projector's UI"
            )
        event = build_action(self.model, name, body, user=_user())
        self._emit(event)
        return action_answer(event)

    def _history(self) -> EventHistory:
        if self.history is None:
            raise NotFoundError(
                "this projector keeps no archive, so it has no history: run it with one"
                " (`conflux dev` always does; set CONFLUX_CLICKHOUSE_URL for a server)"
            )
        return self.history

    def _lineage(self, query: dict[str, str]) -> BaseModel:
        if self.lineage is None:
            raise NotFoundError(
                "this projector keeps no archive, so it has no lineage: run it with one"
                " (`conflux dev` always does; set CONFLUX_CLICKHOUSE_URL for a server)"
            )
        asset = query.get("asset") or ""
        if not asset:
            raise _BadRequest("lineage needs asset=KEY")
        direction = query.get("direction") or "upstream"
        if direction not in ("upstream", "downstream"):
            raise _BadRequest(f"direction={direction!r}: use upstream or downstream")
        depth = _int(query, "depth")
        try:
            return self.lineage.answer(
                asset,
                query.get("partition") or None,
                direction="upstream" if direction == "upstream" else "downstream",
                depth=5 if depth is None else depth,
                event_id=query.get("event_id") or None,
            )
        except ValueError as exc:
            raise _BadRequest(str(exc)) from None


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
