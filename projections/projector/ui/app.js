/**
 * Conflux's web UI: the router and the page frame (navigation, live indicator, system
 * status). Views live in their own modules and are mounted into `<main id="view">`;
 * each returns `destroy()`, called when the route changes, so that no listener of an
 * old view keeps running. Navigation is by hash, so the page never reloads.
 */

import { getJSON } from "./api.js";
import { h } from "./dom.js";
import { connect } from "./live.js";

/** @typedef {{destroy: () => void}} View */
/** @typedef {(root: HTMLElement) => View} Mount */

/**
 * The view for a hash, and the nav entry to highlight. Views are imported when first
 * shown, so a page load fetches the modules of its own view only (index.html preloads
 * them; the rest come with the first visit).
 * @param {string} hash e.g. `#/assets/raw_orders`
 * @returns {{nav: string, load: () => Promise<Mount>}}
 */
function route(hash) {
  const path = hash.replace(/^#/, "") || "/";
  const [, section = "", ...rest] = path.split("/");
  const tail = rest.join("/");
  const graph = { nav: "graph", load: async () => (await import("./graph.js")).mountGraph };
  switch (section) {
    case "":
      return graph;
    case "assets": {
      if (!tail) return graph;
      const key = decodeURIComponent(tail);
      return {
        nav: "graph",
        load: async () => {
          const { mountAsset } = await import("./asset.js");
          return (root) => mountAsset(root, key);
        },
      };
    }
    case "runs":
      if (tail) {
        const runId = decodeURIComponent(tail);
        return {
          nav: "runs",
          load: async () => {
            const { mountRun } = await import("./runs.js");
            return (root) => mountRun(root, runId);
          },
        };
      }
      return { nav: "runs", load: async () => (await import("./runs.js")).mountRuns };
    case "backfills":
      return { nav: "backfills", load: async () => (await import("./backfills.js")).mountBackfills };
    case "automation":
      return { nav: "automation", load: async () => (await import("./automation.js")).mountAutomation };
    default:
      return {
        nav: "",
        load: async () => (root) => {
          root.replaceChildren(h("div", { class: "card" }, h("h1", null, "Not found"), h("p", null, `Nothing at ${hash}. `, h("a", { href: "#/" }, "Back to the asset graph"))));
          return { destroy() {} };
        },
      };
  }
}

/** @type {View | null} */
let current = null;

let shown = 0; // which call of show() is the latest (imports may finish out of order)

async function show() {
  const root = /** @type {HTMLElement} */ (document.getElementById("view"));
  const mine = ++shown;
  if (current) {
    try {
      current.destroy();
    } catch (error) {
      console.error(error);
    }
    current = null;
  }
  const { nav, load } = route(location.hash);
  document.querySelectorAll("[data-nav]").forEach((a) => a.classList.toggle("active", a.getAttribute("data-nav") === nav));
  let mount;
  try {
    mount = await load();
  } catch (error) {
    root.replaceChildren(h("p", { class: "error" }, `Could not load this view: ${error.message}`));
    return;
  }
  if (mine !== shown) return; // the user went elsewhere meanwhile
  root.replaceChildren();
  root.dataset.view = nav;
  window.scrollTo(0, 0);
  current = mount(root);
}

function showLive(state) {
  const el = document.getElementById("live-status");
  if (!el) return;
  el.dataset.state = state;
  el.textContent = state === "live" ? "● live" : state === "reconnecting" ? "○ reconnecting…" : "○ connecting…";
}

async function pollStatus() {
  const el = document.getElementById("system-status");
  if (!el) return;
  try {
    const status = await getJSON("/status");
    el.dataset.ready = String(status.ready);
    el.textContent = status.ready ? "ready" : "not ready";
    el.title = status.ready ? `${status.events} events applied` : status.not_ready.join("\n");
  } catch (error) {
    el.dataset.ready = "false";
    el.textContent = "no answer";
    el.title = error.message;
  }
}

window.addEventListener("hashchange", show);
connect(showLive);
show();
setTimeout(pollStatus, 800); // after the first view's own requests
setInterval(pollStatus, 5000);
