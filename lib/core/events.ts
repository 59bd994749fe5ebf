// Builds audit/usage events from an allow-list of fields per type and delivers them without ever breaking a request.
import { randomUUID } from "node:crypto";
import { debuglog } from "node:util";
import type { ByokEvent, Usage } from "./types.js";

const debug = debuglog("byok");

/** One operation (a call, or a router request's handling): its request id and start, shared by all its events. */
export interface Operation {
  readonly requestId: string;
  /** `performance.now()` at the start, for `durationMs`. */
  readonly startedAt: number;
}

/** Starts an operation now, under the router request's id when there is one, else a new UUID. */
export function startOperation(requestId: string | undefined): Operation {
  return { requestId: requestId ?? randomUUID(), startedAt: performance.now() };
}

type EventType = ByokEvent["type"];
/** What a call site gives for an event of type `T`: everything but what the sink adds itself. */
export type EventFields<T extends EventType> = Omit<
  Extract<ByokEvent, { type: T }>,
  "type" | "at" | "durationMs" | "requestId"
>;

/** Calls `onEvent` with a fresh event holding only allow-listed fields; never awaits it, never throws. */
export type EventSink = <T extends EventType>(type: T, operation: Operation, fields: EventFields<T>) => void;

/**
 * The fields each type may carry beyond userId and provider, and nothing else: what a call site passes
 * by mistake (a prompt, a request object) never reaches a listener.
 */
const ALLOWED: {
  readonly [T in EventType]: readonly Exclude<keyof EventFields<T>, "userId" | "teamId" | "provider">[];
} = {
  "key.registered": ["hint"],
  "key.deleted": [],
  "key.rejected": ["hint"],
  "key.checked": ["hint", "status"],
  "key.status_changed": ["label", "keyOwner", "hint", "status", "previousStatus", "statusUntil"],
  "key.failover": ["label", "keyOwner", "hint", "model", "code"],
  "key.used": ["method", "path", "status"],
  "chat.completed": ["label", "keyOwner", "model", "usage", "priceVersion"],
  "chat.failed": ["label", "keyOwner", "model", "code", "usage", "priceVersion"],
};

const USAGE_PARTS = ["cachedInputTokens", "cacheWriteTokens", "reasoningTokens", "costUsd"] as const;

const copyUsage = (usage: Usage): Usage => {
  const { inputTokens, outputTokens, totalTokens } = usage;
  const out: Usage = { inputTokens, outputTokens, totalTokens };
  for (const part of USAGE_PARTS) if (typeof usage[part] === "number") out[part] = usage[part];
  return out;
};

function build<T extends EventType>(type: T, operation: Operation, fields: EventFields<T>): ByokEvent {
  const given = fields as unknown as Record<string, unknown>;
  const event: Record<string, unknown> = {
    type,
    userId: given.userId,
    provider: given.provider,
    at: new Date().toISOString(),
    durationMs: Math.round(performance.now() - operation.startedAt),
    requestId: operation.requestId,
  };
  if (given.teamId !== undefined) event.teamId = given.teamId;
  for (const name of ALLOWED[type] as readonly string[]) {
    const value = given[name];
    if (value !== undefined) event[name] = name === "usage" ? copyUsage(value as Usage) : value;
  }
  return event as unknown as ByokEvent;
}

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
  return (type, operation, fields) => {
    try {
      const result: unknown = onEvent(build(type, operation, fields));
      if (result instanceof Promise) result.catch(report);
    } catch (error) {
      report(error);
    }
  };
}
