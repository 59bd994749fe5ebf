// Turns @google/genai errors (an ApiError whose message is the upstream JSON) into ByokErrors.
import { nonEmptyString as str, upstreamError } from "./upstream-error.js";

type ErrorDetail = { "@type"?: unknown; reason?: unknown; retryDelay?: unknown };
type ErrorBody = { error?: { message?: unknown; status?: unknown; details?: unknown } };

/**
 * The upstream JSON inside an ApiError message. A failed response's message is the body itself;
 * an error sent inside a stream is `got status: <STATUS>. <body>`. `undefined` when there is none.
 */
export function parseGeminiErrorBody(message: string): ErrorBody["error"] | undefined {
  const start = message.indexOf("{");
  if (start < 0) return undefined;
  try {
    const body = JSON.parse(message.slice(start)) as ErrorBody | null;
    return typeof body?.error === "object" && body.error !== null ? body.error : undefined;
  } catch {
    return undefined;
  }
}

/**
 * SDK error → ByokError. Aborts (our signal fired) pass through untouched: the core knows whether
 * it was the caller or `timeoutMs`. From an `ApiError` only its status and the upstream's own
 * message, reason (`API_KEY_INVALID`: Gemini answers a bad key with 400) and
 * `RetryInfo.retryDelay` (Gemini sends no Retry-After header) are read; anything else the SDK
 * throws (network failure, unreadable reply) is a PROVIDER_ERROR named by its class only.
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
    const status = (error as Error & { status?: unknown }).status;
    const body = parseGeminiErrorBody(error.message);
    const details = (Array.isArray(body?.details) ? body.details : []) as ErrorDetail[];
    const reason = details.map((d) => str(d?.reason)).find(Boolean);
    const retryDelay = details.map((d) => str(d?.retryDelay)).find(Boolean);
    return upstreamError(
      id,
      {
        status: typeof status === "number" ? status : undefined,
        type: reason ?? str(body?.status),
        retryAfter: retryDelay,
        message: str(body?.message),
        keyRejected: reason === "API_KEY_INVALID",
        body, // its QuotaFailure tells a daily quota from a per-minute rate limit
      },
      apiKey,
    );
  }
  return upstreamError(id, { type: error instanceof Error ? error.name : typeof error }, apiKey);
}
