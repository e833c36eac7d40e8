/**
 * Automation (`#/automation`): schedules and sensors with their status and last tick,
 * start/stop buttons (the `instigator` action), and the code locations.
 */

import { act } from "./actions.js";
import { getJSON } from "./api.js";
import { fill, fmtAgo, fmtTime, h, markRendered, pill } from "./dom.js";
import { coalesce, subscribe } from "./live.js";

/** Event types that change what this page shows. */
const TYPES = new Set([
  "InstigatorStatusChanged",
  "SensorCursorSet",
  "TickRequested",
  "TickCompleted",
  "DefinitionsPublished",
  "LocationLoadFailed",
  "LocationReloadRequested",
]);

function lastTick(tick) {
  if (!tick) return h("span", { class: "muted" }, "never");
  return h(
    "span",
    { title: tick.completed_at },
    pill(tick.status),
    ` ${fmtTime(tick.tick_time)} `,
    h("span", { class: "muted" }, `(${fmtAgo(tick.completed_at)})`),
    tick.run_requests ? ` · ${tick.run_requests} run${tick.run_requests === 1 ? "" : "s"}` : "",
    tick.skip_reason ? h("div", { class: "muted small" }, tick.skip_reason) : null,
    tick.error ? h("div", { class: "error small" }, tick.error) : null,
  );
}

function toggle(item) {
  const running = item.status === "running";
  const button = h("button", { type: "button", class: running ? "" : "primary", dataset: { name: item.name } }, running ? "Stop" : "Start");
  button.addEventListener("click", () =>
    act(
      "instigator",
      { type: item.instigator_type, name: item.name, running: !running },
      { button, success: (r) => `${item.instigator_type} ${r.name ?? item.name} is ${r.status ?? (running ? "stopped" : "running")}` },
    ),
  );
  return button;
}

function table(items, kind) {
  if (!items.length) return h("p", { class: "muted" }, `No ${kind}s defined.`);
  const schedule = kind === "schedule";
  return h(
    "table",
    { class: `table instigators ${kind}s` },
    h("thead", null, h("tr", null, ["name", "status", schedule ? "cron" : "interval", "targets", "last tick", schedule ? "next tick" : "cursor", ""].map((t) => h("th", null, t)))),
    h(
      "tbody",
      null,
      items.map((item) =>
        h(
          "tr",
          { dataset: { name: item.name, status: item.status } },
          h("td", null, h("b", null, item.name), h("div", { class: "muted small" }, item.location, item.kind !== kind ? ` · ${item.kind}` : "")),
          h("td", null, pill(item.status), item.in_flight ? h("span", { class: "muted small" }, ` · ${item.in_flight} in flight`) : null),
          h("td", { class: "mono small" }, schedule ? `${item.cron_schedule ?? "—"} ${item.execution_timezone ?? ""}` : item.minimum_interval_seconds != null ? `every ${item.minimum_interval_seconds} s` : "—"),
          h(
            "td",
            { class: "small" },
            item.asset_keys.map((k, i) => [i ? ", " : "", h("a", { href: `#/assets/${encodeURIComponent(k)}` }, k)]),
            item.monitored_asset_keys?.length ? h("div", { class: "muted" }, `watches ${item.monitored_asset_keys.join(", ")}`) : null,
          ),
          h("td", { class: "small" }, lastTick(item.last_tick), item.last_error && item.last_error !== item.last_tick ? h("div", { class: "error small" }, `last error: ${item.last_error.error ?? ""}`) : null),
          h("td", { class: "small mono" }, schedule ? fmtTime(item.next_tick) : (item.cursor ?? "—")),
          h("td", null, toggle(item)),
        ),
      ),
    ),
  );
}

function locations(list) {
  if (!list.length) return h("p", { class: "muted" }, "No code location has reported yet.");
  return h(
    "table",
    { class: "table locations" },
    h("thead", null, h("tr", null, ["location", "status", "assets", "workers", "python", "updated"].map((t) => h("th", null, t)))),
    h(
      "tbody",
      null,
      list.map((l) =>
        h(
          "tr",
          null,
          h("td", null, h("b", null, l.name)),
          h("td", null, pill(l.status), l.last_error ? h("details", null, h("summary", { class: "error small" }, `${l.last_error.error_type}: ${l.last_error.message}`), h("pre", { class: "traceback" }, l.last_error.traceback)) : null),
          h("td", { class: "num" }, l.asset_count),
          h("td", { class: "num" }, l.workers_alive),
          h("td", { class: "small mono" }, l.python_version ?? "—"),
          h("td", { class: "small" }, fmtTime(l.updated)),
        ),
      ),
    ),
  );
}

/**
 * @param {HTMLElement} root
 */
export function mountAutomation(root) {
  let destroyed = false;
  const schedules = h("div", null, h("p", { class: "muted" }, "Loading…"));
  const sensors = h("div");
  const locs = h("div");
  fill(
    root,
    h("div", { class: "crumbs" }, "Automation"),
    h("section", { class: "card" }, h("h2", null, "Schedules"), schedules),
    h("section", { class: "card" }, h("h2", null, "Sensors"), sensors),
    h("section", { class: "card" }, h("h2", null, "Code locations"), locs),
  );

  async function load() {
    const [all, found] = await Promise.all([getJSON("/instigators"), getJSON("/locations")]);
    if (destroyed) return;
    fill(schedules, table(all.filter((i) => i.instigator_type === "schedule"), "schedule"));
    fill(sensors, table(all.filter((i) => i.instigator_type === "sensor"), "sensor"));
    fill(locs, locations(found));
    markRendered("automation");
  }

  const refresh = coalesce(load, 100);
  const unsubscribe = subscribe({
    onEvents(batch) {
      if (batch.some((s) => TYPES.has(s.type))) refresh();
    },
    onReset: refresh,
  });
  const ticker = setInterval(refresh, 5000); // "x s ago" and worker liveness age
  load().catch((error) => fill(schedules, h("p", { class: "error" }, `Could not load schedules and sensors: ${error.message}`)));
  return {
    destroy() {
      destroyed = true;
      unsubscribe();
      refresh.cancel();
      clearInterval(ticker);
    },
  };
}
