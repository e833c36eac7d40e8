"""Debian's Chromium, driven headless by Playwright, for the web UI's tests and benchmark.

Nothing here downloads a browser: Playwright is pointed at /usr/bin/chromium, and its
absence is a failure that says how to install it.
"""

from __future__ import annotations

import contextlib
import json
import os
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser, Page

CHROMIUM = Path(os.environ.get("CONFLUX_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "ui"


def require_chromium() -> Path:
    """The system Chromium's path; an AssertionError that says how to get it if absent."""
    assert CHROMIUM.exists(), (
        f"no Chromium at {CHROMIUM}: the web UI's browser tests drive Debian's Chromium"
        " (nothing downloads a browser): run `apt-get install chromium`"
    )
    return CHROMIUM


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium, closed on exit whatever happened."""
    from playwright.sync_api import sync_playwright

    path = require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(path), headless=True)
        try:
            yield browser
        finally:
            browser.close()


def ui_url(lines: list[str]) -> str:
    """The UI's base URL from what `conflux dev` printed (`UI: http://...:PORT/`)."""
    for line in lines:
        if line.startswith("UI: "):
            return line.split()[1].rstrip("/")
    raise AssertionError(f"dev printed no `UI:` line: {''.join(lines)}")


def api(base: str, path: str) -> Any:
    """GET a JSON endpoint of the query API."""
    with urllib.request.urlopen(base + path, timeout=10) as answer:
        return json.load(answer)


def api_post(base: str, path: str, body: object) -> Any:
    """POST JSON to the query API (an action), as the UI does."""
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as tests/artifacts/ui/<name>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def rendered(page: Page, view: str, timeout_ms: float = 15_000) -> float:
    """Wait until the UI says `view` has drawn; its time in ms since navigation start."""
    page.wait_for_function(
        "v => window.__conflux_rendered && window.__conflux_rendered[v] !== undefined",
        arg=view,
        timeout=timeout_ms,
    )
    return float(page.evaluate("v => window.__conflux_rendered[v]", view))


def navigate(page: Page, hash_route: str, view: str) -> float:
    """Go to a route by its hash (no reload) and wait until `view` has drawn."""
    page.evaluate("h => { window.__conflux_rendered = {}; location.hash = h; }", hash_route)
    return rendered(page, view)
