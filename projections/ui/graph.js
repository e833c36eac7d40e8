/**
 * The asset graph (`#/`): every asset as a node in its (location, group) box, edges for
 * dependencies, a status by colour and by word, pan and zoom, search; live.
 *
 * The SVG is built as one string and set once (one parse, one layout), and pan/zoom only
 * moves the `viewBox`, so 1,000 assets draw well within a second and move smoothly.
 * Live events re-fetch only the assets they touch and redraw only those nodes (and their
 * downstreams, whose staleness may change).
 */

import { ApiError, enc, getJSON } from "./api.js";
import { esc, fill, fmtInt, h, markRendered } from "./dom.js";
import { NODE_H, NODE_W, layoutGraph } from "./layout.js";
import { assetKeysOf, coalesce, subscribe } from "./live.js";

/** Types whose arrival may change the graph's shape, not just statuses. */
const SHAPE_EVENTS = new Set(["DefinitionsPublished", "LocationLoadFailed"]);
/** A pan or zoom is drawn properly once it paused this long (see `Viewport.apply`). */
const SETTLE_MS = 120;
/** Below this zoom, nodes are drawn without text (see `Viewport.commit`). */
const FAR_SCALE = 0.45;
/** Beyond this many touched assets, one `/assets` is cheaper than one call each. */
const FETCH_ONE_BY_ONE = 16;

/**
 * What an asset's node says: one status kind (the CSS class `st-<kind>`) and a short text.
 *
 * In order: in progress, failed, a failed check, never materialized, stale (an upstream
 * materialized after this asset's latest materialization), partial (a partitioned asset
 * with partitions missing), fresh.
 * @param {any} asset an AssetSummary
 * @param {Map<string, any>} byKey every AssetSummary by key (for upstreams)
 * @returns {{kind: string, text: string, detail: string}}
 */
export function assetStatus(asset, byKey) {
  const p = asset.partitions;
  const last = asset.last_materialization;
  const many = asset.partitioned;
  if (p.in_progress > 0) {
    return { kind: "in_progress", text: many ? `▶ ${fmtInt(p.in_progress)} in progress` : "▶ in progress", detail: "a worker is materializing it now" };
  }
  if (p.failed > 0) {
    return { kind: "failed", text: many ? `✕ ${fmtInt(p.failed)} failed` : "✕ failed", detail: "its latest attempt failed" };
  }
  const failedCheck = (asset.checks ?? []).find((c) => c.status === "failed");
  if (failedCheck) return { kind: "check_failed", text: "! check failed", detail: `check ${failedCheck.name} failed` };
  if (!last) {
    return asset.is_external
      ? { kind: "never", text: "○ never reported", detail: "an external asset nobody reported yet" }
      : { kind: "never", text: "○ never materialized", detail: "never materialized" };
  }
  const since = Date.parse(last.time);
  for (const dep of asset.deps ?? []) {
    const up = byKey.get(dep)?.last_materialization;
    if (up && Date.parse(up.time) > since) {
      return { kind: "stale", text: "↻ stale", detail: `upstream ${dep} materialized after it` };
    }
  }
  if (many && p.materialized < p.total) {
    return { kind: "partial", text: `◐ ${fmtInt(p.materialized)} / ${fmtInt(p.total)}`, detail: "some partitions are missing" };
  }
  return { kind: "fresh", text: many ? `✓ ${fmtInt(p.total)} / ${fmtInt(p.total)}` : "✓ fresh", detail: "materialized, nothing upstream is newer" };
}

const truncate = (text, max) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** The inside of one node's `<g>` (its box sits at 0,0). */
function nodeInner(asset, status) {
  const p = asset.partitions;
  let bar = "";
  if (asset.partitioned && p.total > 0) {
    const w = NODE_W - 24;
    const done = (w * p.materialized) / p.total;
    const failed = (w * p.failed) / p.total;
    bar =
      `<rect class="bar-bg" x="12" y="42" width="${w}" height="4" rx="2"/>` +
      `<rect class="bar-done" x="12" y="42" width="${done.toFixed(1)}" height="4" rx="2"/>` +
      (failed > 0 ? `<rect class="bar-failed" x="${(12 + done).toFixed(1)}" y="42" width="${Math.max(1, failed).toFixed(1)}" height="4"/>` : "");
  }
  return (
    `<rect class="box" width="${NODE_W}" height="${NODE_H}" rx="6"/>` +
    `<rect class="stripe" width="6" height="${NODE_H}" rx="3"/>` +
    `<text class="name" x="14" y="20">${esc(truncate(asset.key, 26))}</text>` +
    `<text class="state" x="14" y="36">${esc(status.text)}</text>` +
    bar
  );
}

/**
 * Edges (by index) as one path: a curve and an arrowhead each. One element for all edges
 * instead of one per edge (and no SVG markers) keeps a big graph's first paint cheap.
 */
function edgePath(layout, which) {
  const mid = NODE_H / 2;
  const d = [];
  for (const e of which) {
    const [from, to] = layout.edges[e];
    const x1 = layout.x[from] + NODE_W;
    const y1 = layout.y[from] + mid;
    const x2 = layout.x[to] - 1;
    const y2 = layout.y[to] + mid;
    const bend = Math.max(30, (x2 - x1) / 2);
    d.push(`M${x1} ${y1}C${x1 + bend} ${y1} ${x2 - 6 - bend} ${y2} ${x2 - 6} ${y2}L${x2} ${y2}M${x2 - 7} ${y2 - 4}L${x2} ${y2}L${x2 - 7} ${y2 + 4}`);
  }
  return d.join("");
}

/** The whole SVG's markup. */
function svgMarkup(assets, layout, statuses) {
  const parts = [];
  for (const g of layout.groups) {
    parts.push(
      `<rect class="group" x="${g.x}" y="${g.y}" width="${g.w}" height="${g.h}" rx="10"/>`,
    );
  }
  parts.push(`<path class="edges" data-count="${layout.edges.length}" d="${edgePath(layout, layout.edges.map((_, e) => e))}"/>`);
  parts.push('<path class="edges hits" d=""/>');
  for (let i = 0; i < assets.length; i++) {
    parts.push(
      `<g class="node st-${statuses[i].kind}" data-i="${i}" tabindex="0" role="link" aria-label="${esc(assets[i].key)}" transform="translate(${layout.x[i]},${layout.y[i]})">` +
        `${nodeInner(assets[i], statuses[i])}</g>`,
    );
  }
  // group labels last, on top: zoomed out they grow over their nodes
  parts.push('<g class="labels">');
  for (const g of layout.groups) parts.push(`<text x="${g.x + 12}" y="${g.y + 6}">${esc(g.label)}</text>`);
  parts.push("</g>");
  return (
    `<svg class="graph-svg" xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMinYMin meet">${parts.join("")}</svg>`
  );
}

/**
 * Pan (drag) and zoom (wheel, buttons) by the SVG's viewBox; nothing is re-laid out.
 */
class Viewport {
  /**
   * @param {SVGSVGElement} svg
   * @param {{width: number, height: number}} content
   * @param {{width: number, height: number, left: number, top: number}} size the element's
   *   box, measured before the SVG went in: measuring after would lay out every node's
   *   text before the level of detail hides it
   */
  constructor(svg, content, size) {
    this.svg = svg;
    this.content = content;
    this.box = { x: 0, y: 0, w: 1, h: 1 };
    this.dragged = false;
    this.view = size;
    /** @type {{x: number, y: number, w: number, h: number} | null} what the viewBox shows */
    this.shown = null;
    this.settle = 0;
    this.holding = false; // a drag is on: draw properly when it ends, not at each pause
    this.fit(false);
    svg.addEventListener("wheel", (e) => this.onWheel(e), { passive: false });
    svg.addEventListener("pointerdown", (e) => this.onDown(e));
  }

  /** The element's box as last measured (`measure()` on user input and resizes). */
  size() {
    return this.view;
  }

  /** The frame's inner box (the SVG fills it; the SVG's own box moves with a gesture). */
  measure() {
    const frame = /** @type {HTMLElement} */ (this.svg.parentElement);
    const rect = frame.getBoundingClientRect();
    const bx = frame.clientLeft;
    const by = frame.clientTop;
    this.view = { width: Math.max(1, rect.width - 2 * bx), height: Math.max(1, rect.height - 2 * by), left: rect.left + bx, top: rect.top + by };
    return this.view;
  }

  /**
   * Show `box`. While the user drags or zooms, only a CSS transform of the drawn SVG
   * moves (the compositor's work, every frame); once they pause, the viewBox itself is
   * set and the SVG drawn again, sharp, at the new scale.
   * @param {boolean} [now] set the viewBox at once (a jump, not a gesture)
   */
  apply(now = false) {
    clearTimeout(this.settle);
    if (now || !this.shown) {
      this.commit();
      return;
    }
    const shown = this.shown;
    const { width, height } = this.view;
    const s = shown.w / this.box.w;
    const tx = ((shown.x - this.box.x) * width) / this.box.w;
    const ty = ((shown.y - this.box.y) * height) / this.box.h;
    this.svg.style.transform = `translate(${tx}px, ${ty}px) scale(${s})`;
    if (!this.holding) this.settle = setTimeout(() => this.commit(), SETTLE_MS);
  }

  commit() {
    const { x, y, w, h } = this.box;
    this.shown = { ...this.box };
    this.svg.style.transform = "";
    this.svg.setAttribute("viewBox", `${x.toFixed(1)} ${y.toFixed(1)} ${w.toFixed(1)} ${h.toFixed(1)}`);
    // Level of detail: below FAR_SCALE, names would be a few pixels tall, and laying out
    // 2,000 texts is most of a big graph's first paint; nodes show as coloured boxes and
    // group labels grow to stay readable (hover still names a node).
    const scale = this.scale();
    this.svg.classList.toggle("far", scale < FAR_SCALE);
    this.svg.style.setProperty("--inv", String(Math.min(8, 1 / scale)));
  }

  /** Show everything (and never zoom in beyond 1:1). */
  fit(measure = true) {
    const { width, height } = measure ? this.measure() : this.size();
    const margin = 20;
    const scale = Math.min(1, width / (this.content.width + 2 * margin), height / (this.content.height + 2 * margin));
    const w = width / scale;
    const h = height / scale;
    // a graph smaller than the view sits in its middle, left to right
    const x = Math.min(-margin, -(w - this.content.width) / 2);
    this.box = { x, y: -margin, w, h };
    this.apply(true);
  }

  /** Keep the scale, follow a resized element. */
  resize() {
    const scale = this.scale();
    const { width, height } = this.measure();
    this.box.w = width / scale;
    this.box.h = height / scale;
    this.apply(true);
  }

  scale() {
    return this.size().width / this.box.w;
  }

  /** Zoom by `factor` (> 1: in) around a point given in client pixels. */
  zoom(factor, clientX, clientY) {
    const { width, height, left, top } = this.measure();
    const scale = Math.min(4, Math.max(0.02, this.scale() * factor));
    const fx = ((clientX ?? left + width / 2) - left) / width;
    const fy = ((clientY ?? top + height / 2) - top) / height;
    const px = this.box.x + fx * this.box.w;
    const py = this.box.y + fy * this.box.h;
    this.box.w = width / scale;
    this.box.h = height / scale;
    this.box.x = px - fx * this.box.w;
    this.box.y = py - fy * this.box.h;
    this.apply();
  }

  /** Center on a point of the graph, at least at 1:1 scale. */
  center(x, y) {
    const { width, height } = this.size();
    const scale = Math.max(this.scale(), 1);
    this.box = { w: width / scale, h: height / scale, x: 0, y: 0 };
    this.box.x = x - this.box.w / 2;
    this.box.y = y - this.box.h / 2;
    this.apply(true);
  }

  onWheel(event) {
    event.preventDefault();
    this.zoom(Math.exp(-event.deltaY * 0.0015), event.clientX, event.clientY);
  }

  onDown(event) {
    if (event.button !== 0) return;
    const start = { x: event.clientX, y: event.clientY, bx: this.box.x, by: this.box.y };
    const perPixel = this.box.w / this.measure().width;
    this.dragged = false;
    const move = (e) => {
      const dx = e.clientX - start.x;
      const dy = e.clientY - start.y;
      if (!this.dragged && Math.hypot(dx, dy) < 4) return;
      if (!this.dragged) this.svg.setPointerCapture(event.pointerId);
      this.dragged = true;
      this.holding = true;
      this.svg.classList.add("dragging");
      this.box.x = start.bx - dx * perPixel;
      this.box.y = start.by - dy * perPixel;
      this.apply();
    };
    const up = () => {
      this.svg.removeEventListener("pointermove", move);
      this.svg.removeEventListener("pointerup", up);
      this.svg.removeEventListener("pointercancel", up);
      this.svg.classList.remove("dragging");
      if (this.holding) {
        this.holding = false;
        this.apply();
      }
    };
    this.svg.addEventListener("pointermove", move);
    this.svg.addEventListener("pointerup", up);
    this.svg.addEventListener("pointercancel", up);
  }
}

/** The legend of node statuses. */
function legend() {
  const kinds = [
    ["fresh", "✓ fresh"],
    ["partial", "◐ partial"],
    ["stale", "↻ stale"],
    ["in_progress", "▶ in progress"],
    ["failed", "✕ failed"],
    ["check_failed", "! check failed"],
    ["never", "○ never materialized"],
  ];
  return h("div", { class: "legend" }, kinds.map(([kind, text]) => h("span", { class: `legend-item st-${kind}` }, h("i", { class: "swatch" }), text)));
}

/**
 * Mount the graph view.
 * @param {HTMLElement} root
 * @returns {{destroy: () => void}}
 */
export function mountGraph(root) {
  /** @type {any[]} */
  let assets = [];
  /** @type {Map<string, number>} */
  let index = new Map();
  /** @type {Map<string, any>} */
  let byKey = new Map();
  /** @type {ReturnType<typeof layoutGraph> | null} */
  let layout = null;
  /** @type {Element[]} */
  let nodes = [];
  /** @type {Viewport | null} */
  let viewport = null;
  let destroyed = false;
  let searchHits = [];
  let hitCursor = -1;
  const touched = new Set();
  let shapeChanged = false;

  const search = h("input", { type: "search", class: "search", placeholder: "Search assets (name or group)…", "aria-label": "Search assets" });
  const onlyMatches = h("input", { type: "checkbox" });
  const matchCount = h("span", { class: "muted match-count" });
  const canvas = h("div", { class: "graph-canvas" }, h("p", { class: "muted pad" }, "Loading the asset graph…"));
  const hover = h("div", { class: "tooltip graph-tip", hidden: true });
  const summary = h("span", { class: "muted" });
  const tools = h(
    "div",
    { class: "toolbar" },
    search,
    h("label", { class: "check" }, onlyMatches, " only matches"),
    matchCount,
    h("span", { class: "spacer" }),
    summary,
    h("button", { type: "button", title: "Zoom in", onclick: () => viewport?.zoom(1.25) }, "+"),
    h("button", { type: "button", title: "Zoom out", onclick: () => viewport?.zoom(0.8) }, "−"),
    h("button", { type: "button", title: "Show everything", onclick: () => viewport?.fit() }, "Fit"),
  );
  fill(root, h("div", { class: "graph-view" }, tools, legend(), h("div", { class: "graph-frame" }, canvas, hover)));

  function draw() {
    byKey = new Map(assets.map((a) => [a.key, a]));
    index = new Map(assets.map((a, i) => [a.key, i]));
    performance.mark("graph:fetched");
    layout = layoutGraph(assets);
    performance.mark("graph:laid-out");
    const statuses = assets.map((a) => assetStatus(a, byKey));
    if (assets.length === 0) {
      fill(canvas, h("p", { class: "muted pad" }, "No assets yet: is a code location loaded? See Automation → code locations."));
      markRendered("graph");
      return;
    }
    const markup = svgMarkup(assets, layout, statuses);
    performance.mark("graph:markup");
    const box = canvas.getBoundingClientRect(); // before the SVG is in: cheap
    const border = canvas.clientLeft;
    canvas.innerHTML = markup;
    performance.mark("graph:inserted");
    const svg = /** @type {SVGSVGElement} */ (canvas.firstElementChild);
    nodes = Array.from(svg.querySelectorAll(".node"));
    viewport = new Viewport(svg, layout, { width: box.width - 2 * border, height: box.height - 2 * border, left: box.left + border, top: box.top + border });
    svg.addEventListener("click", onClick);
    svg.addEventListener("pointermove", onHover);
    svg.addEventListener("pointerleave", () => (hover.hidden = true));
    svg.addEventListener("keydown", (e) => {
      const node = e.target.closest?.(".node");
      if (node && e.key === "Enter") open(node);
    });
    summary.textContent = `${fmtInt(assets.length)} assets in ${layout.groups.length} groups`;
    applySearch();
    markRendered("graph");
  }

  function open(node) {
    const asset = assets[Number(node.dataset.i)];
    if (asset) location.hash = `#/assets/${enc(asset.key)}`;
  }

  function onHover(event) {
    const node = event.target.closest?.(".node");
    if (!node || viewport?.dragged) {
      hover.hidden = true;
      return;
    }
    const asset = assets[Number(node.dataset.i)];
    const status = assetStatus(asset, byKey);
    fill(hover, h("b", null, asset.key), h("div", null, status.text), h("div", { class: "muted" }, `${asset.group_name ?? "default"} · ${status.detail}`));
    hover.hidden = false;
    const frame = canvas.getBoundingClientRect();
    hover.style.left = `${Math.min(event.clientX - frame.left + 14, frame.width - hover.offsetWidth - 4)}px`;
    hover.style.top = `${event.clientY - frame.top + 16}px`;
  }

  function onClick(event) {
    if (viewport?.dragged) return;
    const node = event.target.closest(".node");
    if (node) open(node);
  }

  /** Redraw the nodes of these assets and their downstreams (staleness follows upstreams). */
  function redraw(keys) {
    if (!layout) return;
    const redo = new Set();
    for (const key of keys) {
      const i = index.get(key);
      if (i === undefined) continue;
      redo.add(i);
      for (const s of layout.succs[i]) redo.add(s);
    }
    for (const i of redo) {
      const status = assetStatus(assets[i], byKey);
      const node = nodes[i];
      node.setAttribute("class", `node st-${status.kind}${node.classList.contains("match") ? " match" : ""}`);
      node.innerHTML = nodeInner(assets[i], status);
    }
  }

  function applySearch() {
    const svg = canvas.querySelector("svg");
    if (!svg) return;
    const query = search.value.trim().toLowerCase();
    searchHits = [];
    hitCursor = -1;
    svg.classList.toggle("searching", query !== "");
    svg.classList.toggle("filtering", query !== "" && onlyMatches.checked);
    const hit = new Uint8Array(assets.length);
    assets.forEach((asset, i) => {
      const match =
        query !== "" && (asset.key.toLowerCase().includes(query) || (asset.group_name ?? "").toLowerCase().includes(query));
      nodes[i].classList.toggle("match", match);
      if (match) {
        hit[i] = 1;
        searchHits.push(i);
      }
    });
    if (layout) {
      // edges between two matches are drawn again on top, in the highlight colour
      const between = query === "" ? [] : layout.edges.flatMap(([from, to], e) => (hit[from] && hit[to] ? [e] : []));
      svg.querySelector(".edges.hits")?.setAttribute("d", edgePath(layout, between));
    }
    matchCount.textContent = query ? `${searchHits.length} match${searchHits.length === 1 ? "" : "es"} (Enter: next)` : "";
  }

  function nextHit() {
    if (!searchHits.length || !layout || !viewport) return;
    hitCursor = (hitCursor + 1) % searchHits.length;
    const i = searchHits[hitCursor];
    viewport.center(layout.x[i] + NODE_W / 2, layout.y[i] + NODE_H / 2);
  }

  search.addEventListener("input", applySearch);
  search.addEventListener("keydown", (e) => {
    if (e.key === "Enter") nextHit();
    if (e.key === "Escape") {
      search.value = "";
      applySearch();
    }
  });
  onlyMatches.addEventListener("change", applySearch);

  async function loadAll() {
    const fresh = await getJSON("/assets");
    if (destroyed) return;
    const sameShape =
      layout &&
      fresh.length === assets.length &&
      fresh.every((a, i) => a.key === assets[i].key && String(a.deps ?? []) === String(assets[i].deps ?? []) && a.group_name === assets[i].group_name && a.location === assets[i].location);
    assets = fresh;
    if (sameShape) {
      byKey = new Map(assets.map((a) => [a.key, a]));
      redraw(assets.map((a) => a.key));
    } else {
      draw();
    }
  }

  const refresh = coalesce(async () => {
    const keys = [...touched];
    touched.clear();
    if (shapeChanged || keys.length > FETCH_ONE_BY_ONE || keys.some((k) => !index.has(k))) {
      shapeChanged = false;
      await loadAll();
      return;
    }
    const got = await Promise.all(
      keys.map((key) =>
        getJSON(`/assets/${enc(key)}`).catch((error) => {
          if (error instanceof ApiError && error.status === 404) return null;
          throw error;
        }),
      ),
    );
    if (destroyed) return;
    for (const asset of got) {
      if (!asset) continue;
      const i = index.get(asset.key);
      if (i === undefined) continue;
      assets[i] = asset;
      byKey.set(asset.key, asset);
    }
    redraw(keys);
  });

  const unsubscribe = subscribe({
    onEvents(batch) {
      for (const event of batch) {
        if (SHAPE_EVENTS.has(event.type)) shapeChanged = true;
        for (const key of assetKeysOf(event)) touched.add(key);
      }
      if (shapeChanged || touched.size) refresh();
    },
    onReset() {
      shapeChanged = true;
      refresh();
    },
  });

  const onResize = () => viewport?.resize();
  window.addEventListener("resize", onResize);

  loadAll().catch((error) => {
    fill(canvas, h("p", { class: "error pad" }, `Could not load the assets: ${error.message}`));
  });

  return {
    destroy() {
      destroyed = true;
      unsubscribe();
      refresh.cancel();
      window.removeEventListener("resize", onResize);
    },
  };
}
