// Query parameters of the byok routes, read from the URL itself: the same in Express 4, Express 5 and Connect (which has no req.query).
import type { IncomingMessage } from "node:http";
import { invalid } from "../core/validate.js";

/**
 * One query parameter: `undefined` when absent; a string when given once.
 * @param hint - how to give it, for the message of a repeated one (e.g. "as a provider id")
 * @throws ByokError INVALID_REQUEST when it is given more than once
 */
export function queryParam(req: IncomingMessage, name: string, hint: string): string | undefined {
  const query = (req.url ?? "").split("?", 2)[1];
  if (query === undefined) return undefined;
  const values = new URLSearchParams(query).getAll(name);
  if (values.length > 1) throw invalid(`Give ?${name}= once, ${hint}.`, [name]);
  return values[0];
}

/**
 * The `provider` query parameter: `undefined` when absent; a string when given once.
 * @throws ByokError INVALID_REQUEST when it is given more than once
 */
export const providerQuery = (req: IncomingMessage): string | undefined =>
  queryParam(req, "provider", "as a provider id");
