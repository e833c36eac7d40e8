"""What every part's `/metrics` shares: a registry per process, and a small server for it.

The coordinator and each worker serve their metrics on a port of their own
(`MetricsServer`); the projector serves them on its query API. Each part keeps its
metrics in a `CollectorRegistry` of its own, never prometheus_client's global default,
so that several parts (and tests) can run in one process without colliding.

prometheus_client is imported here, in functions only: `import conflux` and the SDK never
pay for it, and a worker installed without the `metrics` extra runs as before unless it
is asked to serve metrics.
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

from conflux.events._errors import InfrastructureError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from prometheus_client import CollectorRegistry, Counter

    from conflux.events._consumer import ConsumedEvent, EventConsumer

_log = logging.getLogger("conflux.metrics")

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The Prometheus text format's content type (prometheus_client's `CONTENT_TYPE_LATEST`)."""
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Buckets for the short things measured (a decision step, a no-op asset): from 1 ms."""
DURATION_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)
"""Buckets for user code (assets, sensors): from milliseconds to half an hour."""


class MetricsUnavailableError(InfrastructureError, ImportError):
    """Metrics were asked for, and prometheus_client is not installed."""

    def __init__(self) -> None:
        super().__init__(
            "metrics need prometheus_client: pip install 'conflux[metrics]' "
            "(the server extra has it), or start the part without --metrics-port"
        )


def new_registry() -> CollectorRegistry:
    """A registry of one's own (not the global default one).

    Raises:
        MetricsUnavailableError: prometheus_client is not installed.
    """
    try:
        from prometheus_client import CollectorRegistry
    except ImportError:
        raise MetricsUnavailableError() from None
    return CollectorRegistry(auto_describe=True)


class FoldSeries:
    """The two series every part that folds the log serves: events folded, consumer lag.

    `conflux_events_folded{topic}` and `conflux_consumer_lag{topic,partition}`, under one
    name in the coordinator and the projector so that one dashboard panel shows both.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        from prometheus_client import Counter as PCounter, Gauge

        self.folded = PCounter(
            "conflux_events_folded",
            "Events folded from the log, per topic (since the process started).",
            ["topic"],
            registry=registry,
        )
        self.lag = Gauge(
            "conflux_consumer_lag",
            "Records between the fold's position and the end of each partition.",
            ["topic", "partition"],
            registry=registry,
        )
        self._children: dict[str, Counter] = {}
        """Topic -> its child of `folded` (a label lookup takes a lock: done once)."""
        self._known_lags: set[tuple[str, str]] = set()

    def count(self, records: Sequence[ConsumedEvent]) -> None:
        """Count a folded batch, per topic."""
        counts: dict[str, int] = {}
        for record in records:
            counts[record.topic] = counts.get(record.topic, 0) + 1
        for topic, n in counts.items():
            child = self._children.get(topic)
            if child is None:
                child = self._children[topic] = self.folded.labels(topic)
            child.inc(n)

    def set_lags(self, consumer: EventConsumer) -> None:
        """Set the lag of every assigned partition (from the consumer's cache: no request)."""
        lags = {(t, str(p)): n for (t, p), n in consumer.lags().items()}
        for key in self._known_lags - lags.keys():
            self.lag.remove(*key)
        for (topic, partition), n in lags.items():
            self.lag.labels(topic, partition).set(n)
        self._known_lags = set(lags)


def render_metrics(registry: CollectorRegistry) -> bytes:
    """The registry's metrics in the Prometheus text format."""
    from prometheus_client import generate_latest

    return generate_latest(registry)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    registry: CollectorRegistry


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        _log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0].rstrip("/") not in ("/metrics", ""):
            self.send_error(404, "only /metrics is served here")
            return
        data = render_metrics(self.server.registry)
        self.send_response(200)
        self.send_header("Content-Type", METRICS_CONTENT_TYPE)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class MetricsServer:
    """Serves one registry at `http://host:port/metrics` on a daemon thread.

    The socket is bound at construction, so `port` is known at once (0 picks a free one).

    Raises:
        InfrastructureError: the port is taken (the message names it).
    """

    def __init__(self, registry: CollectorRegistry, port: int, host: str = "127.0.0.1") -> None:
        try:
            self._server = _Server((host, port), _Handler)
        except OSError as exc:
            raise InfrastructureError(
                f"cannot serve metrics on {host}:{port} ({exc.strerror}): pass another "
                "--metrics-port (0: a free one)"
            ) from exc
        self._server.registry = registry
        self.host = host
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="conflux-metrics", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """Where Prometheus scrapes it."""
        shown = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{shown}:{self.port}/metrics"

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
