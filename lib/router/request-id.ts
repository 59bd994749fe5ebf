// The router request's id for events: its X-Request-Id when well-formed, else one generated per request.
import { randomUUID } from "node:crypto";

/** 1–128 printable ASCII characters, not starting with a space: safe to put in a log line as it is. */
const WELL_FORMED = /^[!-~][ -~]{0,127}$/;
const generated = new WeakMap<object, string>();

/**
 * The request's `X-Request-Id` if it is 1–128 printable ASCII characters (what proxies and tracing
 * set), else a `randomUUID()` made once per request (`req`, of any framework), so every event of one request shares it.
 */
export function requestIdOf(req: object, header: unknown): string {
  if (typeof header === "string" && WELL_FORMED.test(header)) return header;
  let id = generated.get(req);
  if (id === undefined) generated.set(req, (id = randomUUID()));
  return id;
}
