"""`ApiTransport`: the query API's JSON without pydantic, over a socket on this machine.

`conflux status` and `conflux materialize --wait` read through it; importing pydantic or
urllib's client would cost those commands more than their requests.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

import pytest
from projection_builders import run_story

from conflux.projections.api import ApiTransport, NotFoundError
from conflux.projections.projector import QueryApi, ReadModel

if TYPE_CHECKING:
    from collections.abc import Iterator


class _Odd(BaseHTTPRequestHandler):
    """Answers the way a proxy in front of an API might: chunked, redirected, guarded."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/plain")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b'{"ready": ', b"true}"):
                self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif self.headers.get("Authorization") != "Bearer t0ken":
            body = json.dumps({"error": "no token", "kind": "NotFoundError"}).encode()
            self.send_response(401)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")


@pytest.fixture
def odd_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Odd)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_chunked_answers_redirects_and_the_token(odd_url: str) -> None:
    api = ApiTransport(odd_url, timeout=5.0, token="t0ken")
    assert api.get_json("/chunked") == {"ready": True}
    assert api.get_json("/moved") == {}  # followed (by urllib)
    assert api.get_json("/plain") == {}
    with pytest.raises(NotFoundError, match="no token"):
        ApiTransport(odd_url, timeout=5.0, token="").get("/plain")


def test_status_is_read_without_pydantic_or_urllib() -> None:
    model = ReadModel()
    model.apply_all(run_story())
    with QueryApi(model, port=0) as api:
        code = (
            "import sys; from conflux.projections.api import ApiTransport; "
            f"report = ApiTransport({api.url!r}).get_json('/status'); "
            "print(sorted(report)); "
            "print([m for m in ('pydantic', 'urllib.request', 'http.client') if m in sys.modules])"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
        ).stdout.splitlines()
        assert out[1] == "[]"
        assert "ready" in out[0] and "not_ready" in out[0]
