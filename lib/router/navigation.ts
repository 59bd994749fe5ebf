// The one rule for routes a browser opens as a page (the connect flow): a failure sends the person back to the app's page with its code, not to a JSON page.
import type { RouteAnswer } from "./route-layer.js";
import { toHttpError } from "./send-error.js";
import type { HeaderOf } from "./validation.js";

/** The query parameter that carries the error code back to the app's page. */
export const ERROR_PARAM = "byok_error";
/** The query parameter that names the request's parts that were wrong (`details.fields`, comma-separated). */
export const ERROR_FIELDS_PARAM = "byok_error_fields";
const BASE = "http://site.invalid";

/** The quality (`q`) the Accept header gives `type` itself (`*` ranges are ignored), 0 when it does not list it. */
function quality(accept: string, type: string): number {
  let best = 0;
  for (const entry of accept.split(",")) {
    const [range = "", ...params] = entry.split(";").map((part) => part.trim().toLowerCase());
    if (range !== type) continue;
    const q = params.find((param) => param.startsWith("q="));
    const value = q === undefined ? 1 : Number(q.slice(2));
    if (Number.isFinite(value)) best = Math.max(best, value);
  }
  return best;
}

/**
 * Whether the request is a browser opening a page (a link, a provider sending the person back), not a
 * script's `fetch`: `Sec-Fetch-Mode: navigate`, or an `Accept` that ranks `text/html` above
 * `application/json` (a browser's page load lists `text/html` first; `fetch` by default accepts any type).
 */
export function isBrowserNavigation(header: HeaderOf): boolean {
  if (header("sec-fetch-mode")?.trim().toLowerCase() === "navigate") return true;
  const accept = header("accept") ?? "";
  return quality(accept, "text/html") > quality(accept, "application/json");
}

/**
 * The answer to a failed navigation: a `303` to `back` (a path on this site, checked by `sitePath` before it
 * gets here) with `byok_error=<code>` and, when the error names them, `byok_error_fields=<field,…>` added to
 * its query. Only codes and field names: no message, so a crafted link cannot put words on the app's page.
 */
export function backWithError(back: string, error: unknown): RouteAnswer {
  const e = toHttpError(error);
  const url = new URL(back, BASE);
  url.searchParams.set(ERROR_PARAM, e.code);
  const fields = e.details?.fields;
  if (fields !== undefined && fields.length > 0) url.searchParams.set(ERROR_FIELDS_PARAM, fields.join(","));
  return { status: 303, location: `${url.pathname}${url.search}${url.hash}` };
}
