// `?provider=` of the byok routes, read from the URL itself: the same in Express 4, Express 5 and Connect (which has no req.query).
import type { IncomingMessage } from "node:http";
import { invalid } from "../core/validate.js";

/**
 * The `provider` query parameter: `undefined` when absent; a string when given once.
 * @throws ByokError INVALID_REQUEST when it is given more than once
 */
export function providerQuery(req: IncomingMessage): string | undefined {
  const query = (req.url ?? "").split("?", 2)[1];
  if (query === undefined) return undefined;
  const values = new URLSearchParams(query).getAll("provider");
  if (values.length > 1) throw invalid("Give ?provider= once, as a provider id.", ["provider"]);
  return values[0];
}
