/**
 * An asset's page (`#/assets/<key>`): header, actions, partition map, latest
 * materialization, checks, lineage, why, and the live event history.
 *
 * Every section loads on its own (the partition map does not wait for lineage), and
 * refreshes on its own when the stream says something happened to this asset.
 */

import { showMessage } from "./actions.js";
import { ApiError, enc, getJSON, url } from "./api.js";
import { materializeForm, reportForm } from "./asset_forms.js";
import { assetLink, card, facts, fill, fmtAgo, fmtInt, fmtTime, h, markRendered, pill, runLink } from "./dom.js";
import { EventList } from "./events.js";
import { assetKeysOf, coalesce, subscribe } from "./live.js";
import { drawPartitionMap } from "./partitions.js";
import { assetStatus } from "./status.js";

const CRON_NAMES = {
  "0 * * * *": "hourly",
  "0 0 * * *": "daily",
  "0 0 * * 0": "weekly",
  "0 0 1 * *": "monthly",
};

/** A partitions definition in a few words. */
export function describePartitions(snapshot) {
  if (!snapshot) return "not partitioned";
  switch (snapshot.kind) {
    case "time_window": {
      const every = CRON_NAMES[snapshot.cron_schedule] ?? `cron ${snapshot.cron_schedule}`;
      const when = (t) => t.replace("T00:00:00", "").replace("T", " ").replace(/:00$/, "");
      return `${every} from ${when(snapshot.start)}${snapshot.end ? ` to ${when(snapshot.end)} (exclusive)` : ""}, ${snapshot.timezone}`;
    }
    case "static":
      return `${fmtInt(snapshot.keys.length)} static keys`;
    case "dynamic":
      return `dynamic “${snapshot.name}”`;
    case "multi":
      return snapshot.dimensions.map(([name, dim]) => `${name}: ${describePartitions(dim)}`).join(" × ");
    default:
      return snapshot.kind;
  }
}

/** An automation condition tree (`ConditionResult`) as nested lists. */
function conditionTree(node) {
  if (!node) return null;
  return h(
    "ul",
    { class: "tree" },
    h(
      "li",
      null,
      h("span", { class: `cond ${node.value ? "true" : "false"}` }, `${node.value ? "✓" : "✕"} ${node.condition}`),
      node.detail ? h("span", { class: "muted" }, ` — ${node.detail}`) : null,
      (node.children ?? []).map((child) => conditionTree(child)),
    ),
  );
}

/**
 * Mount an asset's page.
 * @param {HTMLElement} root
 * @param {string} key the asset key
 */
export function mountAsset(root, key) {
  let destroyed = false;
  /** @type {any} */
  let summary = null;
  /** @type {Map<string, any>} */
  let byKey = new Map();
  let focus = null; // the partition lineage and why look at (null: the latest materialized one)
  let focusChosen = false;
  let lastRanges = null;

  const title = h("h1", { class: "asset-title" }, key);
  const statusSlot = h("span");
  const meta = h("div", { class: "meta" });
  const description = h("p", { class: "description" });
  const actions = h("div", { class: "actions" });
  const forms = h("div", { class: "forms" });
  const partitionsBody = h("div", { class: "partitions-body" }, h("p", { class: "muted" }, "Loading partitions…"));
  const partitionsCard = card("Partitions", partitionsBody);
  partitionsCard.hidden = true;
  const latestBody = h("div", null, h("p", { class: "muted" }, "Loading…"));
  const checksBody = h("div");
  const checksCard = card("Checks", checksBody);
  checksCard.hidden = true;
  const focusInput = h("input", { type: "text", class: "mono", placeholder: "partition key", size: 18, "aria-label": "partition for lineage and why" });
  const focusForm = h(
    "form",
    { class: "inline-form focus-form" },
    h("label", null, "Partition ", focusInput),
    h("button", { type: "submit" }, "Show"),
  );
  focusForm.addEventListener("submit", (e) => {
    e.preventDefault();
    focus = focusInput.value.trim() || null;
    focusChosen = true;
    loadLineage();
    loadWhy();
  });
  const lineageBody = h("div", { class: "lineage" }, h("p", { class: "muted" }, "Loading…"));
  const whyBody = h("div", { class: "why" }, h("p", { class: "muted" }, "Loading…"));
  const events = new EventList({
    params: { asset: key },
    matches: (s) => assetKeysOf(s).includes(key),
  });

  fill(
    root,
    h(
      "div",
      { class: "asset-page" },
      h("div", { class: "crumbs" }, h("a", { href: "#/" }, "Assets"), " / ", key),
      h("header", { class: "page-head" }, h("div", { class: "title-row" }, title, statusSlot), meta, description, actions, forms),
      partitionsCard,
      h("div", { class: "two-col" }, card("Latest materialization", latestBody), checksCard),
      card("Lineage and why", focusForm, h("div", { class: "two-col" }, h("div", null, h("h3", null, "Lineage"), lineageBody), h("div", null, h("h3", null, "Why"), whyBody))),
      card("Event history", events.element),
    ),
  );

  // --- header, actions -------------------------------------------------------------

  function renderHeader() {
    const a = summary;
    const status = assetStatus(a, byKey);
    fill(statusSlot, h("span", { class: `pill st-${status.kind}`, title: status.detail, dataset: { status: status.kind } }, status.text));
    const downstream = [...byKey.values()].filter((b) => (b.deps ?? []).includes(key)).map((b) => b.key);
    fill(
      meta,
      facts([
        ["group", a.group_name ?? "default"],
        ["location", a.location ?? "—"],
        ["partitions", a.partitioned ? describePartitions(a.partitions_snapshot) : "not partitioned"],
        ["automation", a.automation_condition ? h("code", null, a.automation_condition) : "none"],
        ["upstream", (a.deps ?? []).length ? a.deps.map((d, i) => [i ? ", " : "", assetLink(d)]) : "none"],
        ["downstream", byKey.size ? (downstream.length ? downstream.map((d, i) => [i ? ", " : "", assetLink(d)]) : "none") : "…"],
        a.is_external ? ["external", "observed only: report its materializations"] : [null, null],
        a.defined ? [null, null] : ["defined", "no: known from events only"],
      ]),
    );
    description.textContent = a.description ?? "";
    description.hidden = !a.description;
  }

  function renderActions() {
    const a = summary;
    const buttons = [];
    if (!a.is_external && a.defined) {
      buttons.push(h("button", { type: "button", class: "primary", onclick: () => toggleForm("materialize") }, "Materialize…"));
    }
    buttons.push(h("button", { type: "button", onclick: () => toggleForm("report") }, "Report a materialization…"));
    fill(actions, buttons);
  }

  let openForm = null;
  function toggleForm(which) {
    if (openForm === which) {
      fill(forms);
      openForm = null;
      return;
    }
    openForm = which;
    const close = () => toggleForm(which);
    fill(forms, which === "materialize" ? materializeForm(key, summary, close) : reportForm(key, summary, close));
    forms.querySelector("input, textarea, button")?.focus();
  }

  // --- sections ----------------------------------------------------------------------

  async function loadSummary() {
    const fresh = await getJSON(`/assets/${enc(key)}`);
    if (destroyed) return;
    const first = summary === null;
    summary = fresh;
    if (byKey.size) byKey.set(key, fresh);
    renderHeader();
    if (first) renderActions();
    partitionsCard.hidden = !summary.partitioned;
    focusForm.hidden = !summary.partitioned;
    renderChecks();
    if (!focusChosen) {
      const latest = summary.last_materialization?.partition_key ?? null;
      if (latest !== focus) {
        focus = latest;
        focusInput.value = latest ?? "";
        if (!first) {
          refreshLineage();
          refreshWhy();
        }
      }
    }
    await renderLatest();
  }

  async function loadGraphContext() {
    const all = await getJSON("/assets");
    if (destroyed) return;
    byKey = new Map(all.map((a) => [a.key, a]));
    if (summary) {
      byKey.set(key, summary);
      renderHeader();
    }
  }

  async function loadPartitions() {
    let data;
    try {
      data = await getJSON(`/assets/${enc(key)}/partitions`);
    } catch (error) {
      // an unpartitioned asset has no partition map (the API says so with a 400)
      if (error instanceof ApiError && error.status === 400) {
        partitionsCard.hidden = true;
        return;
      }
      throw error;
    }
    if (destroyed) return;
    performance.mark("asset:ranges-fetched");
    lastRanges = data;
    partitionsCard.hidden = false;
    if (data.total <= 1 && !(data.dimensions ?? []).length && summary && !summary.partitioned) {
      partitionsCard.hidden = true;
      return;
    }
    drawPartitionMap(partitionsBody, data);
    performance.mark("asset:map-drawn");
    markRendered("partitions");
  }

  let latestShown = null; // the event id the card shows
  async function renderLatest() {
    const last = summary.last_materialization;
    if (!last) {
      fill(latestBody, h("p", { class: "muted" }, summary.is_external ? "Never reported." : "Never materialized."));
      return;
    }
    if (last.event_id === latestShown) return;
    latestShown = last.event_id;
    // its metadata is in the event: ask for that partition's newest (cheap, by partition)
    const found = await getJSON(url("/events", { asset: key, partition: last.partition_key, type: "AssetMaterialized", limit: 1 }));
    if (destroyed) return;
    const event = found.find((r) => r.event?.event_id === last.event_id)?.event ?? found[0]?.event ?? null;
    const metadata = Object.entries(event?.metadata ?? {});
    fill(
      latestBody,
      facts([
        ["partition", last.partition_key ? h("span", { class: "mono" }, last.partition_key) : null],
        ["data version", h("span", { class: "mono data-version" }, last.data_version)],
        ["time", h("span", { title: last.time }, `${fmtTime(last.time)} (${fmtAgo(last.time)})`)],
        ["source", last.source],
        ["run", last.run_id ? runLink(last.run_id) : null],
        ["code version", event?.code_version ?? null],
        ["took", event?.duration_ms != null ? `${Math.round(event.duration_ms)} ms` : null],
      ]),
      metadata.length
        ? h(
            "table",
            { class: "table metadata" },
            h("thead", null, h("tr", null, h("th", null, "metadata"), h("th", null, "value"))),
            h(
              "tbody",
              null,
              metadata.map(([name, value]) => h("tr", null, h("td", { class: "mono" }, name), h("td", { class: "mono" }, typeof value === "string" ? value : JSON.stringify(value)))),
            ),
          )
        : h("p", { class: "muted" }, "No metadata."),
    );
  }

  function renderChecks() {
    const checks = summary.checks ?? [];
    checksCard.hidden = checks.length === 0;
    if (!checks.length) return;
    fill(
      checksBody,
      h(
        "table",
        { class: "table" },
        h("thead", null, h("tr", null, h("th", null, "check"), h("th", null, "status"), h("th", null, "passed"), h("th", null, "failed"), h("th", null, "last result"))),
        h(
          "tbody",
          null,
          checks.map((c) =>
            h(
              "tr",
              null,
              h("td", null, c.name, c.blocking ? h("span", { class: "tag" }, "blocking") : null),
              h("td", null, pill(c.status)),
              h("td", { class: "num" }, fmtInt(c.passed)),
              h("td", { class: "num" }, fmtInt(c.failed)),
              h(
                "td",
                { class: "small" },
                c.last_result
                  ? [
                      fmtTime(c.last_result.time),
                      c.last_result.partition_key ? ` · ${c.last_result.partition_key}` : "",
                      c.last_result.message ? ` · ${c.last_result.message}` : "",
                      Object.keys(c.last_result.metadata ?? {}).length ? h("span", { class: "mono muted" }, ` ${JSON.stringify(c.last_result.metadata)}`) : null,
                    ]
                  : "—",
              ),
            ),
          ),
        ),
      ),
    );
  }

  async function loadLineage() {
    const partition = focus;
    if (summary && summary.partitioned && !partition) {
      fill(lineageBody, h("p", { class: "muted" }, "No partition materialized yet: nothing to trace."));
      return;
    }
    const ask = (direction) => getJSON(url("/lineage", { asset: key, partition, direction, depth: 5 }));
    let up;
    let down;
    try {
      [up, down] = await Promise.all([ask("upstream"), ask("downstream")]);
    } catch (error) {
      if (destroyed) return;
      if (error instanceof ApiError && error.status === 404 && /archive/i.test(error.message)) {
        fill(lineageBody, h("p", { class: "muted" }, "No lineage here: this projector keeps no archive (lineage is read from the ClickHouse archive)."));
      } else {
        fill(lineageBody, h("p", { class: "muted" }, error.message));
      }
      return;
    }
    if (destroyed) return;
    const rows = (links, direction) =>
      links.length
        ? h(
            "table",
            { class: "table lineage-table" },
            h("thead", null, h("tr", null, h("th", null, "hops"), h("th", null, direction === "upstream" ? "read" : "built"), h("th", null, "partition"), h("th", null, "data version"))),
            h(
              "tbody",
              null,
              links.map((l) => {
                const asset = direction === "upstream" ? l.upstream_asset : l.downstream_asset;
                const part = direction === "upstream" ? l.upstream_partition : l.downstream_partition;
                const version = direction === "upstream" ? l.upstream_data_version : l.downstream_data_version;
                return h("tr", null, h("td", { class: "num" }, l.depth), h("td", null, assetLink(asset)), h("td", { class: "mono small" }, part ?? "—"), h("td", { class: "mono small" }, version ?? "never materialized"));
              }),
            ),
          )
        : h("p", { class: "muted" }, direction === "upstream" ? "It read nothing (no upstreams)." : "Nothing was built from it yet.");
    fill(
      lineageBody,
      h("p", { class: "small" }, "From ", h("span", { class: "mono" }, `${up.root.asset_key}${up.root.partition_key ? ` [${up.root.partition_key}]` : ""}`), ` @ ${up.root.data_version}, ${fmtTime(up.root.time)}`),
      h("h4", null, "Upstream: what it read"),
      rows(up.links, "upstream"),
      h("h4", null, "Downstream: what was built from it"),
      rows(down.links, "downstream"),
    );
  }

  async function loadWhy() {
    if (summary && summary.partitioned && !focus) {
      fill(whyBody, h("p", { class: "muted" }, "No partition materialized yet: type a partition key above to ask about it."));
      return;
    }
    let why;
    try {
      why = await getJSON(url("/why", { asset: key, partition: focus }));
    } catch (error) {
      if (!destroyed) fill(whyBody, h("p", { class: "muted" }, error.message));
      return;
    }
    if (destroyed) return;
    const run = why.last_run;
    fill(
      whyBody,
      h("p", { class: "small muted" }, why.partition_key ? `Partition ${why.partition_key}` : "The asset"),
      run
        ? [
            h("p", null, pill(run.status ?? "queued"), " ", h("span", { class: "tag" }, run.trigger), " ", run.explanation, " · run ", runLink(run.run_id), ` · ${fmtTime(run.requested_at)}`),
            run.evaluation ? [h("h4", null, "Condition when requested"), conditionTree(run.evaluation)] : null,
          ]
        : h("p", { class: "muted" }, "No run has covered it yet."),
      why.automation_condition
        ? [h("h4", null, "Automation now: ", h("code", null, why.automation_condition)), conditionTree(why.evaluation_now)]
        : h("p", { class: "muted" }, "Not automated: it runs when someone, a schedule or a sensor asks."),
    );
  }

  // --- live --------------------------------------------------------------------------

  const refreshSummary = coalesce(loadSummary, 100);
  // A million partitions' ranges cost the server a while: refetch at most every three
  // times what the last fetch took (and at least every 100 ms).
  let partitionsCost = 0;
  const refreshPartitions = coalesce(async () => {
    const t0 = performance.now();
    await loadPartitions();
    partitionsCost = performance.now() - t0;
  }, () => Math.max(100, 3 * partitionsCost));
  const refreshWhy = coalesce(loadWhy, 500);
  const refreshLineage = coalesce(loadLineage, 1000);
  const refreshEvents = coalesce(() => events.load(), 100);

  const unsubscribe = subscribe({
    onEvents(batch) {
      let mine = false;
      let materialized = false;
      for (const s of batch) {
        if (!assetKeysOf(s).includes(key)) continue;
        mine = true;
        if (s.type === "AssetMaterialized") materialized = true;
      }
      events.onSummaries(batch);
      if (!mine) return;
      refreshSummary();
      if (summary?.partitioned) refreshPartitions();
      refreshWhy();
      if (materialized) refreshLineage();
    },
    onReset() {
      refreshSummary();
      refreshPartitions();
      refreshWhy();
      refreshLineage();
      refreshEvents();
    },
  });

  const onResize = coalesce(() => {
    if (lastRanges && !partitionsCard.hidden) drawPartitionMap(partitionsBody, lastRanges);
  }, 150);
  window.addEventListener("resize", onResize);

  const failed = (where) => (error) => {
    if (!destroyed && error?.name !== "AbortError") showMessage(`${where}: ${error.message}`, "error");
  };

  // the map does not wait for anything else; header and map are "rendered"
  const head = loadSummary().catch((error) => {
    if (error instanceof ApiError && error.status === 404) {
      fill(root, h("div", { class: "card" }, h("h1", null, key), h("p", { class: "error" }, error.message), h("p", null, h("a", { href: "#/" }, "Back to the asset graph"))));
      destroyed = true;
      return;
    }
    failed("asset")(error);
  });
  const map = loadPartitions().catch(failed("partitions"));
  const t0 = performance.now();
  Promise.all([head, map]).then(() => {
    if (destroyed) return;
    partitionsCost = performance.now() - t0;
    markRendered("asset");
    // the rest waits for the map: the server answers one request at a time anyway (GIL)
    events.load().catch(failed("events"));
    loadLineage().catch(failed("lineage"));
    loadWhy().catch(failed("why"));
    loadGraphContext().catch(() => {});
  });

  return {
    destroy() {
      destroyed = true;
      unsubscribe();
      for (const fn of [refreshSummary, refreshPartitions, refreshWhy, refreshLineage, refreshEvents, onResize]) fn.cancel();
      events.destroy();
      window.removeEventListener("resize", onResize);
    },
  };
}
