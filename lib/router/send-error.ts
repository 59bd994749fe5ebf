// The one place that turns a failure into an HTTP answer: `{ error: { code, message, details? } }` with the contract's status.
import type { NextFunction, Request, Response } from "express";
import { ByokError, type ByokErrorCode } from "../errors.js";
import type { ErrorDetails, MessageFor } from "./error-messages.js";
import { sendJson } from "./send-json.js";

/** What body-parser (via http-errors) attaches to its errors. */
interface BodyParserError {
  type?: unknown;
  status?: unknown;
  expose?: unknown;
}

/** A body over the route's byte limit. */
export const bodyTooLarge = (): ByokError =>
  new ByokError("PAYLOAD_TOO_LARGE", "The request body is too large; send a smaller JSON body.");
/** A body that is not a JSON object or array. */
export const bodyNotJson = (): ByokError =>
  new ByokError("INVALID_REQUEST", "The request body is not valid JSON; send a JSON object.");
/** A body in another charset, or compressed in a way the route does not read. */
export const bodyNotUtf8 = (): ByokError =>
  new ByokError("INVALID_REQUEST", "Send the body as uncompressed UTF-8 JSON with Content-Type: application/json.");

/** The ByokError to answer with: ByokErrors as they are (INTERNAL without its message), body-parser errors mapped, the rest INTERNAL. */
export function toHttpError(error: unknown): ByokError {
  if (ByokError.is(error)) return error.code === "INTERNAL" ? new ByokError("INTERNAL", "Internal error") : error;
  const parser = (typeof error === "object" && error !== null ? error : {}) as BodyParserError;
  switch (parser.type) {
    case "entity.too.large":
      return bodyTooLarge();
    case "entity.parse.failed":
      return bodyNotJson();
    case "charset.unsupported":
    case "encoding.unsupported":
      return bodyNotUtf8();
  }
  if (parser.expose === true && typeof parser.status === "number" && parser.status >= 400 && parser.status < 500) {
    return new ByokError("INVALID_REQUEST", "The request body could not be read; send a JSON object.");
  }
  return new ByokError("INTERNAL", "Internal error");
}

/** What an error answer's body holds: `{ code, message, details? }`. */
export interface ErrorAnswer {
  code: ByokErrorCode;
  /** The code's end-user message (see `messages`), never the thrown error's developer message. */
  message: string;
  details?: ErrorDetails;
}

/** Seconds for `Retry-After`: whole, at least 1. */
const retryAfterOf = (e: ByokError): number | undefined =>
  e.retryAfter === undefined ? undefined : Math.max(1, Math.ceil(e.retryAfter));

/** The body of the answer to `error`: its code, the end-user message, and the machine-readable details. */
export function errorAnswer(error: ByokError, messageFor: MessageFor): ErrorAnswer {
  const details: ErrorDetails = { ...error.details };
  if (error.provider !== undefined) details.provider = error.provider;
  const retryAfter = retryAfterOf(error);
  if (retryAfter !== undefined) details.retryAfter = retryAfter;
  const message = messageFor(error.code, details);
  return Object.keys(details).length === 0 ? { code: error.code, message } : { code: error.code, message, details };
}

/** An error answer, framework-free: its status, headers (`Cache-Control: no-store`, `Retry-After` when it has `retryAfter`) and JSON body. */
export function errorReply(
  error: unknown,
  messageFor: MessageFor,
): { status: number; headers: Record<string, string>; body: { error: ErrorAnswer } } {
  const e = toHttpError(error);
  const retryAfter = retryAfterOf(e);
  const headers: Record<string, string> = { "Cache-Control": "no-store" };
  if (retryAfter !== undefined) headers["Retry-After"] = String(retryAfter);
  return { status: e.status, headers, body: { error: errorAnswer(e, messageFor) } };
}

/** Answers `error` as JSON with its status, `Cache-Control: no-store`, and `Retry-After` when it has `retryAfter`. */
export function sendError(res: Response, error: unknown, messageFor: MessageFor): void {
  const { status, headers, body } = errorReply(error, messageFor);
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  sendJson(res, status, body);
}

/**
 * The one error middleware behind the router's handler and the public `byokErrorHandler()`. With
 * `only: "byok"` it answers ByokErrors and passes every other error on; with `"all"` (inside the
 * router, after the byok routes) it answers everything, unknown errors as INTERNAL. A response
 * already under way cannot change its status: the error is passed on, and Express cuts it off.
 */
export function errorMiddleware(messageFor: MessageFor, only: "byok" | "all") {
  return function byokErrorHandler(error: unknown, _req: Request, res: Response, next: NextFunction): void {
    if (res.headersSent || (only === "byok" && !ByokError.is(error))) return next(error);
    sendError(res, error, messageFor);
  };
}
