"""The web UI in headless Chromium (Debian's, driven by Playwright) against `conflux dev`.

The project: 1,000 assets in 20 layers and 12 groups (each depends on one to three
assets of the layer before), and `big`, an hourly asset of 1,000,000 partitions, of
which scattered spans are materialized (reported straight onto the log) so that its
partition map has thousands of ranges. Measured, each in a fresh browser context (the
graph before `big`'s partitions are reported, the rest after; 5 s of quiet before each):

- graph: navigation start -> the asset graph of 1,001 nodes drawn (the page sets
  `window.__conflux_rendered.graph` after the frame that shows it);
- asset page: navigation start -> `big`'s partition map drawn;
- event -> DOM: with an asset's page open, an `AssetMaterialized` of it is produced
  (one at a time, 20 of them, 0.4 s apart); latency = when its row entered the page's
  event history (a MutationObserver's `Date.now()`) - the event's own `time` (same
  machine clock). Once on an unpartitioned asset's page, once on `big`'s, whose page
  also refetches the million partitions' ranges as events arrive.

Targets (issue 8): graph and asset page <= 1 s; an event shows <= 200 ms after it is
produced. Prints one JSON object.
"""

from __future__ import annotations

import json
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

import dev_process  # noqa: E402  (tests/e2e: starts and always stops `conflux dev`)
import ui_browser  # noqa: E402  (tests/e2e: the system Chromium, never a download)

from conflux.events import AssetMaterialized, EventProducer  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Sequence

    from playwright.sync_api import Browser, Page

    from conflux.cli._system import SystemInfo

TRIALS = 5
EVENTS = 20
SPANS = 3_000
"""Materialized spans of `big` (1 to 40 hours each): about twice as many ranges."""
PREFIX = "benchui"
SETTLE_S = 5
"""A pause before measuring, for what the system does after start or a burst of events."""
SMALL = "team_00_l00_00"
"""An unpartitioned asset of the 1,000 (the other latency figure is on `big`'s page)."""
BIG_START, BIG_END = "1900-01-01-00:00", "2014-01-29-16:00"  # exactly 1,000,000 hours

DEFINITIONS = f'''"""1,000 assets in 20 layers and 12 groups, and `big` (1,000,000 hours)."""

import random

from conflux import Definitions, HourlyPartitionsDefinition, asset

LAYERS, WIDTH, GROUPS = 20, 50, 12
rng = random.Random(7)
hours = HourlyPartitionsDefinition(start_date="{BIG_START}", end_date="{BIG_END}")


def make(name, deps, group):
    @asset(name=name, deps=deps, group_name=group)
    def body() -> None:
        return None

    return body


assets = []
previous = []
for layer in range(LAYERS):
    names = []
    for j in range(WIDTH):
        group = f"team_{{(j * GROUPS) // WIDTH:02d}}"
        name = f"{{group}}_l{{layer:02d}}_{{j:02d}}"
        near = [p for k, p in enumerate(previous) if abs(k - j) <= 4]
        deps = rng.sample(near, k=min(len(near), rng.randint(1, 3))) if near else []
        assets.append(make(name, deps, group))
        names.append(name)
    previous = names


@asset(partitions_def=hours, group_name="big")
def big() -> None:
    return None


defs = Definitions(assets=[*assets, big])
'''

SEEN_OBSERVER = """() => {
  window.__seen = {};
  const body = document.querySelector('.event-list tbody');
  new MutationObserver((mutations) => {
    const now = Date.now();
    for (const m of mutations) for (const n of m.addedNodes) {
      const id = n.dataset && n.dataset.eventId;
      if (id && !(id in window.__seen)) window.__seen[id] = now;
    }
  }).observe(body, { childList: true });
}"""


def stats(samples: list[float]) -> dict[str, Any]:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "first": round(samples[0], 1),
        "p50": round(statistics.median(ordered), 1),
        "p90": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 1),
        "max": round(ordered[-1], 1),
    }


def producer_for(info: SystemInfo) -> EventProducer:
    return EventProducer(
        info.bootstrap, info.topics, client_id="bench-ui", broker_kind=info.broker_kind, linger_ms=0
    )


def scatter(info: SystemInfo, keys: Sequence[str]) -> int:
    """Report materializations of `big` over random spans; how many partitions."""
    rng = random.Random(11)
    chosen: set[int] = set()
    for _ in range(SPANS):
        start = rng.randrange(len(keys))
        chosen.update(range(start, min(len(keys), start + rng.randint(1, 40))))
    with producer_for(info) as producer:
        for i in sorted(chosen):
            producer.emit(
                AssetMaterialized(
                    asset_key="big",
                    partition_key=keys[i],
                    data_version=f"seed-{i}",
                    source="reported",
                    producer="bench",
                )
            )
        producer.flush(timeout=60)
    return len(chosen)


def open_view(browser: Browser, url: str, view: str) -> tuple[Page, float]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto(url)
    return page, ui_browser.rendered(page, view, timeout_ms=60_000)


def render_times(browser: Browser, url: str, view: str) -> tuple[list[float], dict[str, float]]:
    """Navigation start -> view drawn, in fresh contexts; the last trial's marks."""
    times: list[float] = []
    marks: dict[str, float] = {}
    for _ in range(TRIALS):
        page, took = open_view(browser, url, view)
        times.append(took)
        marks = page.evaluate(
            "() => Object.fromEntries(performance.getEntriesByType('mark')"
            ".map(m => [m.name, Math.round(m.startTime)]))"
        )
        page.context.close()
    return times, marks


def event_latency(
    browser: Browser, base: str, info: SystemInfo, asset: str, keys: Sequence[str | None]
) -> list[float]:
    """Produce events one at a time; each one's time until its row is in the page."""
    page, _ = open_view(browser, f"{base}/#/assets/{asset}", "asset")
    try:
        page.wait_for_selector(".event-list[data-loaded]", state="attached", timeout=30_000)
        page.evaluate(SEEN_OBSERVER)
        rng = random.Random(13)
        samples: list[float] = []
        with producer_for(info) as producer:
            for i in range(EVENTS + 2):  # two to warm up
                event = AssetMaterialized(
                    asset_key=asset,
                    partition_key=keys[rng.randrange(len(keys))],
                    data_version=f"live-{i}",
                    source="reported",
                    producer="bench",
                )
                producer.emit(event)
                producer.flush(timeout=10)
                page.wait_for_function(
                    "id => window.__seen[id] !== undefined", arg=event.event_id, timeout=10_000
                )
                shown = float(page.evaluate("id => window.__seen[id]", event.event_id))
                if i >= 2:
                    samples.append(shown - event.time.timestamp() * 1000)
                time.sleep(0.4)
        return samples
    finally:
        page.context.close()


def run() -> dict[str, Any]:
    from conflux.cli._system import find_system
    from conflux.sdk import HourlyPartitionsDefinition

    keys = HourlyPartitionsDefinition(start_date=BIG_START, end_date=BIG_END).get_partition_keys()
    assert len(keys) == 1_000_000
    broker = os.environ.get("CONFLUX_BENCH_BROKER", "kafka")
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        (project / "definitions.py").write_text(DEFINITIONS)
        state = project / ".conflux"
        with (
            ui_browser.chromium() as browser,
            dev_process.running_dev(project / "definitions.py", state, broker, prefix=PREFIX) as (
                _,
                lines,
            ),
        ):
            base = ui_browser.ui_url(lines)
            version = browser.version
            info = find_system(state)
            assets = len(ui_browser.api(base, "/assets"))
            time.sleep(SETTLE_S)
            graph, graph_marks = render_times(browser, f"{base}/#/", "graph")
            materialized = scatter(info, keys)
            dev_process.wait_for(
                lambda: (
                    ui_browser.api(base, "/assets/big")["partitions"]["materialized"]
                    == materialized
                ),
                timeout=180,
            )
            time.sleep(SETTLE_S)  # the coordinator and the archive fold the same events
            ranges = len(ui_browser.api(base, "/assets/big/partitions")["ranges"])
            page, page_marks = render_times(browser, f"{base}/#/assets/big", "partitions")
            small = event_latency(browser, base, info, SMALL, [None])
            latency = event_latency(browser, base, info, "big", keys)
    return {
        "benchmark": "ui",
        "browser": f"Chromium {version} headless",
        "broker": broker,
        "assets": assets,
        "graph_render_ms": stats(graph),
        "graph_marks_ms": graph_marks,
        "partitions": len(keys),
        "materialized": materialized,
        "ranges": ranges,
        "asset_page_render_ms": stats(page),
        "asset_page_marks_ms": page_marks,
        "event_to_dom_ms": stats(small),
        "event_to_dom_big_page_ms": stats(latency),
        "target": {"graph_render_ms": 1000, "asset_page_render_ms": 1000, "event_to_dom_ms": 200},
    }


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if not ui_browser.CHROMIUM.exists():
        print(json.dumps({"benchmark": "ui", "skipped": "no Chromium: apt-get install chromium"}))
        return
    print(json.dumps(run()), flush=True)


if __name__ == "__main__":
    main()
