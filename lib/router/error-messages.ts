// End-user wording of every error code (one text each), and the `messages` option that lets apps reword or translate it.
import { debuglog } from "node:util";
import { configError, didYouMean } from "../core/option-checks.js";
import { type ByokErrorCode, ERROR_STATUS } from "../errors.js";

const debug = debuglog("byok");

/** The machine-readable part of an error answer: field names, the provider, seconds to wait; never a value. */
export interface ErrorDetails {
  /** Names of the fields to fix (INVALID_REQUEST, UNKNOWN_PROVIDER…). */
  fields?: string[];
  /** The provider involved, when there is one. */
  provider?: string;
  /** Seconds to wait before retrying (429s); also sent as `Retry-After`. */
  retryAfter?: number;
  [name: string]: unknown;
}

/**
 * The `messages` option of `byokRouter()` and `byokErrorHandler()`: the end-user text per code, as a
 * partial map (codes left out keep the default) or a function (`undefined` keeps the default).
 */
export type ErrorMessages =
  Partial<Record<ByokErrorCode, string>> | ((code: ByokErrorCode, details: ErrorDetails) => string | undefined);

/** Resolves the end-user message of an error answer. */
export type MessageFor = (code: ByokErrorCode, details: ErrorDetails) => string;

function checkTheseFields(details: ErrorDetails): string {
  const fields = details.fields ?? [];
  if (fields.length === 0) return "This request is not valid. Check what was sent and try again.";
  return fields.length === 1 ? `Check this field: ${fields[0]}.` : `Check these fields: ${fields.join(", ")}.`;
}

/** A budget refusal: wait for the period to reset, or (one request larger than the whole budget) ask for less. */
function overBudget(details: ErrorDetails): string {
  return details.reason === "request_exceeds_budget"
    ? "This request is larger than the whole AI usage budget allows. Lower maxTokens or send less text; waiting will not help."
    : "This would go over the AI usage budget for now. It resets soon; try again later.";
}

/**
 * The default answer for every code, written for the person using the app: no routes, no function
 * names, no values. INVALID_REQUEST and BUDGET_EXCEEDED are built from `details`, since the user must
 * know what to fix.
 */
export const DEFAULT_MESSAGES: Readonly<Record<ByokErrorCode, string | ((details: ErrorDetails) => string)>> =
  Object.freeze({
    CONFIG_INVALID: "This service is not set up correctly. Please try again later.",
    INVALID_REQUEST: checkTheseFields,
    UNKNOWN_PROVIDER: "This AI provider is not available here. Choose another one.",
    UNAUTHENTICATED: "Please sign in to continue.",
    FORBIDDEN: "You are not allowed to do this. Ask an admin of your team.",
    NO_TEAM: "You are not in a team here.",
    NOT_FOUND: "There is nothing here.",
    KEY_NOT_FOUND: "No API key is saved for this provider yet. Add one in your settings.",
    PAYLOAD_TOO_LARGE: "This request is too large. Send less text and try again.",
    KEY_REJECTED: "The provider refused your API key. Check it, or add a new one in your settings.",
    PROVIDER_BAD_REQUEST: "The AI provider could not handle this request. Try another model or a shorter message.",
    RATE_LIMITED: "Too many requests. Please wait a moment and try again.",
    BUDGET_EXCEEDED: overBudget,
    PROVIDER_RATE_LIMITED: "The AI provider is limiting requests for your API key. Please wait a moment and try again.",
    KEY_UNREADABLE: "Your saved API key can no longer be used. Please add it again in your settings.",
    INTERNAL: "Something went wrong. Please try again later.",
    PROVIDER_ERROR: "The AI provider is not answering correctly right now. Please try again later.",
    STORE_UNAVAILABLE: "Saved keys cannot be reached right now. Please try again in a moment.",
    KEY_SERVICE_UNAVAILABLE: "Saved keys cannot be unlocked right now. Please try again in a moment.",
    PROVIDER_TIMEOUT: "The AI provider took too long to answer. Please try again.",
    ABORTED: "The request was cancelled.",
  });

/** The default end-user message for `code`. */
export function defaultMessage(code: ByokErrorCode, details: ErrorDetails): string {
  const message = DEFAULT_MESSAGES[code];
  return typeof message === "function" ? message(details) : message;
}

const CODES = Object.keys(ERROR_STATUS);

/**
 * Checks a `messages` option once, at construction, and returns the resolver the error answers use.
 * A function that throws or returns anything but a non-empty string falls back to the default: an
 * error answer must never fail.
 * @throws ByokError CONFIG_INVALID naming the fix
 */
export function parseMessages(value: unknown, where: string): MessageFor {
  if (value === undefined) return defaultMessage;
  if (typeof value === "function") {
    const custom = value as (code: ByokErrorCode, details: ErrorDetails) => unknown;
    return (code, details) => {
      try {
        const text = custom(code, { ...details });
        if (typeof text === "string" && text.length > 0) return text;
      } catch (error) {
        debug("messages function failed for %s: %s", code, error instanceof Error ? error.name : typeof error);
      }
      return defaultMessage(code, details);
    };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw configError(
      `${where}: messages must be an object of texts by error code ({ KEY_NOT_FOUND: "…" }) or a function (code, details) => string | undefined.`,
    );
  }
  const texts: Partial<Record<string, string>> = {};
  for (const [code, text] of Object.entries(value)) {
    if (!Object.hasOwn(ERROR_STATUS, code)) {
      const guess = didYouMean(code, CODES);
      throw configError(
        `${where}: messages.${code} is not an error code.${guess ? ` Did you mean \`${guess}\`?` : ""} Codes: ${CODES.join(", ")}.`,
      );
    }
    if (text === undefined) continue;
    if (typeof text !== "string" || text.length === 0)
      throw configError(`${where}: messages.${code} must be a non-empty string.`);
    texts[code] = text;
  }
  return (code, details) => texts[code] ?? defaultMessage(code, details);
}
