/**
 * Runs: the list (`#/runs`) and one run's page (`#/runs/<id>`) with its timeline (an SVG
 * Gantt chart, one row per asset partition), the error and traceback of each failure with
 * its attempt's last log lines, and every attempt's logs (`run_logs.js`).
 */

import { ApiError, getJSON, url } from "./api.js";
import { between, card, esc, facts, fill, fmtDuration, fmtInt, fmtTime, h, markRendered, pill, runLink } from "./dom.js";
import { EventList } from "./events.js";
import { coalesce, subscribe } from "./live.js";
import { RunLogs } from "./run_logs.js";

const RUN_STATUSES = ["queued", "started", "success", "failed", "canceled"];

/** A thin progress bar of a run's (or backfill's) counts. */
export function progressBar(total, parts) {
  const bar = h("div", { class: "progress", title: parts.map(([s, n]) => `${n} ${s}`).join(", ") });
  if (!total) return bar;
  for (const [status, n] of parts) {
    if (n > 0) bar.append(h("i", { class: `st-${status}`, style: { width: `${Math.min(100, (100 * n) / total)}%` } }));
  }
  return bar;
}

/** The counts of a run as small text. */
function runCounts(run) {
  const bits = [`${fmtInt(run.materialized)} ✓`];
  if (run.failed) bits.push(`${fmtInt(run.failed)} ✕`);
  if (run.skipped) bits.push(`${fmtInt(run.skipped)} skipped`);
  if (run.in_progress) bits.push(`${fmtInt(run.in_progress)} running`);
  return `${bits.join(" · ")} of ${fmtInt(run.partition_count)}`;
}

/**
 * The runs list, live.
 * @param {HTMLElement} root
 */
export function mountRuns(root) {
  let destroyed = false;
  const status = h("select", { "aria-label": "status" }, h("option", { value: "" }, "any status"), RUN_STATUSES.map((s) => h("option", { value: s }, s)));
  const limit = h("select", { "aria-label": "how many" }, [50, 200, 1000].map((n) => h("option", { value: String(n) }, `latest ${n}`)));
  const body = h("tbody");
  const foot = h("p", { class: "muted" });
  fill(
    root,
    h("div", { class: "crumbs" }, "Runs"),
    h("div", { class: "toolbar" }, h("label", null, "Status ", status), limit),
    h(
      "table",
      { class: "table runs" },
      h("thead", null, h("tr", null, ["status", "run", "trigger", "selection", "requested by", "started", "duration", "progress", "partitions"].map((t) => h("th", null, t)))),
      body,
    ),
    foot,
  );

  async function load() {
    const runs = await getJSON(url("/runs", { status: status.value, limit: limit.value }));
    if (destroyed) return;
    fill(
      body,
      runs.map((run) =>
        h(
          "tr",
          { dataset: { runId: run.run_id, status: run.status } },
          h("td", null, pill(run.status)),
          h("td", null, runLink(run.run_id)),
          h("td", null, h("span", { class: "tag trigger" }, run.trigger ?? "—")),
          h("td", { class: "mono small ellipsis", title: run.selection ?? "" }, run.selection ?? "—"),
          h("td", { class: "small" }, run.requested_by ?? "—"),
          h("td", { class: "nowrap small" }, fmtTime(run.started_at ?? run.requested_at)),
          h("td", { class: "nowrap small num" }, fmtDuration(between(run.started_at, run.completed_at))),
          h("td", null, progressBar(run.partition_count, [["materialized", run.materialized], ["failed", run.failed], ["skipped", run.skipped], ["in_progress", run.in_progress]])),
          h("td", { class: "small nowrap" }, runCounts(run), run.reason ? h("div", { class: "error small" }, run.reason) : null),
        ),
      ),
    );
    foot.textContent = runs.length ? `${runs.length} runs, newest first` : "No runs yet: materialize something from an asset's page.";
    markRendered("runs");
  }

  const refresh = coalesce(load, 100);
  status.addEventListener("change", refresh);
  limit.addEventListener("change", refresh);
  const unsubscribe = subscribe({
    onEvents(batch) {
      if (batch.some((s) => s.run_id)) refresh();
    },
    onReset: refresh,
  });
  // durations of running runs grow: redraw now and then even without events
  const ticker = setInterval(() => {
    if (body.querySelector('[data-status="started"], [data-status="queued"]')) refresh();
  }, 2000);
  load().catch((error) => fill(foot, h("span", { class: "error" }, `Could not load runs: ${error.message}`)));
  return {
    destroy() {
      destroyed = true;
      unsubscribe();
      refresh.cancel();
      clearInterval(ticker);
    },
  };
}

const ROW = 18;
const LABEL_W = 260;
const TIMELINE_LIMIT = 500;

/**
 * The timeline as SVG markup: one row per asset partition, a pale bar from dispatch to
 * start (waiting) and a solid bar from start to end, coloured by status.
 */
function timelineMarkup(parts, width, now) {
  const t = (iso) => (iso ? Date.parse(iso) : null);
  let t0 = Infinity;
  let t1 = -Infinity;
  for (const p of parts) {
    for (const v of [t(p.dispatched_at), t(p.started_at), t(p.ended_at)]) {
      if (v !== null) {
        t0 = Math.min(t0, v);
        t1 = Math.max(t1, v);
      }
    }
    if (!p.ended_at && (p.started_at || p.dispatched_at)) t1 = Math.max(t1, now);
  }
  if (!Number.isFinite(t0)) return null;
  const span = Math.max(1, t1 - t0);
  const plot = Math.max(100, width - LABEL_W - 16);
  const x = (v) => LABEL_W + ((v - t0) / span) * plot;
  const height = parts.length * ROW + 24;
  const out = [];
  // axis: 5 ticks
  for (let i = 0; i <= 4; i++) {
    const v = t0 + (span * i) / 4;
    const px = x(v);
    out.push(`<line class="tick" x1="${px}" x2="${px}" y1="16" y2="${height}"/>`);
    out.push(`<text class="tick-label" x="${px}" y="11" text-anchor="${i === 0 ? "start" : i === 4 ? "end" : "middle"}">+${esc(fmtDuration(v - t0))}</text>`);
  }
  parts.forEach((p, i) => {
    const y = 20 + i * ROW;
    const label = p.partition_key ? `${p.asset_key} [${p.partition_key}]` : p.asset_key;
    const shown = label.length > 38 ? `${label.slice(0, 37)}…` : label;
    out.push(`<text class="row-label" x="4" y="${y + 12}"><title>${esc(label)}</title>${esc(shown)}</text>`);
    const d = t(p.dispatched_at);
    const s = t(p.started_at);
    const e = t(p.ended_at) ?? (p.status === "in_progress" || p.status === "queued" ? now : null);
    if (d !== null && (s ?? e) !== null && (s ?? e) > d) {
      out.push(`<rect class="wait" x="${x(d)}" y="${y + 5}" width="${Math.max(1, x(s ?? e) - x(d))}" height="6"/>`);
    }
    const from = s ?? (p.status === "skipped" ? e : null);
    if (from !== null && e !== null) {
      const title = `${label}: ${p.status}${s !== null ? `, ran ${fmtDuration(e - s)}` : ""}${p.attempt > 1 ? `, attempt ${p.attempt}` : ""}`;
      out.push(
        `<rect class="bar st-${p.status}" x="${x(from)}" y="${y + 2}" width="${Math.max(2, x(e) - x(from))}" height="${ROW - 4}" rx="2"><title>${esc(title)}</title></rect>`,
      );
    }
  });
  return `<svg class="timeline-svg" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${out.join("")}</svg>`;
}

/**
 * One run's page, live.
 * @param {HTMLElement} root
 * @param {string} runId
 */
export function mountRun(root, runId) {
  let destroyed = false;
  const info = h("div");
  const head = h("div", { class: "page-head" }, h("h1", null, "Run ", h("span", { class: "mono run-id" }, runId)), info);
  const timeline = h("div", { class: "timeline" }, h("p", { class: "muted" }, "Loading…"));
  const timelineNote = h("p", { class: "muted small" });
  const failures = h("div", { class: "failures" });
  const failuresCard = card("Failures", failures);
  failuresCard.hidden = true;
  const events = new EventList({ params: { run: runId }, matches: (s) => s.run_id === runId, showAsset: true });
  const logs = new RunLogs(runId);
  fill(
    root,
    h("div", { class: "crumbs" }, h("a", { href: "#/runs" }, "Runs"), " / ", h("span", { class: "mono" }, runId)),
    head,
    card("Timeline", timelineNote, timeline),
    failuresCard,
    card("Logs", logs.element),
    card("Events", events.element),
  );
  let run = null;

  async function loadRun() {
    run = await getJSON(`/runs/${encodeURIComponent(runId)}`);
    if (destroyed) return;
    fill(
      info,
      h("div", { class: "title-row" }, pill(run.status), h("span", { class: "tag trigger" }, run.trigger ?? "—"), progressBar(run.partition_count, [["materialized", run.materialized], ["failed", run.failed], ["skipped", run.skipped], ["in_progress", run.in_progress]])),
      facts([
        ["selection", h("span", { class: "mono" }, run.selection ?? "—")],
        ["assets", run.asset_keys.length ? run.asset_keys.map((k, i) => [i ? ", " : "", h("a", { href: `#/assets/${encodeURIComponent(k)}` }, k)]) : "—"],
        ["requested by", run.requested_by ?? "—"],
        ["requested", fmtTime(run.requested_at)],
        ["started", fmtTime(run.started_at)],
        ["completed", fmtTime(run.completed_at)],
        ["duration", fmtDuration(between(run.started_at, run.completed_at))],
        ["partitions", runCounts(run)],
        ["reason", run.reason ? h("span", { class: "error" }, run.reason) : null],
      ]),
    );
  }

  async function loadTimeline() {
    const data = await getJSON(url(`/runs/${encodeURIComponent(runId)}/partitions`, { limit: TIMELINE_LIMIT }));
    if (destroyed) return;
    const parts = data.partitions;
    timelineNote.textContent =
      parts.length < data.total ? `Showing ${fmtInt(parts.length)} of ${fmtInt(data.total)} asset partitions (in dispatch order).` : `${fmtInt(data.total)} asset partition${data.total === 1 ? "" : "s"}: pale = waiting for a worker, solid = running to its outcome.`;
    const markup = parts.length ? timelineMarkup(parts, Math.max(600, timeline.clientWidth || 900), Date.now()) : null;
    if (markup) timeline.innerHTML = markup;
    else fill(timeline, h("p", { class: "muted" }, "Nothing dispatched yet."));
    const failed = parts.filter((p) => p.status === "failed");
    failuresCard.hidden = failed.length === 0;
    const open = new Set([...failures.querySelectorAll("details[open]")].map((d) => d.dataset.key));
    fill(
      failures,
      failed.map((p) => {
        const id = `${p.asset_key}#${p.partition_key ?? ""}`;
        return h(
          "details",
          { class: "failure", open: open.has(id) || failed.length === 1, dataset: { key: id } },
          h(
            "summary",
            null,
            h("b", null, p.asset_key),
            p.partition_key ? h("span", { class: "mono" }, ` [${p.partition_key}]`) : null,
            " — ",
            h("span", { class: "error" }, `${p.error_type ?? "error"}: ${p.message ?? ""}`),
            h("span", { class: "muted small" }, ` · attempt ${p.attempt} · ${p.worker_id ?? ""} · ${fmtTime(p.ended_at)}`),
          ),
          h("pre", { class: "traceback" }, p.traceback ?? "(no traceback)"),
          logs.tailFor(p.asset_key, p.partition_key, p.attempt),
        );
      }),
    );
    markRendered("run");
  }

  // the logs first: the failures card shows each failed attempt's last lines
  const refresh = coalesce(() => logs.refresh().catch(() => {}).then(() => Promise.all([loadRun(), loadTimeline()])).then(() => undefined), 100);
  const unsubscribe = subscribe({
    onEvents(batch) {
      events.onSummaries(batch);
      if (batch.some((s) => s.run_id === runId)) refresh();
    },
    onReset() {
      refresh();
      events.load();
    },
  });
  const ticker = setInterval(() => {
    if (run && (run.status === "started" || run.status === "queued")) refresh();
  }, 1000);
  logs.refresh().catch(() => {}).then(() => Promise.all([loadRun(), loadTimeline()])).catch((error) => {
    // a run requested a moment ago may not be folded yet: its first event redraws the page
    if (error instanceof ApiError && error.status === 404) {
      fill(info, h("p", { class: "muted" }, `Waiting for run ${runId} to show up on the log…`));
      return;
    }
    fill(info, h("p", { class: "error" }, error.message));
  });
  events.load().catch(() => {});
  return {
    destroy() {
      destroyed = true;
      unsubscribe();
      refresh.cancel();
      clearInterval(ticker);
      events.destroy();
    },
  };
}
