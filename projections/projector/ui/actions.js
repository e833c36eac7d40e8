/**
 * Actions (materialize, report, backfill, cancel, start/stop) and the message area.
 *
 * Every action is one `POST /actions/<name>`: the server emits exactly the events the
 * CLI would. Its answer, or its one-line error, is shown in the message area at the top.
 */

import { postAction } from "./api.js";
import { h } from "./dom.js";

/**
 * Show a message at the top of the page. Errors stay until dismissed; others fade after
 * a while.
 * @param {string | Node | (string | Node)[]} content
 * @param {"ok" | "error" | "info"} [kind]
 */
export function showMessage(content, kind = "info") {
  const area = document.getElementById("messages");
  if (!area) return;
  const close = h("button", { class: "close", type: "button", title: "Dismiss", "aria-label": "Dismiss" }, "×");
  const message = h("div", { class: `message ${kind}`, dataset: { kind } }, h("span", { class: "text" }, content), close);
  close.addEventListener("click", () => message.remove());
  area.prepend(message);
  while (area.children.length > 4) area.lastElementChild.remove();
  if (kind !== "error") setTimeout(() => message.remove(), 10000);
}

/**
 * Run an action, with the button disabled meanwhile, and say how it went.
 * @param {Parameters<typeof postAction>[0]} name
 * @param {object} payload
 * @param {{button?: HTMLButtonElement | null, success: (result: any) => string | Node | (string | Node)[]}} how
 * @returns {Promise<any | null>} the answer, or null when it failed (the message says why)
 */
export async function act(name, payload, { button = null, success }) {
  if (button) button.disabled = true;
  try {
    const result = await postAction(name, payload);
    showMessage(success(result), "ok");
    return result;
  } catch (error) {
    showMessage(`${name}: ${error.message}`, "error");
    return null;
  } finally {
    if (button) button.disabled = false;
  }
}

/**
 * Partition keys typed by a person: one per line or comma-separated, blanks dropped.
 * @param {string} text
 */
export function parseKeys(text) {
  return text
    .split(/[\n,]/)
    .map((k) => k.trim())
    .filter(Boolean);
}

/**
 * Metadata typed as `key=value` lines; values stay text, as `conflux report --metadata`
 * keeps them (the UI emits what the CLI emits).
 * @param {string} text
 * @returns {Record<string, string>}
 * @throws {Error} a line without `=`
 */
export function parseMetadata(text) {
  /** @type {Record<string, string>} */
  const out = {};
  for (const [i, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (!line) continue;
    const at = line.indexOf("=");
    if (at <= 0) throw new Error(`metadata line ${i + 1} is not key=value: ${line}`);
    out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return out;
}

/**
 * The partitions part of a materialize or backfill request, from a form's fields.
 * @param {"all" | "keys" | "range"} mode
 * @param {{keys?: string, from?: string, to?: string}} fields
 */
export function partitionsPayload(mode, fields) {
  if (mode === "keys") {
    const keys = parseKeys(fields.keys ?? "");
    if (!keys.length) throw new Error("type at least one partition key");
    return { partitions: keys };
  }
  if (mode === "range") {
    const from = (fields.from ?? "").trim();
    const to = (fields.to ?? "").trim();
    if (!from || !to) throw new Error("a range needs both from and to");
    return { from, to };
  }
  return {};
}
