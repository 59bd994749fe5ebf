// Query parameters of the byok routes (`?provider=`, the connect flow's `?returnTo=`, `?state=`, `?code=`), read from
// the URL itself: the same in Express 4, Express 5 and Connect (which has no req.query).
import type { IncomingMessage } from "node:http";
import { invalid } from "../core/validate.js";

/**
 * The query parameter `name`: `undefined` when absent; a string when given once.
 * @param hint - what the value should be, for the error message (e.g. `"a provider id"`)
 * @throws ByokError INVALID_REQUEST naming `name` when it is given more than once
 */
export function queryParam(req: IncomingMessage, name: string, hint?: string): string | undefined {
  const query = (req.url ?? "").split("?", 2)[1];
  if (query === undefined) return undefined;
  const values = new URLSearchParams(query).getAll(name);
  if (values.length > 1) throw invalid(`Give ?${name}= once${hint === undefined ? "" : `, as ${hint}`}.`, [name]);
  return values[0];
}

/**
 * The `provider` query parameter: `undefined` when absent; a string when given once.
 * @throws ByokError INVALID_REQUEST when it is given more than once
 */
export const providerQuery = (req: IncomingMessage): string | undefined => queryParam(req, "provider", "a provider id");
