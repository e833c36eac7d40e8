/**
 * The query API and its actions, same origin.
 *
 * Reads are plain GETs; actions are POSTs with a JSON body. The server refuses any other
 * content type for actions (a form on another site cannot send JSON without CORS), and
 * the token cookie, when the server needs one, rides along by default (same origin).
 */

/** An answer of the API that is not 2xx, with the server's one-line message. */
export class ApiError extends Error {
  /**
   * @param {string} message what the server said (`error`), or the HTTP status
   * @param {number} status HTTP status (0: no answer at all)
   * @param {string | null} kind the server's error class name, e.g. `SelectionError`
   */
  constructor(message, status, kind = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.kind = kind;
  }
}

/** `encodeURIComponent`, for asset keys in paths: keys hold `/` and must arrive as %2F. */
export const enc = encodeURIComponent;

/**
 * Build a path with a query string, leaving out empty parameters.
 * @param {string} path
 * @param {Record<string, string | number | null | undefined>} [params]
 */
export function url(path, params = {}) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") query.set(name, String(value));
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

async function answer(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    const message = body && typeof body.error === "string" ? body.error : `${response.status} ${response.statusText}`;
    throw new ApiError(message, response.status, body ? body.kind ?? null : null);
  }
  return body;
}

/**
 * A request index.html started for the first view, if any (each is used once).
 * @param {string} path
 * @returns {Promise<Response> | undefined}
 */
function takePrefetched(path) {
  const early = window.__conflux_prefetch;
  if (!(early instanceof Map)) return undefined;
  const found = early.get(path);
  early.delete(path);
  return found;
}

/**
 * GET a JSON endpoint.
 * @param {string} path e.g. `/assets` or `url("/events", {asset: key})`
 * @param {AbortSignal} [signal]
 */
export async function getJSON(path, signal) {
  let response;
  const early = takePrefetched(path);
  if (early) {
    try {
      return await answer(await early);
    } catch (error) {
      if (error instanceof ApiError) throw error;
      // the early request failed on the way: ask again below
    }
  }
  try {
    response = await fetch(path, { headers: { Accept: "application/json" }, signal });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(`the server does not answer (${error.message})`, 0);
  }
  return answer(response);
}

/**
 * Run an action: `POST /actions/<name>` with a JSON body; the same events as the CLI's.
 * @param {"materialize" | "report" | "backfill" | "cancel-backfill" | "instigator"} name
 * @param {object} payload
 */
export async function postAction(name, payload) {
  let response;
  try {
    response = await fetch(`/actions/${name}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(payload),
    });
  } catch (error) {
    throw new ApiError(`the server does not answer (${error.message})`, 0);
  }
  return answer(response);
}
