// The byok routes' security headers, from one helmet configuration: helmet's middleware for the router, its table for the fetch handler.
import type { IncomingMessage, ServerResponse } from "node:http";
import helmet, { type HelmetOptions } from "helmet";
import { configError } from "../core/option-checks.js";

/** A Node-style middleware helmet returns. */
export type HeaderMiddleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

/**
 * helmet on the byok routes: its defaults without `Strict-Transport-Security` (pinning every
 * subdomain to HTTPS for a year is the app's decision, not a library's) unless the app's own options
 * set it; nothing with `false`.
 *
 * @param where - the function whose options these are, for the message
 */
export function helmetFor(options: false | HelmetOptions, where: string): HeaderMiddleware | undefined {
  if (options === false) return undefined;
  const setsHsts = "strictTransportSecurity" in options || "hsts" in options;
  try {
    const withDefaults = setsHsts ? options : ({ ...options, strictTransportSecurity: false } as HelmetOptions);
    return helmet(withDefaults) as unknown as HeaderMiddleware;
  } catch (error) {
    throw configError(
      `${where}: helmet options rejected by helmet: ${error instanceof Error ? error.message : "invalid"}`,
    );
  }
}

/**
 * The headers `middleware` sets, as a table: helmet's answer does not depend on the request (no nonce
 * is configured by byok-ai), so running it once on a response that records them gives every header
 * the router's helmet sets, for answers that are not Node responses.
 */
export function headerTable(middleware: HeaderMiddleware | undefined): ReadonlyArray<[name: string, value: string]> {
  const table: [string, string][] = [];
  if (middleware === undefined) return table;
  const record = {
    setHeader: (name: string, value: string | number | readonly string[]) =>
      void table.push([name, Array.isArray(value) ? value.join(", ") : String(value)]),
    removeHeader: () => undefined,
  };
  middleware({} as IncomingMessage, record as unknown as ServerResponse, () => undefined);
  return Object.freeze(table);
}
