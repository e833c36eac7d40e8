/**
 * The partition map: an asset's whole partition space on a `<canvas>`, from the range
 * summaries of `/assets/<key>/partitions` (never one entry per key), so a million
 * partitions cost what their few thousand ranges cost.
 *
 * One dimension: a bar; each pixel column covers `total / width` partitions and is split
 * by the share of each status among them, materialized at the bottom (a histogram of how
 * much is done where; a status present at all gets a pixel or more, so one failed
 * partition among thousands still shows).
 * Several dimensions: a grid (rows: every dimension but the last, row-major; columns:
 * the last dimension), drawn the same way per cell; shown transposed when it is taller
 * than wide, so the long dimension runs across the screen.
 */

import { cssVar, fill, fmtInt, h } from "./dom.js";

/** The statuses of a range summary, in the legend's order. */
export const RANGE_STATUSES = ["materialized", "failed", "in_progress", "missing"];
const STATUS_INDEX = Object.fromEntries(RANGE_STATUSES.map((s, i) => [s, i]));
const K = RANGE_STATUSES.length;
/**
 * Paint order inside a column or cell, bottom up: materialized first, so that a bar over
 * many partitions per pixel reads as a histogram of how much is done there.
 */
const BOTTOM_UP = [0, 1, 2, 3];

/**
 * @typedef {{first: string, last: string, status: string, count: number}} Range
 * @typedef {{asset_key: string, total: number, counts: Record<string, number>,
 *   ranges: Range[], dimensions?: {name: string, count: number}[]}} PartitionRanges
 */

/** Prefix sums: `starts[i]` is the index of range i's first partition. */
function rangeStarts(ranges) {
  const starts = new Float64Array(ranges.length + 1);
  for (let i = 0; i < ranges.length; i++) starts[i + 1] = starts[i] + ranges[i].count;
  return starts;
}

/** The range holding partition `index` (binary search). */
function rangeAt(starts, index) {
  let lo = 0;
  let hi = starts.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= index) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Add what partitions `[a, b)` hold, by status, to `acc[slot*K + status]`.
 * Walks ranges from `cursor` (monotone callers pass the returned cursor back).
 */
function accumulate(acc, slot, a, b, ranges, starts, codes, cursor) {
  let r = cursor;
  while (r < ranges.length && starts[r + 1] <= a) r++;
  for (let j = r; j < ranges.length && starts[j] < b; j++) {
    const overlap = Math.min(b, starts[j + 1]) - Math.max(a, starts[j]);
    if (overlap > 0) acc[slot * K + codes[j]] += overlap;
  }
  return r;
}

/**
 * Paint one column or cell split by status shares.
 * @param {CanvasRenderingContext2D} ctx
 * @param {Float64Array} acc
 * @param {number} slot
 * @param {string[]} colors by status index
 */
function paintSlot(ctx, acc, slot, x, y, w, hgt, colors) {
  let sum = 0;
  let present = 0;
  for (let k = 0; k < K; k++) {
    sum += acc[slot * K + k];
    if (acc[slot * K + k] > 0) present++;
  }
  if (sum <= 0) return;
  if (present === 1) {
    for (let k = 0; k < K; k++) {
      if (acc[slot * K + k] > 0) {
        ctx.fillStyle = colors[k];
        ctx.fillRect(x, y, w, hgt);
      }
    }
    return;
  }
  // a status that is present gets at least a visible sliver
  const least = Math.max(1, Math.min(3, hgt / (2 * present)));
  const heights = [];
  let given = 0;
  let biggest = 0;
  for (let k = 0; k < K; k++) {
    const v = acc[slot * K + k];
    const part = v > 0 ? Math.max(least, (v / sum) * hgt) : 0;
    heights.push(part);
    given += part;
    if (v > acc[slot * K + biggest]) biggest = k;
  }
  heights[biggest] -= given - hgt;
  let bottom = y + hgt;
  for (const k of BOTTOM_UP) {
    if (heights[k] <= 0) continue;
    bottom -= heights[k];
    ctx.fillStyle = colors[k];
    ctx.fillRect(x, bottom, w, heights[k]);
  }
}

/**
 * Draw the map into a container (canvas, axis labels, legend, tooltip) and keep the
 * hover tooltip working. Redraw by calling again with new data.
 * @param {HTMLElement} container
 * @param {PartitionRanges} data
 */
export function drawPartitionMap(container, data) {
  const colors = RANGE_STATUSES.map((s) => cssVar(`--st-${s}`) || "#999");
  const ranges = data.ranges;
  const starts = rangeStarts(ranges);
  const total = starts[ranges.length];
  const codes = new Uint8Array(ranges.length);
  ranges.forEach((r, i) => (codes[i] = STATUS_INDEX[r.status] ?? STATUS_INDEX.missing));
  const dims = data.dimensions ?? [];
  const columns = dims.length >= 2 ? dims[dims.length - 1].count : 0;
  const rows = columns > 0 ? Math.round(total / columns) : 0;
  const grid = dims.length >= 2 && columns > 0 && rows * columns === total && total > 0;

  const canvas = h("canvas", { class: "partition-canvas", role: "img" });
  const tooltip = h("div", { class: "tooltip", hidden: true });
  const wrap = h("div", { class: "partition-map" }, canvas, tooltip);
  const width = Math.max(200, Math.floor(container.clientWidth || 800));
  const dpr = window.devicePixelRatio || 1;
  let hit;
  if (!grid) {
    hit = drawBar(canvas, { width, dpr, total, ranges, starts, codes, colors });
    canvas.setAttribute("aria-label", `partition bar of ${fmtInt(total)} partitions`);
  } else {
    const rowName = dims.slice(0, -1).map((d) => d.name).join(" × ");
    const colName = dims[dims.length - 1].name;
    hit = drawGrid(canvas, { width, dpr, total, rows, columns, ranges, starts, codes, colors, rowName, colName });
    canvas.setAttribute("aria-label", `partition grid of ${fmtInt(rows)} × ${fmtInt(columns)}`);
  }

  canvas.addEventListener("mousemove", (event) => {
    const rect = canvas.getBoundingClientRect();
    const found = hit(event.clientX - rect.left, event.clientY - rect.top);
    if (!found) {
      tooltip.hidden = true;
      return;
    }
    fill(
      tooltip,
      h("div", { class: "muted" }, found.where),
      found.ranges.map((r) =>
        h(
          "div",
          { class: "tip-range" },
          h("i", { class: `swatch st-${r.status}` }),
          r.first === r.last ? r.first : `${r.first} … ${r.last}`,
          h("span", { class: "muted" }, ` · ${r.status.replace("_", " ")} · ${fmtInt(r.count)}`),
        ),
      ),
      found.more ? h("div", { class: "muted" }, `and ${fmtInt(found.more)} more ranges`) : null,
    );
    tooltip.hidden = false;
    const x = Math.min(event.clientX - rect.left + 12, rect.width - tooltip.offsetWidth - 4);
    tooltip.style.left = `${Math.max(0, x)}px`;
    tooltip.style.top = `${event.clientY - rect.top + 16}px`;
  });
  canvas.addEventListener("mouseleave", () => (tooltip.hidden = true));

  const axis = grid
    ? h("div", { class: "muted axis" }, hit.axisText)
    : h("div", { class: "axis muted" }, h("span", null, ranges[0]?.first ?? ""), h("span", null, ranges[ranges.length - 1]?.last ?? ""));
  fill(container, wrap, axis, partitionLegend(data));
}

/** The legend: each status with its count and share (the counts are the API's). */
export function partitionLegend(data) {
  const total = data.total || 0;
  return h(
    "div",
    { class: "legend partition-legend" },
    RANGE_STATUSES.map((status) => {
      const n = data.counts[status] ?? 0;
      const share = total ? ` (${((100 * n) / total).toFixed(n && (100 * n) / total < 0.1 ? 3 : 1)}%)` : "";
      return h(
        "span",
        { class: `legend-item st-${status}`, dataset: { status, count: String(n) } },
        h("i", { class: "swatch" }),
        `${status.replace("_", " ")} `,
        h("b", { class: "count" }, fmtInt(n)),
        h("span", { class: "muted" }, share),
      );
    }),
    h("span", { class: "muted" }, `of ${fmtInt(total)} partitions in ${fmtInt(data.ranges.length)} ranges`),
  );
}

function sized(canvas, width, height, dpr) {
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext("2d");
  ctx.scale(dpr, dpr);
  return ctx;
}

/** Ranges overlapping partitions `[a, b)`, at most 4, and how many more. */
function rangesIn(ranges, starts, a, b) {
  const first = rangeAt(starts, Math.max(0, Math.floor(a)));
  const found = [];
  let j = first;
  for (; j < ranges.length && starts[j] < b; j++) if (found.length < 4) found.push(ranges[j]);
  return { ranges: found, more: Math.max(0, j - first - found.length) };
}

function drawBar(canvas, { width, dpr, total, ranges, starts, codes, colors }) {
  const height = 44;
  const ctx = sized(canvas, width, height, dpr);
  if (total > 0 && total * 3 <= width) {
    // few partitions: each one is a cell of its own, separated when there is room
    const per = width / total;
    const gap = per >= 6 ? 1 : 0;
    for (let j = 0; j < ranges.length; j++) {
      ctx.fillStyle = colors[codes[j]];
      if (gap) {
        for (let i = starts[j]; i < starts[j + 1]; i++) ctx.fillRect(i * per, 0, per - gap, height);
      } else {
        ctx.fillRect(starts[j] * per, 0, ranges[j].count * per, height);
      }
    }
    return barHit(width, total, ranges, starts);
  }
  // one slot per device pixel column
  const slots = Math.round(width * dpr);
  const acc = new Float64Array(slots * K);
  const per = total / slots;
  let cursor = 0;
  for (let c = 0; c < slots; c++) cursor = accumulate(acc, c, c * per, (c + 1) * per, ranges, starts, codes, cursor);
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  for (let c = 0; c < slots; c++) paintSlot(ctx, acc, c, c, 0, 1, height * dpr, colors);
  return barHit(width, total, ranges, starts);
}

/** Hover on the bar: the partitions under the mouse and their ranges. */
function barHit(width, total, ranges, starts) {
  return (x) => {
    if (x < 0 || x > width || total === 0) return null;
    const a = Math.floor((x / width) * total);
    const b = Math.max(a + 1, Math.floor(((x + 1) / width) * total));
    const where = b - a > 1 ? `partitions ${fmtInt(a + 1)}–${fmtInt(b)} of ${fmtInt(total)}` : `partition ${fmtInt(a + 1)} of ${fmtInt(total)}`;
    return { where, ...rangesIn(ranges, starts, a, b) };
  };
}

function drawGrid(canvas, { width, dpr, total, rows, columns, ranges, starts, codes, colors, rowName, colName }) {
  // transposed when taller than wide: the long side runs across
  const transpose = rows > columns;
  const across = transpose ? rows : columns;
  const down = transpose ? columns : rows;
  const maxHeight = 360;
  const slotsX = Math.min(across, Math.floor(width * dpr));
  const slotsY = Math.min(down, Math.floor(maxHeight * dpr));
  const cellW = Math.min(36, width / slotsX);
  const cellH = Math.min(22, Math.max(cellW, 4), maxHeight / slotsY);
  const drawW = cellW * slotsX;
  const drawH = cellH * slotsY;
  const ctx = sized(canvas, Math.max(drawW, 10), Math.max(drawH, 10), dpr);
  const acc = new Float64Array(slotsX * slotsY * K);
  // accumulate row by row of the data (row-major), each row segment over the slots it covers
  for (let j = 0; j < ranges.length; j++) {
    let index = starts[j];
    const end = starts[j + 1];
    while (index < end) {
      const row = Math.floor(index / columns);
      const col0 = index - row * columns;
      const rowEnd = Math.min(end, (row + 1) * columns);
      // full rows of one range at once: the slot rows they cover get their whole width
      if (col0 === 0 && end - index >= 2 * columns) {
        const lastFull = Math.floor(end / columns); // rows [row, lastFull) are full
        addBlock(acc, row, lastFull, 0, columns, codes[j]);
        index = lastFull * columns;
        continue;
      }
      addBlock(acc, row, row + 1, col0, rowEnd - row * columns, codes[j]);
      index = rowEnd;
    }
  }
  function addBlock(acc, r0, r1, c0, c1, code) {
    // data rows [r0, r1) x data columns [c0, c1) into slots
    const rowSlots = transpose ? slotsX : slotsY;
    const colSlots = transpose ? slotsY : slotsX;
    const rowPer = rows / rowSlots;
    const colPer = columns / colSlots;
    for (let rs = Math.floor(r0 / rowPer); rs < rowSlots && rs * rowPer < r1; rs++) {
      const rowOverlap = Math.min(r1, (rs + 1) * rowPer) - Math.max(r0, rs * rowPer);
      if (rowOverlap <= 0) continue;
      for (let cs = Math.floor(c0 / colPer); cs < colSlots && cs * colPer < c1; cs++) {
        const colOverlap = Math.min(c1, (cs + 1) * colPer) - Math.max(c0, cs * colPer);
        if (colOverlap <= 0) continue;
        const slot = transpose ? cs * slotsX + rs : rs * slotsX + cs;
        acc[slot * K + code] += rowOverlap * colOverlap;
      }
    }
  }
  const gap = cellW >= 5 && cellH >= 5 ? 1 : 0;
  for (let sy = 0; sy < slotsY; sy++) {
    for (let sx = 0; sx < slotsX; sx++) {
      paintSlot(ctx, acc, sy * slotsX + sx, sx * cellW, sy * cellH, cellW - gap, cellH - gap, colors);
    }
  }
  const dimsText = transpose
    ? `across: ${rowName} (${fmtInt(rows)}) · down: ${colName} (${fmtInt(columns)})`
    : `down: ${rowName} (${fmtInt(rows)}) · across: ${colName} (${fmtInt(columns)})`;
  const hit = (x, y) => {
    if (x < 0 || y < 0 || x >= drawW || y >= drawH) return null;
    const sx = Math.floor(x / cellW);
    const sy = Math.floor(y / cellH);
    const rowSlot = transpose ? sx : sy;
    const colSlot = transpose ? sy : sx;
    const rowSlots = transpose ? slotsX : slotsY;
    const colSlots = transpose ? slotsY : slotsX;
    const r0 = Math.floor((rowSlot * rows) / rowSlots);
    const r1 = Math.max(r0 + 1, Math.floor(((rowSlot + 1) * rows) / rowSlots));
    const c0 = Math.floor((colSlot * columns) / colSlots);
    const c1 = Math.max(c0 + 1, Math.floor(((colSlot + 1) * columns) / colSlots));
    const a = r0 * columns + c0;
    const single = r1 - r0 === 1 && c1 - c0 === 1;
    const where = single
      ? `partition ${fmtInt(a + 1)} of ${fmtInt(total)} (row ${fmtInt(r0 + 1)}, column ${fmtInt(c0 + 1)})`
      : `rows ${fmtInt(r0 + 1)}–${fmtInt(r1)}, columns ${fmtInt(c0 + 1)}–${fmtInt(c1)}`;
    return { where, ...rangesIn(ranges, starts, a, single ? a + 1 : r0 * columns + c1) };
  };
  hit.axisText = dimsText;
  return hit;
}
