/**
 * Live updates: one `EventSource("/stream")` for the whole page.
 *
 * The projector sends batches of compact event summaries
 * `{seq, type, time, event_id, asset_key, partition_key, run_id, backfill_id, name}`.
 * Views subscribe with `onEvents(batch)` and `onReset()`; a reset (the server says so,
 * or the connection dropped and came back) means events may have been missed, so views
 * fetch everything they show again.
 */

/** @typedef {{seq: number, type: string, time: string, event_id: string | null,
 *   asset_key: string | null, partition_key: string | null, run_id: string | null,
 *   backfill_id: string | null, name: string | null}} EventSummary */

/** @typedef {{onEvents?: (batch: EventSummary[]) => void, onReset?: () => void}} Listener */

/** @type {Set<Listener>} */
const listeners = new Set();
/** @type {EventSource | null} */
let source = null;
let lostConnection = false;
/** @type {(state: string) => void} */
let showState = () => {};

function each(method, arg) {
  for (const listener of [...listeners]) {
    try {
      listener[method]?.(arg);
    } catch (error) {
      console.error("live listener failed", error);
    }
  }
}

/**
 * Open the stream (once).
 * @param {(state: "connecting" | "live" | "reconnecting") => void} onState
 */
export function connect(onState) {
  showState = onState;
  if (source) return;
  showState("connecting");
  source = new EventSource("/stream");
  source.onopen = () => {
    showState("live");
    if (lostConnection) {
      lostConnection = false;
      each("onReset"); // the browser reconnected by itself: what happened meanwhile is unknown
    }
  };
  source.onerror = () => {
    lostConnection = true;
    showState("reconnecting");
  };
  source.onmessage = (message) => {
    let batch;
    try {
      batch = JSON.parse(message.data);
    } catch {
      return;
    }
    if (!Array.isArray(batch)) batch = [batch];
    if (batch.length) each("onEvents", batch);
  };
  source.addEventListener("reset", () => each("onReset"));
}

/**
 * Listen to the stream until the returned function is called.
 * @param {Listener} listener
 * @returns {() => void} unsubscribe
 */
export function subscribe(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/**
 * Make `fn` (usually a refetch) run at most once per `ms`, never twice at the same time.
 *
 * The first call after a quiet spell runs at once (an event shows without delay); calls
 * while it waits or runs are folded into one more run at the end of the window.
 * @param {() => (Promise<void> | void)} fn
 * @param {number | (() => number)} [ms] the window; a function is asked each time (an
 *   expensive refetch can widen its own window)
 * @returns {(() => void) & {cancel: () => void}}
 */
export function coalesce(fn, ms = 100) {
  let timer = null;
  let running = false;
  let again = false;
  let cancelled = false;
  let last = -Infinity;
  const run = async () => {
    timer = null;
    running = true;
    last = performance.now();
    try {
      await fn();
    } catch (error) {
      if (error?.name !== "AbortError") console.error(error);
    } finally {
      running = false;
      if (again && !cancelled) {
        again = false;
        schedule();
      }
    }
  };
  const schedule = () => {
    if (cancelled) return;
    if (running) {
      again = true;
      return;
    }
    if (timer !== null) return;
    const wait = typeof ms === "function" ? ms() : ms;
    timer = setTimeout(run, Math.max(0, last + wait - performance.now()));
  };
  schedule.cancel = () => {
    cancelled = true;
    if (timer !== null) clearTimeout(timer);
    timer = null;
  };
  return schedule;
}

/**
 * The asset keys a summary is about (`asset_key` is `,`-joined for several).
 * @param {EventSummary} summary
 * @returns {string[]}
 */
export function assetKeysOf(summary) {
  return summary.asset_key ? summary.asset_key.split(",") : [];
}
