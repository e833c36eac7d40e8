/**
 * The asset graph's layout: left to right, in boxes per (code location, group).
 *
 * Linear-ish in assets + dependencies, so that 1,000 assets lay out in milliseconds:
 *
 * 1. ranks: longest path from the sources (Kahn's topological order, one pass);
 * 2. group boxes: each (location, group) spans the ranks of its assets and is as tall as
 *    its fullest rank; boxes are packed top-down on a skyline over the rank columns,
 *    so boxes of unrelated ranks share a row and none overlap;
 * 3. order inside a box's columns: a few barycenter sweeps (down by upstreams, up by
 *    downstreams), each sorting one column by the mean height of its neighbours.
 */

export const NODE_W = 210;
export const NODE_H = 52;
export const COL_W = 280;
export const ROW_H = 66;
export const GROUP_PAD = 14;
export const GROUP_HEAD = 26;
export const GROUP_GAP = 28;

/**
 * @typedef {{key: string, deps?: string[], location: string | null, group_name: string | null}} GraphAsset
 * @typedef {{label: string, location: string | null, name: string, x: number, y: number,
 *   w: number, h: number, minRank: number, maxRank: number, cols: number[][]}} GroupBox
 * @typedef {{x: Float64Array, y: Float64Array, rank: Int32Array, edges: [number, number][],
 *   preds: number[][], succs: number[][], groups: GroupBox[], width: number, height: number}} Layout
 */

/**
 * Lay out assets; node `i` of the answer is `assets[i]`.
 * @param {GraphAsset[]} assets
 * @param {number} [sweeps] barycenter passes (alternating down and up)
 * @returns {Layout}
 */
export function layoutGraph(assets, sweeps = 4) {
  const n = assets.length;
  /** @type {Map<string, number>} */
  const index = new Map();
  assets.forEach((asset, i) => index.set(asset.key, i));
  /** @type {number[][]} */
  const preds = Array.from({ length: n }, () => []);
  /** @type {number[][]} */
  const succs = Array.from({ length: n }, () => []);
  /** @type {[number, number][]} */
  const edges = [];
  for (let i = 0; i < n; i++) {
    for (const dep of assets[i].deps ?? []) {
      const j = index.get(dep);
      if (j === undefined || j === i) continue;
      preds[i].push(j);
      succs[j].push(i);
      edges.push([j, i]);
    }
  }

  // 1. longest-path ranks in topological order
  const rank = new Int32Array(n);
  const indegree = new Int32Array(n);
  for (let i = 0; i < n; i++) indegree[i] = preds[i].length;
  const order = [];
  for (let i = 0; i < n; i++) if (indegree[i] === 0) order.push(i);
  for (let head = 0; head < order.length; head++) {
    const v = order[head];
    for (const s of succs[v]) {
      if (rank[s] < rank[v] + 1) rank[s] = rank[v] + 1;
      if (--indegree[s] === 0) order.push(s);
    }
  }
  if (order.length < n) {
    // a cycle (definitions refuse them, but the graph may mix locations): place the rest anyway
    for (let i = 0; i < n; i++) if (indegree[i] > 0) order.push(i);
  }
  let ranks = 1;
  for (let i = 0; i < n; i++) if (rank[i] + 1 > ranks) ranks = rank[i] + 1;

  // 2. group boxes
  /** @type {Map<string, number>} */
  const byName = new Map();
  const groupOf = new Int32Array(n);
  /** @type {GroupBox[]} */
  const groups = [];
  for (let i = 0; i < n; i++) {
    const { location, group_name: name } = assets[i];
    const id = `${location ?? ""}\u0000${name ?? "default"}`;
    let g = byName.get(id);
    if (g === undefined) {
      g = groups.length;
      byName.set(id, g);
      groups.push({
        label: location ? `${location} / ${name ?? "default"}` : (name ?? "default"),
        location,
        name: name ?? "default",
        x: 0,
        y: 0,
        w: 0,
        h: 0,
        minRank: rank[i],
        maxRank: rank[i],
        cols: [],
      });
    }
    groupOf[i] = g;
    const group = groups[g];
    if (rank[i] < group.minRank) group.minRank = rank[i];
    if (rank[i] > group.maxRank) group.maxRank = rank[i];
  }
  if (new Set(groups.map((g) => g.location)).size === 1) {
    for (const group of groups) group.label = group.name; // one location: the group says it all
  }
  for (const group of groups) group.cols = Array.from({ length: group.maxRank - group.minRank + 1 }, () => []);
  for (const v of order) {
    const group = groups[groupOf[v]];
    group.cols[rank[v] - group.minRank].push(v);
  }
  const placing = [...groups].sort(
    (a, b) =>
      a.minRank - b.minRank ||
      (a.location ?? "").localeCompare(b.location ?? "") ||
      a.name.localeCompare(b.name),
  );
  const skyline = new Float64Array(ranks);
  for (const group of placing) {
    let rows = 0;
    for (const col of group.cols) rows = Math.max(rows, col.length);
    let top = 0;
    for (let r = group.minRank; r <= group.maxRank; r++) top = Math.max(top, skyline[r]);
    group.x = group.minRank * COL_W;
    group.y = top;
    group.w = (group.maxRank - group.minRank) * COL_W + NODE_W + 2 * GROUP_PAD;
    group.h = GROUP_HEAD + GROUP_PAD + (rows - 1) * ROW_H + NODE_H + GROUP_PAD;
    for (let r = group.minRank; r <= group.maxRank; r++) skyline[r] = top + group.h + GROUP_GAP;
  }

  // 3. order within columns: barycenter sweeps
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  const place = (group, col, r) => {
    for (let slot = 0; slot < col.length; slot++) {
      const v = col[slot];
      x[v] = r * COL_W + GROUP_PAD;
      y[v] = group.y + GROUP_HEAD + GROUP_PAD + slot * ROW_H;
    }
  };
  /** @type {[GroupBox, number[]][][]} columns per rank */
  const columns = Array.from({ length: ranks }, () => []);
  for (const group of groups) {
    group.cols.forEach((col, offset) => {
      place(group, col, group.minRank + offset);
      columns[group.minRank + offset].push([group, col]);
    });
  }
  const bary = new Float64Array(n);
  for (let sweep = 0; sweep < sweeps; sweep++) {
    const down = sweep % 2 === 0;
    const neighbours = down ? preds : succs;
    for (let step = 0; step < ranks; step++) {
      const r = down ? step : ranks - 1 - step;
      for (const [group, col] of columns[r]) {
        if (col.length < 2) continue;
        for (const v of col) {
          const near = neighbours[v];
          if (near.length === 0) {
            bary[v] = y[v];
            continue;
          }
          let sum = 0;
          for (const u of near) sum += y[u];
          bary[v] = sum / near.length;
        }
        col.sort((a, b) => bary[a] - bary[b]);
        place(group, col, r);
      }
    }
  }

  let width = 0;
  let height = 0;
  for (const group of groups) {
    width = Math.max(width, group.x + group.w);
    height = Math.max(height, group.y + group.h);
  }
  return { x, y, rank, edges, preds, succs, groups, width, height };
}
