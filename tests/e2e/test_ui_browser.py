"""The web UI in a real browser: Debian's Chromium, headless, against `conflux dev`.

The tests open the asset graph, go to an asset, launch a materialization from the UI and
watch it finish live (the page is never reloaded), check the partition map against the
API, read the runs list and a failed run's traceback, report a materialization, launch a
backfill and start and stop a schedule. Screenshots land in tests/artifacts/ui/.
The definitions: tests/e2e/ui_defs.py. Without /usr/bin/chromium the tests fail and say
`apt-get install chromium`.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dev_process
import pytest
import ui_browser
from ui_browser import api, api_post, navigate, rendered, screenshot

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.e2e

DEFS = Path(__file__).with_name("ui_defs.py")
ASSETS = {
    "raw_orders",
    "daily_revenue",
    "sales_report",
    "regional_stock",
    "flaky_export",
    "inventory",
}
MARKER = "window.__conflux_test_marker"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with ui_browser.chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[str]:
    """The UI's base URL of a running `conflux dev` on tests/e2e/ui_defs.py."""
    project = tmp_path_factory.mktemp("ui")
    shutil.copy(DEFS, project / "definitions.py")
    broker = os.environ.get("CONFLUX_TEST_BROKER", "kafka")
    with dev_process.running_dev(
        project / "definitions.py", project / ".conflux", broker, prefix="e2e-ui"
    ) as (_, lines):
        yield ui_browser.ui_url(lines)


@pytest.fixture
def page(browser: Browser, base: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"the page raised: {errors}"


def open_ui(page: Page, base: str, route: str, view: str) -> float:
    """Load the UI at a route (or go there by hash if it is loaded already)."""
    if page.url.startswith(base):
        return navigate(page, route, view)
    page.goto(f"{base}/{route}")
    return rendered(page, view)


def mark_page(page: Page) -> None:
    """Set a marker that a reload would wipe out."""
    page.evaluate(f"{MARKER} = 'still here'")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate(MARKER) == "still here", "the page was reloaded"


def run_id_from_message(page: Page) -> str:
    """The run id the last action's message links to."""
    link = page.locator(".message.ok a[href^='#/runs/']").first
    link.wait_for(timeout=15_000)
    href = link.get_attribute("href")
    assert href is not None
    return href.rsplit("/", 1)[1]


def test_the_graph_shows_every_asset_and_its_dependencies(page: Page, base: str) -> None:
    took = open_ui(page, base, "#/", "graph")
    nodes = page.locator("svg.graph-svg .node")
    labels = {nodes.nth(i).get_attribute("aria-label") for i in range(nodes.count())}
    assert labels == ASSETS == {a["key"] for a in api(base, "/assets")}
    edges = page.locator("svg.graph-svg path.edges:not(.hits)")
    assert edges.get_attribute("data-count") == "2"  # raw_orders -> daily_revenue -> report
    groups = page.locator("svg.graph-svg .labels text").all_text_contents()
    assert sorted(groups) == ["ops", "sales"]  # one location: groups by name alone
    page.fill("input.search", "revenue")
    assert page.locator("svg.graph-svg .node.match").count() == 1
    screenshot(page, "graph-search")
    page.fill("input.search", "")
    screenshot(page, "graph")
    assert took < 10_000
    # pan and zoom move the viewBox only
    svg = page.locator("svg.graph-svg")
    before = svg.get_attribute("viewBox")
    box = svg.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 40, box["y"] + 40)
    page.mouse.wheel(0, 400)  # out: a CSS transform at once, the viewBox once it pauses
    changed = "v => document.querySelector('svg.graph-svg').getAttribute('viewBox') !== v"
    page.wait_for_function(changed, arg=before)
    zoomed = svg.get_attribute("viewBox")
    page.mouse.down()
    page.mouse.move(box["x"] + 140, box["y"] + 90, steps=5)
    page.mouse.up()
    page.wait_for_function(changed, arg=zoomed)
    assert page.url.endswith("#/")  # a drag is not a click on a node


def test_an_unknown_asset_says_so(page: Page, base: str) -> None:
    page.goto(f"{base}/#/assets/no_such_asset")
    page.get_by_role("link", name="Back to the asset graph").wait_for(timeout=15_000)
    assert "no_such_asset" in (page.locator("main").text_content() or "")


def test_a_click_on_a_node_opens_its_asset_page(page: Page, base: str) -> None:
    open_ui(page, base, "#/", "graph")
    mark_page(page)
    page.locator("svg.graph-svg .node[aria-label='daily_revenue']").click()
    rendered(page, "asset")
    assert page.url.endswith("#/assets/daily_revenue")
    assert page.locator("h1.asset-title").text_content() == "daily_revenue"
    assert "raw_orders" in (page.locator(".page-head .facts").text_content() or "")
    assert_not_reloaded(page)


def test_a_materialization_launched_from_the_ui_finishes_live(page: Page, base: str) -> None:
    open_ui(page, base, "#/assets/raw_orders", "partitions")
    mark_page(page)
    legend = page.locator(".partition-legend [data-status='materialized']")
    assert legend.get_attribute("data-count") == "0"
    page.get_by_role("button", name="Materialize…").click()
    form = page.locator("form[aria-label='Materialize']")
    form.locator("select[name='mode']").select_option("range")
    form.locator("input[name='from']").fill("2024-01-01")
    form.locator("input[name='to']").fill("2024-01-05")
    form.get_by_role("button", name="Materialize", exact=True).click()
    run_id = run_id_from_message(page)
    # the map, the header and the history follow the events, with no reload
    page.wait_for_function(
        "() => document.querySelector(\".partition-legend [data-status='materialized']\")"
        "?.dataset.count === '5'",
        timeout=60_000,
    )
    history = page.locator(".event-list tr.ev-row")
    assert history.filter(has_text="AssetMaterialized").count() >= 5
    assert history.first.get_attribute("data-seq") is not None
    assert_not_reloaded(page)
    screenshot(page, "asset-after-materialize")
    # follow the message's link to the run page: it ends successful, live
    page.locator(f".message.ok a[href='#/runs/{run_id}']").first.click()
    rendered(page, "run")
    page.locator(".page-head .pill[data-status='success']").wait_for(timeout=60_000)
    bars = page.locator(".timeline-svg rect.bar")
    assert bars.count() == 5
    assert_not_reloaded(page)
    screenshot(page, "run-success")


def test_the_partition_map_legend_matches_the_api(page: Page, base: str) -> None:
    for key, shape in (("raw_orders", "bar"), ("regional_stock", "grid")):
        open_ui(page, base, f"#/assets/{key}", "partitions")
        ranges: dict[str, Any] = api(base, f"/assets/{key}/partitions")
        shown = {
            item.get_attribute("data-status"): int(item.get_attribute("data-count") or -1)
            for item in page.locator(".partition-legend [data-status]").all()
        }
        expected = {s: ranges["counts"].get(s, 0) for s in shown}
        assert shown == expected, key
        assert sum(shown.values()) == ranges["total"]
        canvas = page.locator("canvas.partition-canvas")
        box = canvas.bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 10
        axis = page.locator(".partition-map + .axis").text_content() or ""
        if shape == "grid":
            assert "date (14)" in axis and "region (3)" in axis
        canvas.hover(position={"x": 5, "y": 5})
        tip = page.locator(".tooltip")
        tip.wait_for(state="visible")
        assert re.search(r"materialized|missing", tip.text_content() or "")
        screenshot(page, f"partitions-{shape}")


def test_the_runs_page_shows_the_manual_run(page: Page, base: str) -> None:
    if not api(base, "/runs?limit=1"):  # on its own (-k): make one
        api_post(base, "/actions/materialize", {"selection": "inventory"})
        dev_process.wait_for(lambda: api(base, "/runs?limit=1"))
    runs = api(base, "/runs?limit=1")
    open_ui(page, base, "#/runs", "runs")
    row = page.locator(f"tr[data-run-id='{runs[0]['run_id']}']")
    assert row.locator(".trigger").text_content() == "manual"
    assert row.locator(".pill").text_content() == f"✓ {runs[0]['status']}"
    screenshot(page, "runs")


def test_a_failed_run_page_shows_the_traceback(page: Page, base: str) -> None:
    open_ui(page, base, "#/assets/flaky_export", "asset")
    mark_page(page)
    page.get_by_role("button", name="Materialize…").click()
    page.locator("form[aria-label='Materialize']").get_by_role(
        "button", name="Materialize", exact=True
    ).click()
    run_id = run_id_from_message(page)
    navigate(page, f"#/runs/{run_id}", "run")
    page.locator(".page-head .pill[data-status='failed']").wait_for(timeout=60_000)
    failure = page.locator("details.failure").first
    failure.wait_for()
    assert "RuntimeError: the export server said no" in (failure.text_content() or "")
    traceback = failure.locator("pre.traceback")
    assert traceback.is_visible()  # the only failure is shown open
    assert "Traceback (most recent call last)" in (traceback.text_content() or "")
    assert_not_reloaded(page)
    screenshot(page, "run-failed")
    # and the graph says so
    navigate(page, "#/", "graph")
    node = page.locator("svg.graph-svg .node[aria-label='flaky_export']")
    assert "st-failed" in (node.get_attribute("class") or "")
    screenshot(page, "graph-statuses")


def test_report_shows_the_event_and_errors_show_in_the_message_area(page: Page, base: str) -> None:
    open_ui(page, base, "#/assets/daily_revenue", "asset")
    mark_page(page)
    page.get_by_role("button", name="Report a materialization…").click()
    form = page.locator("form[aria-label='Report a materialization']")
    form.locator("input[name='partition']").fill("1999-01-01")
    form.get_by_role("button", name="Report").click()
    error = page.locator(".message.error")
    error.wait_for(timeout=15_000)
    assert "1999-01-01" in (error.text_content() or "")
    form.locator("input[name='partition']").fill("2024-02-10")
    form.locator("input[name='data_version']").fill("by-hand-1")
    form.locator("textarea[name='metadata']").fill("rows=12\nsource=hand")
    form.get_by_role("button", name="Report").click()
    page.locator(".data-version", has_text="by-hand-1").wait_for(timeout=30_000)
    row = page.locator(".event-list tr.ev-row", has_text="2024-02-10").first
    row.wait_for()
    assert "AssetMaterialized" in (row.text_content() or "")
    metadata = page.locator("table.metadata").text_content() or ""
    assert "rows12" in metadata and "sourcehand" in metadata
    assert_not_reloaded(page)
    screenshot(page, "asset-reported")


def test_the_materialize_form_sends_a_run_config(page: Page, base: str) -> None:
    open_ui(page, base, "#/assets/flaky_export", "asset")
    mark_page(page)
    page.get_by_role("button", name="Materialize…").click()
    form = page.locator("form[aria-label='Materialize']")
    form.locator("textarea[name='run_config']").fill("{nope")
    form.get_by_role("button", name="Materialize", exact=True).click()
    error = page.locator(".message.error", has_text="not JSON")
    error.wait_for(timeout=15_000)
    config = '{"ops": {"flaky_export": {"config": {"retries": 2}}}}'
    form.locator("textarea[name='run_config']").fill(config)
    form.get_by_role("button", name="Materialize", exact=True).click()
    run_id = run_id_from_message(page)
    # A history read by type alone does not wait for the archive (only reads about an asset
    # partition do: docs/architecture.md), so the request may take a moment to be listed.
    deadline = time.monotonic() + 15
    while True:
        requests = api(base, "/events?type=MaterializationRequested&limit=1000")
        found = [r["event"] for r in requests if r["event"]["run_id"] == run_id]
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    [asked] = found
    assert asked["run_config"] == {"ops": {"flaky_export": {"config": {"retries": 2}}}}
    assert_not_reloaded(page)


def test_a_backfill_launched_from_the_ui_shows_its_progress(page: Page, base: str) -> None:
    open_ui(page, base, "#/backfills", "backfills")
    mark_page(page)
    form = page.locator("form[aria-label='Launch a backfill']")
    form.locator("input[name='selection']").fill("raw_orders")
    form.locator("input[name='from']").fill("2024-02-01")
    form.locator("input[name='to']").fill("2024-02-05")
    form.get_by_role("button", name="Launch backfill").click()
    page.locator(".message.ok", has_text="Backfill").wait_for(timeout=15_000)
    done = page.locator("tr[data-backfill-id][data-status='success']")
    done.wait_for(timeout=60_000)
    assert "5 / 5" in (done.text_content() or "")
    assert_not_reloaded(page)
    screenshot(page, "backfills")


def test_a_backfill_is_canceled_from_the_ui(page: Page, base: str) -> None:
    open_ui(page, base, "#/backfills", "backfills")
    form = page.locator("form[aria-label='Launch a backfill']")
    form.locator("input[name='selection']").fill("raw_orders*")
    form.locator("input[name='from']").fill("2024-01-01")
    form.locator("input[name='to']").fill("2024-02-29")
    form.get_by_role("button", name="Launch backfill").click()
    message = page.locator(".message.ok", has_text="Backfill").first
    message.wait_for(timeout=15_000)
    short = (message.text_content() or "").split()[1]
    row = page.locator(f"tr[data-backfill-id^='{short}']")
    cancel = row.get_by_role("button", name="Cancel")
    cancel.click()  # the first click asks,
    row.get_by_role("button", name="Really cancel?").click()  # the second one cancels
    page.locator(".message.ok", has_text="cancel requested").wait_for(timeout=15_000)
    page.locator(f"tr[data-backfill-id^='{short}'][data-status='canceled']").wait_for(
        timeout=60_000
    )
    screenshot(page, "backfill-canceled")


def test_schedules_start_and_stop_from_the_ui(page: Page, base: str) -> None:
    open_ui(page, base, "#/automation", "automation")
    mark_page(page)
    row = page.locator("table.schedules tr[data-name='nightly']")
    assert row.get_attribute("data-status") == "stopped"
    row.get_by_role("button", name="Start").click()
    page.locator("table.schedules tr[data-name='nightly'][data-status='running']").wait_for(
        timeout=15_000
    )
    screenshot(page, "automation")
    page.locator("table.schedules tr[data-name='nightly']").get_by_role(
        "button", name="Stop"
    ).click()
    page.locator("table.schedules tr[data-name='nightly'][data-status='stopped']").wait_for(
        timeout=15_000
    )
    assert_not_reloaded(page)
