// Helpers shared by the networked stores: user-id checks, the STORE_UNAVAILABLE error, and a time limit per call.
import { debuglog } from "node:util";
import { ByokError } from "../errors.js";
import { invalid } from "../core/validate.js";
import { DEFAULT_LABEL, type KeyRecord } from "../core/types.js";

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

/**
 * Where a store keeps a record among its owner's: the provider id for label `"default"` (0.1's layout, one record
 * per provider, so records written before labels existed need no migration), else `<provider>:<label>`. No
 * provider id contains `:`, so the first one splits the two whatever the label holds.
 */
export const recordField = (provider: string, label: string = DEFAULT_LABEL): string =>
  label === DEFAULT_LABEL ? provider : `${provider}:${label}`;

/** The provider and label of a field written by {@link recordField}. */
export function fieldParts(field: string): { provider: string; label: string } {
  const at = field.indexOf(":");
  return at === -1
    ? { provider: field, label: DEFAULT_LABEL }
    : { provider: field.slice(0, at), label: field.slice(at + 1) };
}

/** The fields a `put` stores as given beside the ciphertext, those that are set (a replacing key drops the rest). */
export function settingsOf(
  record: KeyRecord,
): Pick<KeyRecord, "endpoint" | "region" | "priority" | "expiresAt" | "models"> {
  const settings: Pick<KeyRecord, "endpoint" | "region" | "priority" | "expiresAt" | "models"> = {};
  if (record.endpoint !== undefined) settings.endpoint = record.endpoint;
  if (record.region !== undefined) settings.region = record.region;
  if (record.priority !== undefined) settings.priority = record.priority;
  if (record.expiresAt !== undefined) settings.expiresAt = record.expiresAt;
  if (record.models !== undefined) settings.models = [...record.models];
  return settings;
}
