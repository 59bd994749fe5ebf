// What a provider's answer says about the key that made the call: refused (invalid), out of quota, rate limited.
import { ByokError } from "../errors.js";
import type { KeyStatus, StoredKeyStatus } from "./types.js";

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
export type LearnedStatus = Exclude<KeyStatus, "unreadable">;

/**
 * The status `health` stands for at `now`: a `"rate_limited"` whose `statusUntil` has passed is
 * `"ok"` again (the provider said the key may be used then), whatever the record still holds.
 */
export function currentStatus(health: KeyHealth, now = Date.now()): LearnedStatus {
  const { status, statusUntil } = health;
  if (status === "rate_limited" && statusUntil !== undefined && !(Date.parse(statusUntil) > now)) return "ok";
  return status ?? "ok";
}

/** What a refusal says about the key: its new status and, for a rate limit, the seconds the provider asked to wait. */
export interface KeyVerdict {
  status: StoredKeyStatus;
  /** Seconds until the key may be used again (`"rate_limited"` only), when the provider said. */
  retryAfter?: number;
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

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null;
const text = (value: unknown): string => (typeof value === "string" ? value : "");

/**
 * The error object of an upstream error body, whatever its wrapping: `{ error: {…} }` (OpenAI, Gemini,
 * OpenRouter), `{ type: "error", error: {…} }` (Anthropic), a one-element array of those (Vertex), or
 * the error object itself (what the openai SDK hands over).
 */
function errorObjectOf(body: unknown): Json | undefined {
  const first = Array.isArray(body) ? (body[0] as unknown) : body;
  if (!isObject(first)) return undefined;
  return isObject(first.error) ? first.error : first;
}

/** Gemini's `google.rpc.*` details of a given type. */
function detailsOf(error: Json, type: string): Json[] {
  const details = Array.isArray(error.details) ? (error.details as unknown[]) : [];
  return details.filter((d): d is Json => isObject(d) && text(d["@type"]).endsWith(`google.rpc.${type}`));
}

/**
 * Quota and billing refusals, from each provider's documented error bodies: OpenAI's and Azure's
 * `insufficient_quota`; Anthropic's `billing_error` (402), its 400 "credit balance is too low" and
 * spend-limit answers, and its 429 `enforced_spend_limit_reached`; Gemini's 429 `RESOURCE_EXHAUSTED`
 * whose `QuotaFailure` names a per-day quota; and any 402 Payment Required (OpenRouter's "Insufficient credits").
 */
function isQuotaRefusal(status: number | undefined, error: Json | undefined): boolean {
  if (status === 402) return true;
  if (!error) return false;
  const { type, code, message } = error;
  if (type === "insufficient_quota" || code === "insufficient_quota" || type === "billing_error") return true;
  const details = isObject(error.details) ? error.details : undefined;
  if (details?.error_code === "enforced_spend_limit_reached") return true;
  if (type === "invalid_request_error" && status === 400)
    return /credit balance is too low|reached your specified (?:workspace )?API usage limits/i.test(text(message));
  if (status === 429)
    return detailsOf(error, "QuotaFailure").some((failure) =>
      (Array.isArray(failure.violations) ? (failure.violations as unknown[]) : []).some(
        (v) => isObject(v) && /PerDay/i.test(text(v.quotaId)),
      ),
    );
  return false;
}

/**
 * What an upstream refusal says about the key, or `undefined` when it says nothing about it (5xx, a
 * bad request, a timeout): 401/403 (or `keyRejected`: Gemini's 400 `API_KEY_INVALID`) → `"invalid"`; a
 * quota or billing refusal → `"quota_exhausted"`; any other 429 → `"rate_limited"`, with the wait from
 * `retryAfter` or else Gemini's `RetryInfo.retryDelay`. Only statuses, types and codes are read (and one
 * documented Anthropic message), never kept.
 *
 * @param body - the upstream's parsed error body, if any
 * @param retryAfter - the `Retry-After` header's value, if any
 */
export function classifyRefusal(
  status: number | undefined,
  body: unknown,
  retryAfter?: string | number | null,
  keyRejected = false,
): KeyVerdict | undefined {
  const error = errorObjectOf(body);
  const reasons = error ? detailsOf(error, "ErrorInfo").map((d) => d.reason) : [];
  if (keyRejected || status === 401 || status === 403 || reasons.includes("API_KEY_INVALID"))
    return { status: "invalid" };
  if (isQuotaRefusal(status, error)) return { status: "quota_exhausted" };
  if (status !== 429) return undefined;
  const retryDelay = error ? detailsOf(error, "RetryInfo").map((d) => text(d.retryDelay))[0] : undefined;
  const seconds = parseRetryAfter(retryAfter) ?? parseRetryAfter(retryDelay);
  return seconds === undefined ? { status: "rate_limited" } : { status: "rate_limited", retryAfter: seconds };
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
