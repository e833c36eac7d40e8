/**
 * A run's logs on its page: what each attempt wrote with `context.log`, on stdout and on
 * stderr (`/runs/<id>/logs`), one section per attempt in the order they began, fetched
 * incrementally (`after` = the last answer's cursor) while the run is live. The failures
 * card shows the failed attempt's last lines under its traceback (`tailFor`).
 */

import { ApiError, getJSON, url } from "./api.js";
import { fill, fmtInt, h } from "./dom.js";

const TAIL = 20;

/** `asset#partition#attempt`: how lines, failures and sections find each other. */
export function attemptKey(asset, partition, attempt) {
  return `${asset}#${partition ?? ""}#${attempt}`;
}

function lineText(l) {
  const at = l.time ? l.time.slice(11, 23) : "-";
  const what = l.stream === "log" ? l.level : l.stream;
  return `${at}  ${what.padEnd(7)} ${l.message}`;
}

export class RunLogs {
  constructor(runId) {
    this.runId = runId;
    this.cursor = null;
    this.attempts = new Map(); // key -> {asset, partition, attempt, lines: []}
    this.dropped = new Map();
    this.seen = new Set();
    this.unavailable = null;
    this.element = h("div", { class: "run-logs" }, h("p", { class: "muted" }, "Loading…"));
  }

  /** Fetch what was archived since the last call, and redraw. */
  async refresh() {
    let data;
    try {
      data = await getJSON(url(`/runs/${encodeURIComponent(this.runId)}/logs`, this.cursor ? { after: this.cursor } : {}));
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        this.unavailable = error.message;
        this.render();
        return;
      }
      throw error;
    }
    this.cursor = data.cursor ?? this.cursor;
    for (const l of data.lines) {
      const seen = `${l.work_item_id}#${l.attempt}#${l.seq}`;
      if (this.seen.has(seen)) continue;
      this.seen.add(seen);
      const key = attemptKey(l.asset_key, l.partition_key, l.attempt);
      if (!this.attempts.has(key)) this.attempts.set(key, { asset: l.asset_key, partition: l.partition_key, attempt: l.attempt, lines: [] });
      this.attempts.get(key).lines.push(l);
    }
    for (const d of data.dropped) this.dropped.set(attemptKey(d.asset_key, d.partition_key, d.attempt), d.dropped);
    this.render();
  }

  /** The last lines of one attempt, as a `<pre>` (null when it wrote none). */
  tailFor(asset, partition, attempt) {
    const found = this.attempts.get(attemptKey(asset, partition, attempt));
    if (!found || !found.lines.length) return null;
    const tail = found.lines.slice(-TAIL);
    return h(
      "div",
      null,
      h("p", { class: "muted small" }, `Last ${tail.length} of ${fmtInt(found.lines.length)} log line(s) of attempt ${attempt} (all of them in Logs below; \`conflux logs ${this.runId}\`):`),
      h("pre", { class: "traceback logs" }, tail.map(lineText).join("\n")),
    );
  }

  render() {
    if (this.unavailable) {
      fill(this.element, h("p", { class: "muted" }, this.unavailable));
      return;
    }
    if (!this.attempts.size) {
      fill(this.element, h("p", { class: "muted" }, `No lines yet. In a terminal: conflux logs ${this.runId} --follow`));
      return;
    }
    const open = new Set([...this.element.querySelectorAll("details[open]")].map((d) => d.dataset.key));
    const only = this.attempts.size === 1;
    fill(
      this.element,
      [...this.attempts.entries()].map(([key, a]) => {
        const dropped = this.dropped.get(key);
        return h(
          "details",
          { class: "attempt-logs", open: open.has(key) || only, dataset: { key } },
          h(
            "summary",
            null,
            h("b", null, a.asset),
            a.partition ? h("span", { class: "mono" }, ` [${a.partition}]`) : null,
            h("span", { class: "muted small" }, ` · attempt ${a.attempt} · ${fmtInt(a.lines.length)} line(s)${dropped ? ` · ${fmtInt(dropped)} more counted, not kept` : ""}`),
          ),
          h("pre", { class: "traceback logs" }, a.lines.map(lineText).join("\n")),
        );
      }),
    );
  }
}
