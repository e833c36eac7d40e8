"""`ApiTransport`: the query API's JSON over HTTP, with its typed errors (no pydantic).

`ApiClient` reads through it and returns models. A caller that only passes the answer on
(`conflux status --json`) or reads a few fields of it (`conflux materialize --wait`
polling its run) uses the transport alone and never imports pydantic, which costs more
than the rest of such a command.

A query API on this machine (`conflux dev`'s: loopback, plain HTTP, no proxy configured)
is asked over a socket with one `GET ... HTTP/1.1` and `Connection: close`: importing
urllib's client (`urllib.request`, `http.client`, `email`) costs a short command more
than the request. Anything else (another host, HTTPS, a proxy, a redirect) goes through
urllib, with its handling of all of that.

Errors come back typed: the server names the error class (`kind`) and the transport
raises that class with the server's one-line message, so `conflux` prints the same line
the server would. A server that does not answer is `ApiUnavailableError`.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

from conflux.events import (
    ApiUnavailableError,
    ConfluxError,
    DefinitionError,
    InvalidPartitionKeyError,
    SelectionError,
)

if TYPE_CHECKING:
    from collections.abc import Mapping


class NotFoundError(ConfluxError, LookupError):
    """The query API knows no such run (or resource); the message names it."""


_KINDS: dict[str, type[ConfluxError]] = {
    "SelectionError": SelectionError,
    "InvalidPartitionKeyError": InvalidPartitionKeyError,
    "DefinitionError": DefinitionError,
    "NotFoundError": NotFoundError,
}
"""Error kinds the server sends -> the class raised here (others: `ConfluxError`)."""


def _raise_for(body: bytes, status: int, url: str) -> ConfluxError:
    try:
        data = json.loads(body)
        message, kind = str(data["error"]), str(data.get("kind", ""))
    except (ValueError, KeyError, TypeError):
        return ConfluxError(f"query API at {url} answered {status}: {body[:200]!r}")
    cls = _KINDS.get(kind)
    if cls is None:
        import conflux.events

        found = getattr(conflux.events, kind, None)  # only the package's public names
        cls = found if isinstance(found, type) and issubclass(found, ConfluxError) else ConfluxError
    try:
        return cls(message)
    except TypeError:  # an error class with required keyword fields
        return ConfluxError(message)


_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY")
"""Set, they may route even loopback through a proxy: urllib then decides."""


def _dechunked(data: bytes) -> bytes:
    """The body of a `Transfer-Encoding: chunked` answer."""
    out = bytearray()
    at = 0
    while True:
        end = data.index(b"\r\n", at)
        size = int(data[at:end].split(b";")[0], 16)
        if size == 0:
            return bytes(out)
        out += data[end + 2 : end + 2 + size]
        at = end + 2 + size + 2


class ApiTransport:
    """GETs from a running projector's query API, answered as bytes or decoded JSON.

    Args:
        base_url: e.g. `http://127.0.0.1:8321` (what `conflux dev` writes to its state).
        timeout: seconds per request before `ApiUnavailableError`.
        token: sent as `Authorization: Bearer` to an API that requires one (default: the
            `CONFLUX_API_TOKEN` environment variable).
    """

    def __init__(self, base_url: str, timeout: float = 5.0, token: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._headers = {}
        token = token if token is not None else os.environ.get("CONFLUX_API_TOKEN")
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        parts = urlsplit(self.base_url)
        self._local = (
            parts.scheme == "http"
            and parts.hostname in _LOOPBACK
            and not any(os.environ.get(name) for name in _PROXY_VARIABLES)
        )
        self._address = (parts.hostname or "", parts.port or 80)
        self._host, self._prefix = parts.netloc, parts.path

    def get(self, path: str, params: Mapping[str, object | None] | None = None) -> bytes:
        """The body of `GET path?params` (None values left out; "" is sent as given).

        Raises:
            ApiUnavailableError: the server did not answer.
            ConfluxError: the server's error, as the class it names (`NotFoundError`,
                `SelectionError`, ...).
        """
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        target = path + (f"?{urlencode(query)}" if query else "")
        try:
            status, body = self._get_local(target) if self._local else (0, b"")
            if status == 0 or 300 <= status < 400:  # not asked here, or a redirect
                status, body = self._get_urllib(target)
        except (OSError, ValueError) as exc:  # refused, reset, timed out, garbled, no host
            reason = getattr(exc, "reason", exc)
            raise ApiUnavailableError(
                f"query API at {self.base_url} did not answer ({reason}): is `conflux dev` "
                "running? start it, or set CONFLUX_API"
            ) from exc
        if status >= 400:
            raise _raise_for(body, status, self.base_url)
        return body

    def _get_local(self, target: str) -> tuple[int, bytes]:
        """(status, body) of one GET over a socket: HTTP/1.1, `Connection: close`.

        A 3xx status comes back as it is, for `get` to ask urllib (which follows it).
        """
        import socket

        lines = [f"GET {self._prefix}{target} HTTP/1.1", f"Host: {self._host}"]
        lines += [f"{name}: {value}" for name, value in self._headers.items()]
        lines += ["Accept: application/json", "Connection: close", "", ""]
        with socket.create_connection(self._address, timeout=self.timeout) as sock:
            sock.sendall("\r\n".join(lines).encode("latin-1"))
            received = bytearray()
            while b"\r\n\r\n" not in received:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
            head, separator, body = bytes(received).partition(b"\r\n\r\n")
            status_line, *header_lines = head.decode("latin-1").split("\r\n")
            protocol, _, rest = status_line.partition(" ")
            if not separator or not protocol.startswith("HTTP/") or not rest[:3].isdigit():
                raise ConnectionError(f"not an HTTP answer: {bytes(received[:60])!r}")
            headers = {
                name.strip().lower(): value.strip()
                for name, _, value in (line.partition(":") for line in header_lines)
            }
            rest_of_body = bytearray(body)
            length = headers.get("content-length")
            while length is None or len(rest_of_body) < int(length):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                rest_of_body += chunk
        data = bytes(rest_of_body)
        if headers.get("transfer-encoding", "").lower() == "chunked":
            data = _dechunked(data)
        elif length is not None:
            data = data[: int(length)]
        return int(rest[:3]), data

    def _get_urllib(self, target: str) -> tuple[int, bytes]:
        import urllib.error
        import urllib.request

        request = urllib.request.Request(self.base_url + target, headers=self._headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, bytes(exc.read())

    def get_json(self, path: str, params: Mapping[str, object | None] | None = None) -> Any:
        """`get`, decoded: the JSON as the server sent it (`json.loads`'s types).

        The shapes are those of the models of `conflux.projections.api` (the server
        dumps them); `ApiClient` validates them into those models.
        """
        return json.loads(self.get(path, params))

    def run_json(self, run_id: str) -> dict[str, Any]:
        """One run as JSON (the fields of `RunSummary`). Raises `NotFoundError`."""
        found: dict[str, Any] = self.get_json(f"/runs/{quote(run_id, safe='')}")
        return found

    def resolve_selection(self, q: str) -> list[str]:
        """The asset keys a selection names. Raises `SelectionError` with the reason."""
        data = self.get_json("/selection", {"q": q})
        return [str(k) for k in data["asset_keys"]]

    def validate_partition(
        self, asset_key: str, partition: str | None, *, to: str | None = None
    ) -> None:
        """Check an asset and partition (or the range `partition..to`) before writing.

        Raises:
            SelectionError: the asset is not defined.
            InvalidPartitionKeyError: the partition (or `to`) is not one of the asset's
                keys, or the range is empty (`partition` comes after `to`).
            DefinitionError: a partitioned asset got no partition, or the reverse.
        """
        self.get(
            f"/assets/{quote(asset_key, safe='')}/validate-partition",
            {"partition": partition, "to": to},
        )
