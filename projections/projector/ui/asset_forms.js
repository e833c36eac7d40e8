/**
 * The asset page's action forms. Each posts one action; the message area says how it went
 * (a materialization's message links to its run).
 */

import { act, parseMetadata, partitionsPayload, showMessage } from "./actions.js";
import { h, runLink } from "./dom.js";

/**
 * The Materialize form: all partitions, listed keys or a range; optionally downstream.
 * @param {string} key
 * @param {any} summary the asset's AssetSummary
 * @param {() => void} close
 */
export function materializeForm(key, summary, close) {
  const partitioned = summary.partitioned;
  const mode = h("select", { name: "mode", "aria-label": "which partitions" }, h("option", { value: "all" }, "all partitions"), h("option", { value: "keys" }, "these keys"), h("option", { value: "range" }, "a range"));
  const keys = h("textarea", { name: "keys", rows: 3, placeholder: "one key per line (or comma-separated)", class: "mono" });
  const from = h("input", { name: "from", type: "text", placeholder: "first key", class: "mono" });
  const to = h("input", { name: "to", type: "text", placeholder: "last key", class: "mono" });
  const downstream = h("input", { type: "checkbox", name: "downstream" });
  const config = h("textarea", { name: "run_config", rows: 3, class: "mono", placeholder: `optional run config (JSON): {"ops": {"${key}": {"config": {...}}}}` });
  const keysRow = h("div", { class: "row", hidden: true }, keys);
  const rangeRow = h("div", { class: "row", hidden: true }, h("label", null, "from ", from), h("label", null, "to ", to));
  mode.addEventListener("change", () => {
    keysRow.hidden = mode.value !== "keys";
    rangeRow.hidden = mode.value !== "range";
  });
  const submit = h("button", { type: "submit", class: "primary" }, "Materialize");
  const form = h(
    "form",
    { class: "panel-form", "aria-label": "Materialize" },
    h("h3", null, `Materialize ${key}`),
    partitioned ? h("div", { class: "row" }, h("label", null, "Partitions ", mode)) : null,
    keysRow,
    rangeRow,
    h("div", { class: "row" }, h("label", { class: "check" }, downstream, " and everything downstream of it")),
    h("div", { class: "row" }, h("label", { class: "stack" }, "Run config (JSON, optional)", config)),
    h("div", { class: "row" }, submit, h("button", { type: "button", onclick: close }, "Close")),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    let payload;
    try {
      payload = {
        selection: downstream.checked ? `${key}*` : key,
        ...(partitioned ? partitionsPayload(/** @type {any} */ (mode.value), { keys: keys.value, from: from.value, to: to.value }) : {}),
        ...runConfigPayload(config.value),
      };
    } catch (error) {
      showMessage(error.message, "error");
      return;
    }
    await act("materialize", payload, {
      button: submit,
      success: (r) => ["Run ", runLink(r.run_id), ` requested: materialize ${payload.selection}`],
    });
  });
  return form;
}

/**
 * The run config part of a materialize request: `{}` when the field is empty.
 * @param {string} text the field's JSON
 * @returns {{run_config?: object}}
 */
function runConfigPayload(text) {
  if (!text.trim()) return {};
  let value;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`the run config is not JSON: ${error.message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new Error('the run config must be a JSON object, e.g. {"ops": {"asset": {"config": {}}}}');
  }
  return { run_config: value };
}

/**
 * The Report form: an `AssetMaterialized` with source `reported`, as `conflux report`.
 * @param {string} key
 * @param {any} summary the asset's AssetSummary
 * @param {() => void} close
 */
export function reportForm(key, summary, close) {
  const partition = h("input", { name: "partition", type: "text", class: "mono", placeholder: "partition key", required: summary.partitioned });
  const version = h("input", { name: "data_version", type: "text", class: "mono", placeholder: "optional: a new id when empty" });
  const metadata = h("textarea", { name: "metadata", rows: 3, class: "mono", placeholder: "rows=120\nsource=hand" });
  const submit = h("button", { type: "submit", class: "primary" }, "Report");
  const form = h(
    "form",
    { class: "panel-form", "aria-label": "Report a materialization" },
    h("h3", null, `Report a materialization of ${key}`),
    summary.partitioned ? h("div", { class: "row" }, h("label", null, "Partition ", partition)) : null,
    h("div", { class: "row" }, h("label", null, "Data version ", version)),
    h("div", { class: "row" }, h("label", { class: "stack" }, "Metadata (key=value lines)", metadata)),
    h("div", { class: "row" }, submit, h("button", { type: "button", onclick: close }, "Close")),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const payload = { asset_key: key };
    try {
      if (summary.partitioned) payload.partition = partition.value.trim();
      if (version.value.trim()) payload.data_version = version.value.trim();
      const meta = parseMetadata(metadata.value);
      if (Object.keys(meta).length) payload.metadata = meta;
    } catch (error) {
      showMessage(error.message, "error");
      return;
    }
    await act("report", payload, { button: submit, success: () => `Reported a materialization of ${key}${payload.partition ? ` (${payload.partition})` : ""}` });
  });
  return form;
}
