// Helpers shared by the networked stores: user-id checks, the STORE_UNAVAILABLE error, and a time limit per call.
import { debuglog } from "node:util";
import { ByokError } from "../errors.js";

const debug = debuglog("byok");

/**
 * The core's user-id check, repeated at the store for apps that call a store directly.
 * @throws ByokError INVALID_REQUEST when a user id contains NUL or a lone surrogate, which no
 * networked store can keep apart from other ids
 */
export { checkOwnerId as checkStorableUserId } from "../core/validate.js";

/** The error every store method rejects with when its backend cannot be reached; never carries the backend's message. */
export function storeUnavailable(
  store: string,
  operation: string,
  error: unknown,
  hint = "check that it is reachable, then try again",
): ByokError {
  if (ByokError.is(error)) return error;
  const type = (error as { code?: unknown } | undefined)?.code ?? (error instanceof Error ? error.name : typeof error);
  debug("%s %s failed: %s", store, operation, String(type));
  return new ByokError("STORE_UNAVAILABLE", `${store}: ${operation} failed; ${hint}.`, {
    cause: { type: String(type) },
  });
}

/**
 * Settles like `work`, or rejects with `onTimeout()` after `ms`, whichever is first; the timer is
 * always cleared and a late rejection of `work` is swallowed.
 */
export function withTimeLimit<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  work.catch(() => undefined);
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}
