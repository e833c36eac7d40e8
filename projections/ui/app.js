/**
 * Conflux's web UI: the router and the page frame (navigation, live indicator, system
 * status). Views live in their own modules and are mounted into `<main id="view">`;
 * each returns `destroy()`, called when the route changes, so that no listener of an
 * old view keeps running. Navigation is by hash, so the page never reloads.
 */

import { getJSON } from "./api.js";
import { mountAsset } from "./asset.js";
import { mountAutomation } from "./automation.js";
import { mountBackfills } from "./backfills.js";
import { h } from "./dom.js";
import { mountGraph } from "./graph.js";
import { connect } from "./live.js";
import { mountRun, mountRuns } from "./runs.js";

/** @typedef {{destroy: () => void}} View */

/**
 * The view for a hash, and the nav entry to highlight.
 * @param {string} hash e.g. `#/assets/raw_orders`
 * @returns {{nav: string, mount: (root: HTMLElement) => View}}
 */
function route(hash) {
  const path = hash.replace(/^#/, "") || "/";
  const [, section = "", ...rest] = path.split("/");
  const tail = rest.join("/");
  switch (section) {
    case "":
      return { nav: "graph", mount: (root) => mountGraph(root) };
    case "assets":
      if (!tail) return { nav: "graph", mount: (root) => mountGraph(root) };
      return { nav: "graph", mount: (root) => mountAsset(root, decodeURIComponent(tail)) };
    case "runs":
      if (tail) return { nav: "runs", mount: (root) => mountRun(root, decodeURIComponent(tail)) };
      return { nav: "runs", mount: (root) => mountRuns(root) };
    case "backfills":
      return { nav: "backfills", mount: (root) => mountBackfills(root) };
    case "automation":
      return { nav: "automation", mount: (root) => mountAutomation(root) };
    default:
      return {
        nav: "",
        mount: (root) => {
          root.replaceChildren(h("div", { class: "card" }, h("h1", null, "Not found"), h("p", null, `Nothing at ${hash}. `, h("a", { href: "#/" }, "Back to the asset graph"))));
          return { destroy() {} };
        },
      };
  }
}

/** @type {View | null} */
let current = null;

function show() {
  const root = /** @type {HTMLElement} */ (document.getElementById("view"));
  if (current) {
    try {
      current.destroy();
    } catch (error) {
      console.error(error);
    }
  }
  const { nav, mount } = route(location.hash);
  document.querySelectorAll("[data-nav]").forEach((a) => a.classList.toggle("active", a.getAttribute("data-nav") === nav));
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
