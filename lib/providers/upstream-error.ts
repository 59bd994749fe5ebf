// The one place that turns upstream HTTP statuses and failures into ByokErrors, and cleans upstream text of anything key-like.
import { ByokError } from "../errors.js";
import { parseRetryAfter, refusalVerdict, withKeyVerdict } from "../core/key-verdict.js";
import type { KeyVerdict } from "../core/types.js";

export { parseRetryAfter };

/** What a provider knows about a failed upstream call. */
export interface UpstreamFailure {
  /** HTTP status, when the upstream answered. */
  status?: number;
  /** `Retry-After` (seconds or HTTP date) or a number of seconds. */
  retryAfter?: string | number | null;
  /** The upstream's own error message, passed on (cleaned) for PROVIDER_BAD_REQUEST only. */
  message?: string;
  /**
   * The upstream's error type/reason, kept in `cause` for debugging when it is a short token
   * (letters, digits, `_`, `.`, `-`; at most 64) with nothing key-like in it.
   */
  type?: string;
  /** Set when the SDK's own timer fired (not the core's): maps to PROVIDER_TIMEOUT. */
  timedOut?: boolean;
  /**
   * What the refusal says about the key beyond its status, as the provider's `readRefusal` reads
   * its error body: `"invalid"` makes it KEY_REJECTED whatever the status, `"quota_exhausted"` names
   * the quota in a 429's message. Without it, the status alone tells (see `Provider.readRefusal`).
   */
  verdict?: KeyVerdict;
}

// Patterns that look like credentials: vendor prefixes, masked keys ("sk-abc***…wjh3"), bearer tokens, long random tokens.
const KEY_LIKE = [
  /\b(?:sk|pk|rk|sess)-[A-Za-z0-9_\-*.\u2026]{3,}/g,
  /\bAIza[0-9A-Za-z_\-*.\u2026]{3,}/g,
  /\b(?:gsk|xai|key|api[-_]?key|token)[-_][A-Za-z0-9_\-*.\u2026]{6,}/gi,
  /\bBearer\s+\S+/gi,
  /\S*(?:\*{2,}|\u2026)\S*/g,
  /\b(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{24,}\b/g,
];

/** Shortest piece of a key that counts as the key: every piece this long is redacted wherever it appears. */
const KEY_PIECE = 8;
/** Upstream text longer than this is cut before it is cleaned (the kept message is shorter still). */
const UPSTREAM_TEXT_READ = 4096;
/** The kept part of an upstream message. */
const UPSTREAM_MESSAGE_KEPT = 300;
/** What an upstream error type, code or reason may look like to be kept (`invalid_request_error`, `API_KEY_INVALID`). */
const SAFE_TOKEN = /^[a-z0-9_.-]{1,64}$/i;

/** The characters of base64(`bytes`) that depend on `bytes` alone when they start `offset` bytes into a 3-byte group. */
function base64Interior(bytes: Buffer, offset: number): string {
  const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString("base64");
  return encoded.slice(Math.ceil((8 * offset) / 6), Math.floor((8 * (offset + bytes.length)) / 6));
}

/**
 * The forms in which an upstream may quote a key: as is, reversed, URL-encoded (encodeURIComponent
 * and form encoding, with upper- or lower-case escapes), hex (either case), and base64 and base64url
 * at each of the three byte alignments it can have inside a longer encoded text (`Bearer <key>`,
 * `user:<key>`), keeping only the characters that encode the key's bytes alone.
 */
function keyForms(apiKey: string): string[] {
  const bytes = Buffer.from(apiKey, "utf8");
  const lowerEscapes = (text: string) => text.replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase());
  const uri = encodeURIComponent(apiKey);
  const form = new URLSearchParams({ k: apiKey }).toString().slice(2);
  const base64 = [0, 1, 2].map((offset) => base64Interior(bytes, offset));
  const hex = bytes.toString("hex");
  return [
    apiKey,
    [...apiKey].reverse().join(""),
    uri,
    lowerEscapes(uri),
    form,
    lowerEscapes(form),
    hex,
    hex.toUpperCase(),
    ...base64,
    ...base64.map((text) => text.replace(/\+/g, "-").replace(/\//g, "_")),
  ];
}

/**
 * Replaces every stretch of `text` made of pieces of `apiKey` in any of its {@link keyForms} (any
 * {@link KEY_PIECE} characters in a row that also appear in one form) with `[redacted]`. One pass over
 * the text with a set of the forms' 8-character pieces: linear in both lengths, whatever part of
 * the key the upstream echoed, and however it encoded it.
 */
function redactKeyPieces(text: string, apiKey: string): string {
  const forms = keyForms(apiKey);
  if (apiKey.length < KEY_PIECE) return forms.reduce((out, form) => out.split(form).join("[redacted]"), text);
  const pieces = new Set<string>();
  for (const form of forms) for (let i = 0; i + KEY_PIECE <= form.length; i++) pieces.add(form.slice(i, i + KEY_PIECE));
  let out = "";
  let kept = 0; // text before this index is already in `out`
  let coveredUntil = -1; // end of the redacted stretch being built
  for (let i = 0; i + KEY_PIECE <= text.length; i++) {
    if (!pieces.has(text.slice(i, i + KEY_PIECE))) continue;
    if (i > coveredUntil) {
      if (coveredUntil >= 0) out += "[redacted]";
      out += text.slice(kept, i);
    }
    coveredUntil = i + KEY_PIECE;
    kept = coveredUntil;
  }
  if (coveredUntil >= 0) out += "[redacted]";
  return out + text.slice(kept);
}

/**
 * Removes the key and anything key-like from upstream text, and bounds its length (300 characters).
 * @param apiKey - the key used for the call: any 8 or more characters in a row of it, of it
 * reversed, or of its URL-encoded, hex, base64 or base64url form are removed, wherever they sit in
 * the text
 */
export function cleanUpstreamMessage(message: string, apiKey?: string): string {
  let out = message.slice(0, UPSTREAM_TEXT_READ);
  // Patterns first: cutting pieces of this key out first could split another key-like token past recognition.
  for (const pattern of KEY_LIKE) out = out.replace(pattern, "[redacted]");
  if (apiKey) out = redactKeyPieces(out, apiKey);
  out = out.replace(/\s+/g, " ").trim();
  return out.length > UPSTREAM_MESSAGE_KEPT ? `${out.slice(0, UPSTREAM_MESSAGE_KEPT - 3)}...` : out;
}

/**
 * An upstream error type, code or reason, kept for `cause` only when it is a short plain token that
 * holds nothing key-like and no piece of the key in any form; anything else is dropped.
 */
function safeUpstreamToken(token: string | undefined, apiKey: string | undefined): string | undefined {
  if (token === undefined || !SAFE_TOKEN.test(token)) return undefined;
  return cleanUpstreamMessage(token, apiKey) === token ? token : undefined;
}

/** `value` when it is a non-empty string, else `undefined`: for reading fields of an SDK's error body. */
export const nonEmptyString = (value: unknown): string | undefined =>
  typeof value === "string" && value ? value : undefined;

/**
 * Maps an upstream failure onto the contract: 401/403 (or a `verdict` of `"invalid"`) → KEY_REJECTED,
 * 429 → PROVIDER_RATE_LIMITED (+ retryAfter), other 4xx → PROVIDER_BAD_REQUEST (cleaned message),
 * 408/504 (or `timedOut`) → PROVIDER_TIMEOUT, anything else (5xx, no answer, garbage) → PROVIDER_ERROR.
 * What the refusal says about the key (invalid, quota exhausted, rate limited) rides along for the
 * core's key health (`keyVerdictOf`), invisible to the app.
 *
 * @param provider - the provider id, named in the message
 * @param apiKey - the key used, so it can be scrubbed from any upstream text
 */
export function upstreamError(provider: string, failure: UpstreamFailure, apiKey?: string): ByokError {
  const verdict = refusalVerdict(failure, { readRefusal: () => failure.verdict });
  return withKeyVerdict(toByokError(provider, failure, verdict, apiKey), verdict);
}

function toByokError(
  provider: string,
  failure: UpstreamFailure,
  verdict: KeyVerdict | undefined,
  apiKey?: string,
): ByokError {
  const { status } = failure;
  // The type is upstream text too (an error code or reason such as API_KEY_INVALID): no piece of the key may stay in it.
  const cause = { status, type: safeUpstreamToken(failure.type, apiKey) };
  if (verdict?.status === "invalid") {
    return new ByokError(
      "KEY_REJECTED",
      `The ${provider} provider rejected the API key; ask the user to check it and add it again.`,
      { provider, cause },
    );
  }
  if (status === 429) {
    const retryAfter = parseRetryAfter(failure.retryAfter);
    const what =
      verdict?.status === "quota_exhausted"
        ? "refused this key: its quota or credit is used up; ask the user to check their plan and billing"
        : `is rate limiting this key${retryAfter === undefined ? "" : `; retry after ${retryAfter} s`}`;
    return new ByokError("PROVIDER_RATE_LIMITED", `The ${provider} provider ${what}.`, {
      provider,
      cause,
      ...(retryAfter === undefined ? {} : { retryAfter }),
    });
  }
  if (failure.timedOut || status === 408 || status === 504) {
    return new ByokError("PROVIDER_TIMEOUT", `The ${provider} provider timed out; try again.`, { provider, cause });
  }
  if (status !== undefined && status >= 400 && status < 500) {
    const detail = failure.message ? `: ${cleanUpstreamMessage(failure.message, apiKey)}` : "";
    return new ByokError(
      "PROVIDER_BAD_REQUEST",
      `The ${provider} provider refused the request (HTTP ${status})${detail}`,
      { provider, cause },
    );
  }
  const what =
    status === undefined ? "could not be reached or answered with something unreadable" : `failed (HTTP ${status})`;
  return new ByokError("PROVIDER_ERROR", `The ${provider} provider ${what}; try again later.`, { provider, cause });
}
