// Builds audit/usage events from an allow-list of fields and delivers them without ever breaking a request.
import { debuglog } from "node:util";
import type { ByokEvent } from "./types.js";

const debug = debuglog("byok");

/** Calls `onEvent` with a fresh event holding only allow-listed fields; never awaits it, never throws. */
export type EventSink = (type: ByokEvent["type"], fields: Omit<ByokEvent, "type" | "at">) => void;

/**
 * @param onEvent - the app's listener; a throwing or rejecting listener is reported once with
 * `process.emitWarning` (code `BYOK_EVENT_LISTENER_FAILED`) and otherwise ignored
 */
export function createEventSink(onEvent: ((event: ByokEvent) => void) | undefined): EventSink {
  if (!onEvent) return () => undefined;
  let warned = false;
  const report = (error: unknown) => {
    debug("onEvent listener failed: %s", error instanceof Error ? error.name : typeof error);
    if (warned) return;
    warned = true;
    process.emitWarning(
      "byok-ai: the onEvent listener threw; events keep being delivered, the request was not affected.",
      {
        code: "BYOK_EVENT_LISTENER_FAILED",
      },
    );
  };
  return (type, fields) => {
    const event: ByokEvent = { type, userId: fields.userId, provider: fields.provider, at: new Date().toISOString() };
    if (fields.hint !== undefined) event.hint = fields.hint;
    if (fields.model !== undefined) event.model = fields.model;
    if (fields.usage !== undefined) {
      const { inputTokens, outputTokens, totalTokens } = fields.usage;
      event.usage = { inputTokens, outputTokens, totalTokens };
    }
    if (fields.code !== undefined) event.code = fields.code;
    if (fields.method !== undefined) event.method = fields.method;
    if (fields.path !== undefined) event.path = fields.path;
    if (fields.status !== undefined) event.status = fields.status;
    if (fields.durationMs !== undefined) event.durationMs = fields.durationMs;
    try {
      const result: unknown = onEvent(event);
      if (result instanceof Promise) result.catch(report);
    } catch (error) {
      report(error);
    }
  };
}
