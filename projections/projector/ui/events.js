/**
 * An event history table (newest first) that stays live.
 *
 * A summary from the stream is drawn as a row at once, from the summary alone (time,
 * type, partition, run): that is what makes an event show within milliseconds of being
 * folded. A coalesced fetch of `/events?...&after=` then fills in the details (data
 * version, error, the full JSON) of the rows it finds.
 */

import { getJSON, url } from "./api.js";
import { assetLink, fill, fmtInt, fmtTime, h, runLink } from "./dom.js";
import { coalesce } from "./live.js";

const MAX_ROWS = 500;

/** The colour class of an event type's label. */
function typeClass(type, event) {
  switch (type) {
    case "AssetMaterialized":
      return "st-materialized";
    case "PartitionFailed":
    case "WorkItemAbandoned":
    case "LocationLoadFailed":
      return "st-failed";
    case "PartitionStarted":
    case "WorkItemDispatched":
      return "st-in_progress";
    case "WorkItemSkipped":
      return "st-skipped";
    case "AssetCheckEvaluated":
      return event ? (event.passed ? "st-passed" : "st-failed") : "st-neutral";
    case "RunCompleted":
      return event ? `st-${event.status}` : "st-neutral";
    default:
      return "st-neutral";
  }
}

/** How many lines the attempt wrote (its logs are on the run's page). */
function logsNote(event) {
  return event.log_lines ? ` · ${fmtInt(event.log_lines)} log line${event.log_lines === 1 ? "" : "s"} (run page)` : "";
}

/** One line about what an event says, from its full JSON. */
export function describeEvent(type, event) {
  if (!event) return "";
  switch (type) {
    case "AssetMaterialized": {
      const meta = Object.keys(event.metadata ?? {});
      return `data version ${event.data_version}${event.source === "reported" ? " · reported" : ""}${meta.length ? ` · ${meta.length} metadata` : ""}${event.duration_ms != null ? ` · ${Math.round(event.duration_ms)} ms` : ""}${logsNote(event)}`;
    }
    case "PartitionFailed":
      return `${event.error_type}: ${event.message}${logsNote(event)}`;
    case "PartitionStarted":
      return `attempt ${event.attempt ?? 1} on ${event.worker_id ?? "?"}`;
    case "WorkItemDispatched":
      return `attempt ${event.attempt ?? 1} to ${event.location ?? "?"}`;
    case "WorkItemSkipped":
      return event.reason ?? "";
    case "AssetCheckEvaluated":
      return `check ${event.check_name ?? ""} ${event.passed ? "passed" : "failed"}`;
    case "MaterializationRequested":
      return `${event.selection ?? ""} by ${event.requested_by ?? "?"}${event.tags?.trigger ? ` (${event.tags.trigger})` : ""}`;
    case "RunCompleted":
      return `${event.status}${event.reason ? `: ${event.reason}` : ""}`;
    case "AutomationEvaluated":
      return event.result?.detail ?? event.result?.condition ?? "";
    default:
      return "";
  }
}

/**
 * A live, newest-first event table.
 */
export class EventList {
  /**
   * @param {{params: Record<string, string>, matches: (summary: any) => boolean,
   *   showAsset?: boolean, limit?: number}} options `params`: the `/events` filter
   */
  constructor({ params, matches, showAsset = false, limit = 100 }) {
    this.params = params;
    this.matches = matches;
    this.showAsset = showAsset;
    this.limit = limit;
    /** @type {Map<number, {record: any, row: HTMLTableRowElement}>} */
    this.rows = new Map();
    this.pending = new Set();
    this.maxFull = 0;
    this.body = h("tbody");
    this.count = h("span", { class: "muted" });
    this.more = h("button", { type: "button", class: "link", onclick: () => this.load(this.limit * 5) }, "show older");
    this.element = h(
      "div",
      { class: "event-list" },
      h(
        "table",
        { class: "table events" },
        h("thead", null, h("tr", null, h("th", null, "time"), h("th", null, "event"), this.showAsset ? h("th", null, "asset") : null, h("th", null, "partition"), h("th", null, "run"), h("th", null, "details"))),
        this.body,
      ),
      h("div", { class: "list-foot" }, this.count, " ", this.more),
    );
    this.upgrade = coalesce(() => this.fetchNew(), 100);
  }

  /**
   * (Re)load the newest `limit` events. Rows the stream drew while the answer was on its
   * way (history comes from the archive, which may answer after newer events arrived)
   * stay on top, and get their details like any other.
   */
  async load(limit = this.limit) {
    this.limit = limit;
    const records = await getJSON(url("/events", { ...this.params, limit }));
    const answered = new Set(records.map((r) => r.seq));
    const newest = records.length ? records[records.length - 1].seq : 0;
    const live = [...this.rows.values()]
      .map((entry) => entry.record)
      .filter((record) => record.event === null && record.seq > newest && !answered.has(record.seq))
      .sort((a, b) => b.seq - a.seq);
    this.rows.clear();
    this.pending.clear();
    fill(this.body);
    const rows = live.map((record) => this.makeRow(record));
    for (let i = records.length - 1; i >= 0; i--) rows.push(this.makeRow(records[i]));
    this.body.append(...rows);
    this.maxFull = records.length ? newest : this.maxFull;
    this.more.hidden = records.length < limit;
    this.updateCount();
    this.element.dataset.loaded = "true";
    if (live.length) {
      for (const record of live) this.pending.add(record.seq);
      this.upgrade();
    }
  }

  updateCount() {
    const n = this.rows.size;
    this.count.textContent = n ? `${fmtInt(n)} event${n === 1 ? "" : "s"} shown, newest first` : "No events yet.";
  }

  makeRow(record) {
    const event = record.event ?? null;
    const row = h(
      "tr",
      { class: "ev-row", dataset: { seq: String(record.seq), eventId: record.event_id ?? event?.event_id ?? "" } },
      h("td", { class: "nowrap mono small", title: record.time }, fmtTime(record.time)),
      h("td", null, h("span", { class: `ev-type ${typeClass(record.type, event)}` }, record.type)),
      this.showAsset ? h("td", null, record.asset_key ? record.asset_key.split(",").map((k, i) => [i ? ", " : "", assetLink(k)]) : "—") : null,
      h("td", { class: "mono small" }, record.partition_key ?? "—"),
      h("td", null, runLink(record.run_id)),
      h("td", { class: "detail" }, describeEvent(record.type, event)),
    );
    row.addEventListener("click", (e) => {
      if (e.target.closest("a")) return;
      this.toggleJson(record.seq);
    });
    this.rows.set(record.seq, { record, row });
    return row;
  }

  toggleJson(seq) {
    const entry = this.rows.get(seq);
    if (!entry) return;
    const next = entry.row.nextElementSibling;
    if (next?.classList.contains("ev-json")) {
      next.remove();
      return;
    }
    const text = entry.record.event ? JSON.stringify(entry.record.event, null, 2) : "loading…";
    const cols = this.showAsset ? 6 : 5;
    entry.row.after(h("tr", { class: "ev-json" }, h("td", { colspan: cols }, h("pre", null, text))));
  }

  /**
   * Stream summaries: draw the matching ones now, fetch their details soon.
   * @param {any[]} batch
   */
  onSummaries(batch) {
    const fresh = [];
    for (const summary of batch) {
      if (!this.matches(summary) || this.rows.has(summary.seq)) continue;
      fresh.push(this.makeRow({ ...summary, event: null }));
      this.pending.add(summary.seq);
    }
    if (!fresh.length) return;
    fresh.reverse();
    this.body.prepend(...fresh);
    while (this.body.children.length > MAX_ROWS) {
      const last = this.body.lastElementChild;
      this.rows.delete(Number(last.dataset.seq));
      last.remove();
    }
    this.updateCount();
    this.upgrade();
  }

  async fetchNew() {
    if (!this.pending.size) return;
    const after = Math.min(this.maxFull, Math.min(...this.pending) - 1);
    const records = await getJSON(url("/events", { ...this.params, after, limit: 500 }));
    for (const record of records) {
      this.maxFull = Math.max(this.maxFull, record.seq);
      this.pending.delete(record.seq);
      const entry = this.rows.get(record.seq);
      if (!entry) continue;
      const open = entry.row.nextElementSibling?.classList.contains("ev-json");
      const row = this.makeRow(record);
      entry.row.replaceWith(row);
      if (open) {
        row.nextElementSibling?.remove();
        this.toggleJson(record.seq);
      }
    }
    this.pending.clear();
  }

  destroy() {
    this.upgrade.cancel();
  }
}
