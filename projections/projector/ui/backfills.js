/**
 * Backfills (`#/backfills`): progress with rate and ETA, a launch form and cancel buttons.
 */

import { act, partitionsPayload, showMessage } from "./actions.js";
import { getJSON } from "./api.js";
import { fill, fmtDuration, fmtInt, fmtTime, h, markRendered, pill, shortId } from "./dom.js";
import { coalesce, subscribe } from "./live.js";
import { progressBar } from "./runs.js";

const ACTIVE = new Set(["requested", "running", "canceling"]);

function launchForm() {
  const selection = h("input", { name: "selection", type: "text", class: "mono", placeholder: "e.g. raw_orders* or group:sales", required: true, size: 28 });
  const mode = h("select", { name: "mode", "aria-label": "which partitions" }, h("option", { value: "range" }, "a range"), h("option", { value: "keys" }, "these keys"), h("option", { value: "all" }, "all partitions"));
  const from = h("input", { name: "from", type: "text", class: "mono", placeholder: "first key", size: 16 });
  const to = h("input", { name: "to", type: "text", class: "mono", placeholder: "last key", size: 16 });
  const keys = h("textarea", { name: "keys", rows: 2, class: "mono", placeholder: "one key per line (or comma-separated)" });
  const only = h("select", { name: "only", "aria-label": "only" }, h("option", { value: "all" }, "every partition"), h("option", { value: "missing" }, "missing only"), h("option", { value: "failed" }, "failed only"));
  const rangeRow = h("div", { class: "row" }, h("label", null, "from ", from), h("label", null, "to ", to));
  const keysRow = h("div", { class: "row", hidden: true }, keys);
  mode.addEventListener("change", () => {
    rangeRow.hidden = mode.value !== "range";
    keysRow.hidden = mode.value !== "keys";
  });
  const submit = h("button", { type: "submit", class: "primary" }, "Launch backfill");
  const form = h(
    "form",
    { class: "panel-form", "aria-label": "Launch a backfill" },
    h("div", { class: "row" }, h("label", null, "Selection ", selection), h("label", null, "Partitions ", mode), h("label", null, "Only ", only)),
    rangeRow,
    keysRow,
    h("div", { class: "row" }, submit),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    let payload;
    try {
      payload = {
        selection: selection.value.trim(),
        only: only.value,
        ...partitionsPayload(/** @type {any} */ (mode.value), { keys: keys.value, from: from.value, to: to.value }),
      };
    } catch (error) {
      showMessage(error.message, "error");
      return;
    }
    await act("backfill", payload, { button: submit, success: (r) => `Backfill ${shortId(r.backfill_id)} requested for ${payload.selection}` });
  });
  return form;
}

/**
 * @param {HTMLElement} root
 */
export function mountBackfills(root) {
  let destroyed = false;
  /** @type {Map<string, number>} backfill id -> until when a click on Cancel confirms */
  const armed = new Map();
  const body = h("tbody");
  const foot = h("p", { class: "muted" });
  fill(
    root,
    h("div", { class: "crumbs" }, "Backfills"),
    h("section", { class: "card" }, h("h2", null, "Launch a backfill"), launchForm()),
    h(
      "section",
      { class: "card" },
      h("h2", null, "Backfills"),
      h(
        "table",
        { class: "table backfills" },
        h("thead", null, h("tr", null, ["status", "backfill", "selection", "partitions", "progress", "done", "rate", "ETA", "requested", ""].map((t) => h("th", null, t)))),
        body,
      ),
      foot,
    ),
  );

  async function load() {
    const backfills = await getJSON("/backfills");
    if (destroyed) return;
    fill(
      body,
      backfills.map((b) => {
        const total = b.total ?? 0;
        const done = b.materialized + b.failed + b.skipped;
        const cancel = h("button", { type: "button", class: "danger small" }, "Cancel");
        cancel.title = "Running partitions finish; the rest is skipped";
        if ((armed.get(b.backfill_id) ?? 0) > Date.now()) cancel.textContent = "Really cancel?";
        cancel.addEventListener("click", () => {
          // two clicks, no dialog (the list redraws live, so the first click is remembered here)
          if ((armed.get(b.backfill_id) ?? 0) <= Date.now()) {
            armed.set(b.backfill_id, Date.now() + 5000);
            cancel.textContent = "Really cancel?";
            return;
          }
          armed.delete(b.backfill_id);
          act("cancel-backfill", { backfill_id: b.backfill_id }, { button: cancel, success: () => `Backfill ${shortId(b.backfill_id)}: cancel requested` });
        });
        return h(
          "tr",
          { dataset: { backfillId: b.backfill_id, status: b.status } },
          h("td", null, pill(b.status)),
          h("td", { class: "mono", title: b.backfill_id }, shortId(b.backfill_id)),
          h("td", { class: "mono small" }, b.selection ?? "—"),
          h("td", { class: "mono small" }, b.partition_range ?? (b.partition_keys ? `${fmtInt(b.partition_keys)} keys` : "all"), b.only !== "all" ? h("span", { class: "tag" }, `${b.only} only`) : null),
          h("td", null, progressBar(total, [["materialized", b.materialized], ["failed", b.failed], ["skipped", b.skipped], ["in_progress", b.in_progress]])),
          h(
            "td",
            { class: "small nowrap" },
            `${fmtInt(done)} / ${b.total === null ? "?" : fmtInt(total)}`,
            b.failed ? h("span", { class: "error" }, ` · ${fmtInt(b.failed)} failed`) : null,
            b.chunks ? h("div", { class: "muted" }, `chunk ${fmtInt(b.chunks_done)} of ${fmtInt(b.chunks)}`) : null,
          ),
          h("td", { class: "small nowrap num" }, b.rate_per_s === null ? "—" : `${b.rate_per_s.toFixed(b.rate_per_s < 10 ? 1 : 0)} /s`),
          h("td", { class: "small nowrap num" }, b.eta_s === null || !ACTIVE.has(b.status) ? "—" : fmtDuration(b.eta_s * 1000)),
          h("td", { class: "small nowrap" }, fmtTime(b.requested_at), b.requested_by ? h("div", { class: "muted" }, b.requested_by) : null),
          h("td", null, ACTIVE.has(b.status) && b.status !== "canceling" ? cancel : null, b.reason ? h("div", { class: "error small" }, b.reason) : null),
        );
      }),
    );
    foot.textContent = backfills.length ? "" : "No backfills yet.";
    markRendered("backfills");
  }

  const refresh = coalesce(load, 250);
  const unsubscribe = subscribe({
    onEvents(batch) {
      // progress is a fold of the chunks' runs: any run or backfill event may move it
      if (batch.some((s) => s.backfill_id || s.run_id)) refresh();
    },
    onReset: refresh,
  });
  load().catch((error) => fill(foot, h("span", { class: "error" }, `Could not load backfills: ${error.message}`)));
  return {
    destroy() {
      destroyed = true;
      unsubscribe();
      refresh.cancel();
    },
  };
}
