"""The query API's HTTP side: JSON reads, the web UI's files, its live stream and actions.

One stdlib server on daemon threads. What a caller may rely on:

- GET `/<endpoint>` answers JSON from `QueryApi.route`; errors are
  `{"error": one line, "kind": error class}` with 400, 404 or 500.
- GET `/` and `/ui/<file>` serve the UI's static files (shipped in the package: no build).
- GET `/metrics` is the projector's metrics in the Prometheus text format.
- GET `/stream` is server-sent events: `data: [summary, ...]` batches as the projector
  applies events, `event: reset` when the reader fell behind, a comment every 15 s.
- POST `/actions/<name>` (JSON body, `Content-Type: application/json`, at most
  `MAX_BODY_BYTES`) emits the event the CLI would; the body is checked first, and nothing
  is emitted when it fails. A malformed request (a `Content-Length` that is not a size, a
  body too large or nested too deeply to parse) gets a 4xx with a one-line reason.
- Loopback without a token: requests must name a loopback host (no DNS rebinding). With a
  token: every request carries it (`Authorization: Bearer T`, or the cookie set by opening
  `/?token=T` once).
"""

from __future__ import annotations

import hmac
import json
import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit

from conflux.events import ConfluxError, DefinitionError, InfrastructureError, SelectionError
from conflux.projections.api import NotFoundError

if TYPE_CHECKING:
    from collections.abc import Callable

    from conflux.projections.projector._query_api import QueryApi

_log = logging.getLogger("conflux.projections.api")

UI_DIR = Path(__file__).with_name("ui")
"""The web UI's static files, served as they are."""
COOKIE = "conflux_token"
MAX_BODY_BYTES = 256 * 1024
"""The largest action body: an action is a few fields, and the event it becomes must fit
in a Kafka record (1 MB by default) with room to spare."""
KEEPALIVE_S = 15.0
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


class BadRequestError(ConfluxError, ValueError):
    """A query parameter or body is malformed (sent to the client as kind `ConfluxError`)."""


class ActionsUnavailableError(ConfluxError):
    """This API serves reads only: it was started without a way to emit events."""


class Server(ThreadingHTTPServer):
    """The threading server; `api` answers, `token` (if any) guards every request."""

    daemon_threads = True
    api: QueryApi
    token: str | None = None

    def handle_error(self, request: object, client_address: object) -> None:
        _log.exception("query API: error while serving %s", client_address)


def error_body(exc: Exception) -> dict[str, str]:
    """The JSON error: its first line, and the kind `ApiClient` raises again."""
    kind = "ConfluxError" if isinstance(exc, BadRequestError) else type(exc).__name__
    return {"error": str(exc).splitlines()[0] if str(exc) else kind, "kind": kind}


def _bad(reason: str) -> dict[str, str]:
    """The error body of a malformed request."""
    return {"error": reason, "kind": "ConfluxError"}


def _status_of(exc: Exception, segments: list[str]) -> int:
    from conflux.projections.projector._actions import ActionError

    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, SelectionError):
        return 404 if segments[:1] == ["assets"] else 400
    if isinstance(exc, DefinitionError | BadRequestError | ActionError):
        return 400
    if isinstance(exc, ActionsUnavailableError | InfrastructureError):
        return 503
    if isinstance(exc, ConfluxError):
        return 400
    return 500


class Handler(BaseHTTPRequestHandler):
    """One request: authorize, then JSON, a static file, the stream, or an action."""

    server: Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        _log.debug("%s " + format, self.address_string(), *args)

    # -- entry points --------------------------------------------------------------------

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        # split before unquoting: asset keys contain `/` and arrive as %2F
        segments = [unquote(s) for s in parts.path.strip("/").split("/") if s]
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        if not self._authorized(query, opening=segments == []):
            return
        if segments == [] or segments[:1] == ["ui"]:
            self._static(segments)
        elif segments == ["stream"]:
            self._stream()
        elif segments == ["metrics"]:
            self._metrics()
        else:
            self._json(segments, lambda: self.server.api.route(segments, query))

    def do_POST(self) -> None:
        segments = [unquote(s) for s in urlsplit(self.path).path.strip("/").split("/") if s]
        if not self._authorized({}, opening=False):
            return
        declared = self.headers.get("Content-Length") or "0"
        if not declared.isdigit():
            self.close_connection = True  # the body's end is unknown: do not read it
            self._send(400, _bad(f"Content-Length {declared!r} is not a number of bytes"))
            return
        if int(declared) > MAX_BODY_BYTES:
            self.close_connection = True
            self._send(413, _bad(f"the body has {int(declared):,} bytes; an action takes at "
                                 f"most {MAX_BODY_BYTES:,}"))  # fmt: skip
            return
        raw = self.rfile.read(int(declared))
        if segments[:1] != ["actions"] or len(segments) != 2:
            self._send(404, error_body(NotFoundError(f"no action at {self.path!r}")))
            return
        if not (self.headers.get("Content-Type") or "").startswith("application/json"):
            # A cross-site form cannot send JSON without a preflight we never answer.
            self._send(415, {"error": "send the body as JSON (Content-Type: application/json)"})
            return
        origin = self.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != self.headers.get("Host"):
            self._send(403, {"error": f"cross-origin action from {origin} refused"})
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._send(400, _bad("the body is not JSON"))
            return
        except RecursionError:
            self._send(400, _bad("the body is nested too deeply to be an action"))
            return
        self._json(segments, lambda: self.server.api.act(segments[1], body))

    # -- guards --------------------------------------------------------------------------

    def _authorized(self, query: dict[str, str], *, opening: bool) -> bool:
        token = self.server.token
        if token is None:
            host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
            if host in _LOOPBACK_NAMES:
                return True
            self._send(403, {"error": f"host {host!r} refused: this API serves loopback only"})
            return False
        offered = self._offered_token(query)
        if offered is not None and hmac.compare_digest(offered, token):
            if opening and "token" in query:  # set the cookie, then drop the token from the URL
                self.send_response(303)
                self.send_header(
                    "Set-Cookie", f"{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"
                )
                self.send_header("Location", "/")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return False
            return True
        self._send(
            401,
            {
                "error": "a token is required: open /?token=TOKEN once, or send "
                "Authorization: Bearer TOKEN",
                "kind": "ConfluxError",
            },
        )
        return False

    def _offered_token(self, query: dict[str, str]) -> str | None:
        auth = self.headers.get("Authorization") or ""
        if auth.startswith("Bearer "):
            return auth.removeprefix("Bearer ").strip()
        if "token" in query:
            return query["token"]
        for part in (self.headers.get("Cookie") or "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE:
                return value
        return None

    # -- answers -------------------------------------------------------------------------

    def _json(self, segments: list[str], answer: Callable[[], object]) -> None:
        try:
            status, body = 200, answer()
        except Exception as exc:
            status = _status_of(exc, segments)
            if status == 500:
                _log.exception("query API: %s failed", self.path)
                body = {"error": f"{type(exc).__name__}: {exc}", "kind": "ConfluxError"}
            else:
                body = error_body(exc)
        self._send(status, body)

    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _static(self, segments: list[str]) -> None:
        name = "index.html" if not segments else "/".join(segments[1:])
        path = (UI_DIR / name).resolve()
        if UI_DIR.resolve() not in path.parents or not path.is_file():
            self._send(404, {"error": f"no UI file {name!r}", "kind": "NotFoundError"})
            return
        data = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", _TYPES.get(path.suffix, "application/octet-stream"))
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.wfile.write(data)

    def _metrics(self) -> None:
        """The projector's metrics in the Prometheus text format (see `_metrics.py`)."""
        from conflux.events import METRICS_CONTENT_TYPE, render_metrics

        registry = self.server.api.metrics
        if registry is None:
            self._send(404, {"error": "this API serves no metrics", "kind": "NotFoundError"})
            return
        data = render_metrics(registry)
        self.send_response(200)
        self.send_header("Content-Type", METRICS_CONTENT_TYPE)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self) -> None:
        sub = self.server.api.stream.subscribe()
        self.close_connection = True
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("X-Accel-Buffering", "no")
            self.end_headers()
            self.wfile.write(b"retry: 1000\n: connected\n\n")
            self.wfile.flush()
            while True:
                batch = sub.take(KEEPALIVE_S)
                if batch == "closed":
                    return
                if batch is None:
                    chunk = b": keepalive\n\n"
                elif batch == "reset":
                    chunk = b"event: reset\ndata: {}\n\n"
                else:
                    chunk = b"data: " + json.dumps(batch).encode() + b"\n\n"
                self.wfile.write(chunk)
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return  # the page went away
        finally:
            sub.close()
