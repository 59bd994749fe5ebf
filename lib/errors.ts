// The one error class byok-ai throws, its codes, and the one code -> HTTP status table.
import { inspect } from "node:util";

/** HTTP status for every error code; the router answers with exactly these. */
export const ERROR_STATUS = Object.freeze({
  CONFIG_INVALID: 500,
  INVALID_REQUEST: 400,
  UNKNOWN_PROVIDER: 400,
  UNAUTHENTICATED: 401,
  /** Signed in, but not allowed: managing a team's keys without `canManageTeamKeys`. */
  FORBIDDEN: 403,
  /** A team route on a request without a team (`getTeamId` returned nothing). */
  NO_TEAM: 404,
  NOT_FOUND: 404,
  KEY_NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413,
  KEY_REJECTED: 422,
  PROVIDER_BAD_REQUEST: 400,
  RATE_LIMITED: 429,
  /**
   * A token budget (`budgets`) would be exceeded; `retryAfter` is when its period resets, none when the
   * call alone is more than the whole budget (`details.reason: "request_exceeds_budget"`).
   */
  BUDGET_EXCEEDED: 429,
  PROVIDER_RATE_LIMITED: 429,
  KEY_UNREADABLE: 500,
  INTERNAL: 500,
  PROVIDER_ERROR: 502,
  STORE_UNAVAILABLE: 503,
  /** The key service (KMS, Vault) that unwraps data keys failed or did not answer in time, and no cached data key served. */
  KEY_SERVICE_UNAVAILABLE: 503,
  PROVIDER_TIMEOUT: 504,
  /**
   * The caller gave up: its own `signal`, a client that disconnected, or a stream left early. Never
   * answered over HTTP (nobody is left to answer) and never thrown (the call rejects with the signal's
   * reason): it is the `code` of a `chat.failed` event. 499 is the de-facto "client closed request".
   */
  ABORTED: 499,
} as const);

/** Every code a {@link ByokError} can carry. */
export type ByokErrorCode = keyof typeof ERROR_STATUS;

/** Extra, value-free facts attached to a {@link ByokError}. */
export interface ByokErrorOptions {
  /** The provider involved, when there is one. */
  provider?: string;
  /** Seconds the caller should wait before retrying (429s). */
  retryAfter?: number;
  /** Names of the offending fields; never their values. */
  details?: { fields?: string[]; [name: string]: unknown };
  /**
   * A cleaned summary of what caused the error (status, upstream error type).
   * Never an SDK error object: those can carry request bodies and keys.
   */
  cause?: unknown;
}

const BRAND = Symbol.for("byok-ai.error");

/**
 * The only error byok-ai throws (see the contract's error table). Messages name lengths, types and
 * field names, never values, so an error can be logged or returned as it is.
 *
 * @example
 * ```ts
 * try { await byok.use(userId).chat({ prompt }) }
 * catch (e) { if (ByokError.is(e) && e.code === "KEY_NOT_FOUND") showSettingsPage() }
 * ```
 */
export class ByokError extends Error {
  /** Machine-readable error code. */
  readonly code: ByokErrorCode;
  /** HTTP status the router answers with. */
  readonly status: number;
  /** The provider involved, when there is one. */
  readonly provider?: string;
  /** Seconds to wait before retrying, for 429s. */
  readonly retryAfter?: number;
  /** Field names only, never values. */
  readonly details?: ByokErrorOptions["details"];

  constructor(code: ByokErrorCode, message: string, options: ByokErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ByokError";
    this.code = code;
    this.status = ERROR_STATUS[code];
    if (options.provider !== undefined) this.provider = options.provider;
    if (options.retryAfter !== undefined) this.retryAfter = options.retryAfter;
    if (options.details !== undefined) this.details = options.details;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /**
   * True for a ByokError from any copy of byok-ai (a dual ESM/CJS install can load two).
   * Use it instead of `instanceof`.
   */
  static is(value: unknown): value is ByokError {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  /**
   * The developer's view: `{ code, message, details? }` with this error's own (detailed) message. The
   * router and `byokErrorHandler()` answer the same shape with the code's end-user message instead.
   */
  toJSON(): { code: ByokErrorCode; message: string; details?: ByokErrorOptions["details"] } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }

  /** util.inspect shows the public fields and the stack, not `cause`. */
  [inspect.custom](): string {
    const extra = [`code: '${this.code}'`, `status: ${this.status}`];
    if (this.provider !== undefined) extra.push(`provider: '${this.provider}'`);
    if (this.retryAfter !== undefined) extra.push(`retryAfter: ${this.retryAfter}`);
    return `${this.stack ?? `${this.name}: ${this.message}`} { ${extra.join(", ")} }`;
  }
}
