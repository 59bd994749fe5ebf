// Helpers shared by the networked stores: user-id checks, the STORE_UNAVAILABLE error, and a time limit per call.
import { debuglog } from "node:util";
import { ByokError } from "../errors.js";
import { invalid } from "../core/validate.js";

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

/** Longest key `putOnce`/`takeOnce` accept, in characters. */
const MAX_ONCE_KEY = 512;
/** Longest time `putOnce` keeps a value: a day (the router's connect state lives 10 minutes). */
const MAX_ONCE_TTL_MS = 24 * 60 * 60_000;
// eslint-disable-next-line no-control-regex -- NUL is exactly what must be refused
const UNSTORABLE_KEY = /[\p{Cs}\u0000]/u;

/**
 * The arguments of `putOnce`/`takeOnce`, checked the same way by every store: a key of 1–512 characters of
 * well-formed Unicode without NUL (so no two keys can meet once encoded), and a whole `ttlMs` from 1 ms to a day.
 * @throws ByokError INVALID_REQUEST naming `key` or `ttlMs`
 */
export function checkOnceKey(key: unknown, ttlMs?: unknown): string {
  if (typeof key !== "string" || key.length === 0 || key.length > MAX_ONCE_KEY || UNSTORABLE_KEY.test(key))
    throw invalid(`key must be a string of 1 to ${MAX_ONCE_KEY} characters of well-formed Unicode without NUL.`, [
      "key",
    ]);
  if (
    ttlMs !== undefined &&
    (typeof ttlMs !== "number" || !Number.isInteger(ttlMs) || ttlMs < 1 || ttlMs > MAX_ONCE_TTL_MS)
  )
    throw invalid(`ttlMs must be a whole number of milliseconds from 1 to ${MAX_ONCE_TTL_MS}.`, ["ttlMs"]);
  return key;
}
