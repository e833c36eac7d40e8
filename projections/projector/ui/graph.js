/**
 * The asset graph (`#/`): every asset as a node in its (location, group) box, edges for
 * dependencies, a status by colour and by word, pan and zoom, search; live.
 *
 * The SVG is built as one string and set once (one parse, one layout); pan and zoom are
 * `viewport.js`'s, so 1,000 assets draw well within a second and move smoothly.
 * Live events re-fetch only the assets they touch and redraw only those nodes (and their
 * downstreams, whose staleness may change).
 */

import { ApiError, enc, getJSON } from "./api.js";
import { esc, fill, fmtInt, h, markRendered } from "./dom.js";
import { NODE_H, NODE_W, layoutGraph } from "./layout.js";
import { assetKeysOf, coalesce, subscribe } from "./live.js";
import { assetStatus } from "./status.js";
import { Viewport } from "./viewport.js";

/** Types whose arrival may change the graph's shape, not just statuses. */
const SHAPE_EVENTS = new Set(["DefinitionsPublished", "LocationLoadFailed"]);
/** Beyond this many touched assets, one `/assets` is cheaper than one call each. */
const FETCH_ONE_BY_ONE = 16;

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
    if (!node || event.buttons !== 0) {
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
