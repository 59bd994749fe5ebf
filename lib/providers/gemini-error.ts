// Gemini's errors, read once: for @google/genai's ApiError (its message is the upstream JSON) and for ai.connection()'s refusals.
import { parseRetryAfter } from "../core/key-verdict.js";
import type { KeyVerdict, ProviderRefusal } from "../core/types.js";
import { nonEmptyString as str, upstreamError } from "./upstream-error.js";

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null;

/** What a Gemini error body says, as far as byok-ai reads it. */
interface GeminiError {
  /** The `ErrorInfo` reason, e.g. `API_KEY_INVALID`. */
  reason?: string;
  /** The `RetryInfo` delay, e.g. `"17s"` (Gemini sends no Retry-After header). */
  retryDelay?: string;
  /** Whether a `QuotaFailure` names a per-day quota (used up until tomorrow, not per minute). */
  dailyQuota: boolean;
  /** The error's `status`, e.g. `RESOURCE_EXHAUSTED`. */
  status?: string;
  message?: string;
}

/**
 * The error object of a Gemini error body, whatever its wrapping: `{ error: {…} }`, a one-element
 * array of it (Vertex AI), or the error object itself.
 */
function errorObjectOf(body: unknown): Json | undefined {
  const first = Array.isArray(body) ? (body[0] as unknown) : body;
  if (!isObject(first)) return undefined;
  return isObject(first.error) ? first.error : first;
}

/** The `google.rpc.*` details of a given type. */
function detailsOf(error: Json, type: string): Json[] {
  const details = Array.isArray(error.details) ? (error.details as unknown[]) : [];
  return details.filter((d): d is Json => isObject(d) && String(d["@type"] ?? "").endsWith(`google.rpc.${type}`));
}

/** Reads a Gemini error body: its reason, retry delay, daily quota, status and message; only what byok-ai acts on. */
export function readGeminiError(body: unknown): GeminiError {
  const error = errorObjectOf(body);
  if (!error) return { dailyQuota: false };
  const violations = detailsOf(error, "QuotaFailure").flatMap((failure) =>
    Array.isArray(failure.violations) ? (failure.violations as unknown[]) : [],
  );
  const out: GeminiError = {
    dailyQuota: violations.some((v) => isObject(v) && /PerDay/i.test(str(v.quotaId) ?? "")),
  };
  const reason = detailsOf(error, "ErrorInfo")
    .map((d) => str(d.reason))
    .find(Boolean);
  const retryDelay = detailsOf(error, "RetryInfo")
    .map((d) => str(d.retryDelay))
    .find(Boolean);
  if (reason) out.reason = reason;
  if (retryDelay) out.retryDelay = retryDelay;
  if (str(error.status)) out.status = str(error.status);
  if (str(error.message)) out.message = str(error.message);
  return out;
}

/**
 * What a Gemini refusal says about the key (see `Provider.readRefusal`): the 400 `API_KEY_INVALID`
 * is `"invalid"`; a 429 whose `QuotaFailure` names a per-day quota is `"quota_exhausted"`; any other
 * 429 is `"rate_limited"` for the Retry-After header's wait, else `RetryInfo.retryDelay`'s.
 */
export function geminiVerdict(status: number | undefined, error: GeminiError, retryAfter?: string | number | null) {
  if (error.reason === "API_KEY_INVALID") return { status: "invalid" } as const;
  if (status !== 429) return undefined;
  if (error.dailyQuota) return { status: "quota_exhausted" } as const;
  const seconds = parseRetryAfter(retryAfter) ?? parseRetryAfter(error.retryDelay);
  return seconds === undefined
    ? ({ status: "rate_limited" } as const)
    : { status: "rate_limited" as const, retryAfter: seconds };
}

/** {@link geminiVerdict} of a refusal's body: the Gemini provider's `readRefusal`. */
export const readGeminiRefusal = ({ status, body, retryAfter }: ProviderRefusal): KeyVerdict | undefined =>
  geminiVerdict(status, readGeminiError(body), retryAfter);

/**
 * The upstream JSON inside an ApiError message. A failed response's message is the body itself;
 * an error sent inside a stream is `got status: <STATUS>. <body>`. `undefined` when there is none.
 */
export function parseGeminiErrorBody(message: string): unknown {
  const start = message.indexOf("{");
  if (start < 0) return undefined;
  try {
    return JSON.parse(message.slice(start)) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * SDK error → ByokError. Aborts (our signal fired) pass through untouched: the core knows whether
 * it was the caller or `timeoutMs`. From an `ApiError` only its status and what
 * {@link readGeminiError} reads of the upstream's body are used (the message, cleaned, for a bad
 * request); anything else the SDK throws (network failure, unreadable reply) is a PROVIDER_ERROR
 * named by its class only.
 *
 * @param ApiError - the SDK's error class, from the loaded module
 */
export function mapGeminiError(
  id: string,
  error: unknown,
  apiKey: string,
  signal: AbortSignal,
  ApiError: abstract new (...args: never[]) => Error,
): unknown {
  if (signal.aborted || (error instanceof Error && error.name === "AbortError")) return error;
  if (error instanceof ApiError) {
    const raw = (error as Error & { status?: unknown }).status;
    const status = typeof raw === "number" ? raw : undefined;
    const body = readGeminiError(parseGeminiErrorBody(error.message));
    const verdict = geminiVerdict(status, body, body.retryDelay);
    return upstreamError(
      id,
      {
        status,
        type: body.reason ?? body.status,
        retryAfter: body.retryDelay,
        message: body.message,
        ...(verdict ? { verdict } : {}),
      },
      apiKey,
    );
  }
  return upstreamError(id, { type: error instanceof Error ? error.name : typeof error }, apiKey);
}
