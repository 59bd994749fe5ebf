// What a provider's answer says about the key that made the call: refused (invalid), out of quota, rate limited.
import { ByokError } from "../errors.js";
import type { KeyStatus, KeyVerdict, Provider, ProviderRefusal, StoredKeyStatus } from "./types.js";

export type { KeyVerdict };

/** What reads a provider's refusals: the provider itself (its optional `readRefusal`). */
export type RefusalReader = Pick<Provider, "readRefusal">;

/** The statuses a store keeps, for stores checking what they read back. */
const STORED: ReadonlySet<string> = new Set<StoredKeyStatus>(["invalid", "quota_exhausted", "rate_limited"]);

/**
 * The `status` and `statusUntil` a store read back, as a record carries them: a value that is not a
 * {@link StoredKeyStatus} is no status at all ("ok"), and `statusUntil` only comes with a status.
 */
export function storedStatusOf(
  status: unknown,
  statusUntil: unknown,
): { status?: StoredKeyStatus; statusUntil?: string } {
  if (typeof status !== "string" || !STORED.has(status)) return {};
  const out: { status?: StoredKeyStatus; statusUntil?: string } = { status: status as StoredKeyStatus };
  if (typeof statusUntil === "string" && statusUntil !== "") out.statusUntil = statusUntil;
  return out;
}

/** A key's health as stored: the record's own fields, or a connection's running copy of them. */
export interface KeyHealth {
  status?: StoredKeyStatus;
  statusUntil?: string;
}

/** A status a call can learn (never `"unreadable"`, which is found by decrypting, not by calling). */
export type LearnedStatus = Exclude<KeyStatus, "unreadable" | "expired">;

/** Whether a record's `expiresAt` has come by `now` (an unparsable one counts as come: the key is never used). */
export const hasExpired = (record: { expiresAt?: string }, now = Date.now()): boolean =>
  record.expiresAt !== undefined && !(Date.parse(record.expiresAt) > now);

/**
 * The status `health` stands for at `now`: a `"rate_limited"` whose `statusUntil` has passed is
 * `"ok"` again (the provider said the key may be used then), whatever the record still holds.
 */
export function currentStatus(health: KeyHealth, now = Date.now()): LearnedStatus {
  const { status, statusUntil } = health;
  if (status === "rate_limited" && statusUntil !== undefined && !(Date.parse(statusUntil) > now)) return "ok";
  return status ?? "ok";
}

/** Seconds from a Retry-After value (delta-seconds or HTTP date); undefined when absent or unparsable. */
export function parseRetryAfter(value: string | number | null | undefined): number | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? Math.ceil(value) : undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?s?$/.test(trimmed)) return Math.ceil(Number.parseFloat(trimmed));
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/**
 * What a refusal says about the key, or `undefined` when it says nothing about it (5xx, a bad
 * request, a timeout): 401 → `"invalid"`; else what the provider's `readRefusal` says (a 403 may be a
 * project whose billing is off: `"quota_exhausted"`); else the status alone: 403 → `"invalid"`, 402 →
 * `"quota_exhausted"`, 429 → `"rate_limited"` with the `Retry-After` wait. A `readRefusal` that throws says
 * nothing.
 */
export function refusalVerdict(refusal: ProviderRefusal, reader?: RefusalReader): KeyVerdict | undefined {
  const { status, retryAfter } = refusal;
  if (status === 401) return { status: "invalid" };
  const told = readSafely(refusal, reader);
  if (told) return told;
  if (status === 403) return { status: "invalid" };
  if (status === 402) return { status: "quota_exhausted" };
  if (status !== 429) return undefined;
  const seconds = parseRetryAfter(retryAfter);
  return seconds === undefined ? { status: "rate_limited" } : { status: "rate_limited", retryAfter: seconds };
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null;

/**
 * `read`'s verdict when it is one (a stored status; for a rate limit, the wait it gives, else the
 * `Retry-After` header's), else `undefined`.
 */
function readSafely(refusal: ProviderRefusal, reader: RefusalReader | undefined): KeyVerdict | undefined {
  let told: unknown;
  try {
    told = reader?.readRefusal?.(refusal);
  } catch {
    return undefined;
  }
  if (!isObject(told) || typeof told.status !== "string" || !STORED.has(told.status)) return undefined;
  const status = told.status as StoredKeyStatus;
  if (status !== "rate_limited") return { status };
  const retryAfter = parseRetryAfter(told.retryAfter as number | undefined) ?? parseRetryAfter(refusal.retryAfter);
  return retryAfter === undefined ? { status } : { status, retryAfter };
}

/** Where the verdict rides on a ByokError: a non-enumerable property, so no JSON, inspect or log shows it. */
const VERDICT = Symbol.for("byok-ai.keyVerdict");

/** Attaches `verdict` (if any) to `error` for the core to read with {@link keyVerdictOf}; returns `error`. */
export function withKeyVerdict(error: ByokError, verdict: KeyVerdict | undefined): ByokError {
  if (verdict) Object.defineProperty(error, VERDICT, { value: Object.freeze({ ...verdict }) });
  return error;
}

/**
 * What a failed call says about its key: the verdict its provider attached, else what the error's code
 * implies (KEY_REJECTED → `"invalid"`, PROVIDER_RATE_LIMITED → `"rate_limited"`: a custom provider's
 * errors count too); `undefined` for anything that says nothing about the key (aborts, timeouts, 5xx).
 */
export function keyVerdictOf(error: unknown): KeyVerdict | undefined {
  if (!ByokError.is(error)) return undefined;
  const attached = (error as unknown as Record<symbol, unknown>)[VERDICT];
  if (isObject(attached) && typeof attached.status === "string" && STORED.has(attached.status))
    return attached as unknown as KeyVerdict;
  if (error.code === "KEY_REJECTED") return { status: "invalid" };
  if (error.code === "PROVIDER_RATE_LIMITED")
    return error.retryAfter === undefined
      ? { status: "rate_limited" }
      : { status: "rate_limited", retryAfter: error.retryAfter };
  return undefined;
}
