"""`ApiTransport`: the query API's JSON over HTTP, with its typed errors (no pydantic).

`ApiClient` reads through it and returns models. A caller that only passes the answer on
(`conflux status --json`) or reads a few fields of it (`conflux materialize --wait`
polling its run) uses the transport alone and never imports pydantic, which costs more
than the rest of such a command.

Errors come back typed: the server names the error class (`kind`) and the transport
raises that class with the server's one-line message, so `conflux` prints the same line
the server would. A server that does not answer is `ApiUnavailableError`.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

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

        public: list[str] = getattr(conflux.events, "__all__", [])
        found = getattr(conflux.events, kind) if kind in public else None
        cls = found if isinstance(found, type) and issubclass(found, ConfluxError) else ConfluxError
    try:
        return cls(message)
    except TypeError:  # an error class with required keyword fields
        return ConfluxError(message)


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

    def get(self, path: str, params: Mapping[str, object | None] | None = None) -> bytes:
        """The body of `GET path?params` (None values left out; "" is sent as given).

        Raises:
            ApiUnavailableError: the server did not answer.
            ConfluxError: the server's error, as the class it names (`NotFoundError`,
                `SelectionError`, ...).
        """
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        url = self.base_url + path + (f"?{urlencode(query)}" if query else "")
        try:
            request = urllib.request.Request(url, headers=self._headers)
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                data: bytes = response.read()
                return data
        except urllib.error.HTTPError as exc:
            raise _raise_for(exc.read(), exc.code, self.base_url) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ApiUnavailableError(
                f"query API at {self.base_url} did not answer ({reason}): is `conflux dev` "
                "running? start it, or set CONFLUX_API"
            ) from exc

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
