/**
 * An asset's status at a glance, from its summary and its upstreams' (the graph's nodes
 * and the asset page's header say the same thing).
 */

import { fmtInt } from "./dom.js";

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
