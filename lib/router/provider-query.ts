// Query parameters of the byok routes (`?provider=`, the connect flow's `?returnTo=`, `?state=`, `?code=`), read from
// the URL itself: the same in Express 4, Express 5 and Connect (which has no req.query).
import type { IncomingMessage } from "node:http";
import { invalid } from "../core/validate.js";

/** The query of a Node request's URL, read from the URL itself. */
export const queryOf = (req: IncomingMessage): URLSearchParams =>
  new URLSearchParams((req.url ?? "").split("?", 2)[1] ?? "");

/**
 * The query parameter `name`: `undefined` when absent; a string when given once.
 * @param hint - what the value should be, for the error message (e.g. `"a provider id"`)
 * @throws ByokError INVALID_REQUEST naming `name` when it is given more than once
 */
export function queryValue(query: URLSearchParams, name: string, hint?: string): string | undefined {
  const values = query.getAll(name);
  if (values.length > 1) throw invalid(`Give ?${name}= once${hint === undefined ? "" : `, as ${hint}`}.`, [name]);
  return values[0];
}

/**
 * The `provider` query parameter: `undefined` when absent; a string when given once.
 * @throws ByokError INVALID_REQUEST when it is given more than once
 */
export const providerQuery = (query: URLSearchParams): string | undefined =>
  queryValue(query, "provider", "a provider id");
