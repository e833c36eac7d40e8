/**
 * Small DOM and formatting helpers shared by the views, and the status vocabulary.
 */

/**
 * Create an element.
 *
 * `attrs`: `class`, `text`, `html` (trusted markup only), `dataset`, `on<event>`
 * handlers, `style`, and any other attribute (false/null/undefined: left out).
 * Children: nodes, strings, numbers, arrays of them; null/false are skipped.
 * @param {string} tag
 * @param {Record<string, any> | null} [attrs]
 * @param {...any} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = null, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [name, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") el.className = value;
      else if (name === "text") el.textContent = value;
      else if (name === "html") el.innerHTML = value;
      else if (name === "dataset") Object.assign(el.dataset, value);
      else if (name === "style" && typeof value === "object") Object.assign(el.style, value);
      else if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
      else if (name in el && typeof value !== "string") el[name] = value;
      else el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Escape text for markup built as strings (the graph's SVG, for speed). */
export function esc(text) {
  return String(text)
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}

/** Replace an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const pad = (n) => String(n).padStart(2, "0");

/**
 * A time as `YYYY-MM-DD HH:MM:SS` in the browser's time zone ("—" for none).
 * @param {string | null | undefined} iso
 */
export function fmtTime(iso) {
  if (!iso) return "—";
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return String(iso);
  return `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())} ${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`;
}

/** Milliseconds as `850 ms`, `4.2 s`, `3 min 5 s`, `2 h 4 min`. */
export function fmtDuration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.floor(s % 60)} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

/** How long ago, e.g. `5 s ago`. */
export function fmtAgo(iso) {
  if (!iso) return "never";
  return `${fmtDuration(Date.now() - new Date(iso).getTime())} ago`;
}

/** The time between two ISO times (the second defaults to now). */
export function between(startIso, endIso) {
  if (!startIso) return null;
  const end = endIso ? new Date(endIso).getTime() : Date.now();
  return end - new Date(startIso).getTime();
}

const numberFormat = new Intl.NumberFormat("en-US");
/** 1234567 as `1,234,567`. */
export const fmtInt = (n) => (n === null || n === undefined ? "—" : numberFormat.format(n));

/** The first 8 characters of an id (the full id goes in a title). */
export const shortId = (id) => (id ? id.slice(0, 8) : "—");

/**
 * Status words for partitions, runs and work, with a symbol so that colour is never the
 * only signal. CSS holds the colours (`--st-<status>`); the canvas reads them from there.
 */
export const STATUS = {
  materialized: { label: "materialized", icon: "✓" },
  fresh: { label: "fresh", icon: "✓" },
  success: { label: "success", icon: "✓" },
  stale: { label: "stale", icon: "↻" },
  failed: { label: "failed", icon: "✕" },
  failure: { label: "failure", icon: "✕" },
  check_failed: { label: "check failed", icon: "!" },
  in_progress: { label: "in progress", icon: "▶" },
  started: { label: "started", icon: "▶" },
  running: { label: "running", icon: "▶" },
  canceling: { label: "canceling", icon: "■" },
  queued: { label: "queued", icon: "…" },
  requested: { label: "requested", icon: "…" },
  missing: { label: "missing", icon: "○" },
  never: { label: "never materialized", icon: "○" },
  skipped: { label: "skipped", icon: "–" },
  canceled: { label: "canceled", icon: "■" },
  stopped: { label: "stopped", icon: "■" },
  warning: { label: "warning", icon: "!" },
  passed: { label: "passed", icon: "✓" },
  not_evaluated: { label: "not evaluated", icon: "○" },
  loaded: { label: "loaded", icon: "✓" },
  waiting: { label: "waiting", icon: "…" },
};

/**
 * A status pill: symbol and word, coloured by `st-<status>`.
 * @param {string} status
 * @param {string} [text] override of the word
 */
export function pill(status, text) {
  const known = STATUS[status] ?? { label: status, icon: "•" };
  return h("span", { class: `pill st-${status}`, dataset: { status } }, `${known.icon} ${text ?? known.label}`);
}

/** Read a CSS custom property of the document (the status colours, for canvases). */
export function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/**
 * Tell the tests and the benchmark that a view has drawn: after the next frame was
 * painted, `window.__conflux_rendered[name]` is `performance.now()` (ms since navigation).
 */
export function markRendered(name) {
  requestAnimationFrame(() =>
    setTimeout(() => {
      window.__conflux_rendered = { ...(window.__conflux_rendered ?? {}), [name]: performance.now() };
      document.body.dataset.rendered = [document.body.dataset.rendered, name].filter(Boolean).join(" ");
    }, 0),
  );
}

/** A link to an asset's page. */
export function assetLink(key, text) {
  return h("a", { href: `#/assets/${encodeURIComponent(key)}`, class: "asset-link" }, text ?? key);
}

/** A link to a run's page, by short id. */
export function runLink(runId) {
  if (!runId) return h("span", { class: "muted" }, "—");
  return h("a", { href: `#/runs/${encodeURIComponent(runId)}`, class: "mono", title: runId }, shortId(runId));
}

/** A section with a heading. */
export function card(title, ...children) {
  return h("section", { class: "card" }, h("h2", null, title), ...children);
}

/** Key/value rows (`dl`), skipping null values. */
export function facts(pairs) {
  return h(
    "dl",
    { class: "facts" },
    pairs
      .filter(([, value]) => value !== null && value !== undefined)
      .map(([term, value]) => [h("dt", null, term), h("dd", null, value)]),
  );
}
