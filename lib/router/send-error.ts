// The one place that turns a failure into an HTTP answer: `{ error: { code, message, details? } }` with the contract's status.
import type { NextFunction, Request, Response } from "express";
import { ByokError } from "../errors.js";
import { sendJson } from "./send-json.js";

/** What body-parser (via http-errors) attaches to its errors. */
interface BodyParserError {
  type?: unknown;
  status?: unknown;
  expose?: unknown;
}

/** The ByokError to answer with: ByokErrors as they are (INTERNAL without its message), body-parser errors mapped, the rest INTERNAL. */
export function toHttpError(error: unknown): ByokError {
  if (ByokError.is(error)) return error.code === "INTERNAL" ? new ByokError("INTERNAL", "Internal error") : error;
  const parser = (typeof error === "object" && error !== null ? error : {}) as BodyParserError;
  switch (parser.type) {
    case "entity.too.large":
      return new ByokError("PAYLOAD_TOO_LARGE", "The request body is too large; send a smaller JSON body.");
    case "entity.parse.failed":
      return new ByokError("INVALID_REQUEST", "The request body is not valid JSON; send a JSON object.");
    case "charset.unsupported":
    case "encoding.unsupported":
      return new ByokError(
        "INVALID_REQUEST",
        "Send the body as uncompressed UTF-8 JSON with Content-Type: application/json.",
      );
  }
  if (parser.expose === true && typeof parser.status === "number" && parser.status >= 400 && parser.status < 500) {
    return new ByokError("INVALID_REQUEST", "The request body could not be read; send a JSON object.");
  }
  return new ByokError("INTERNAL", "Internal error");
}

/** Answers `error` as JSON with its status, `Cache-Control: no-store`, and `Retry-After` on 429s. */
export function sendError(res: Response, error: unknown): void {
  const e = toHttpError(error);
  res.setHeader("Cache-Control", "no-store");
  if (e.status === 429 && e.retryAfter !== undefined)
    res.setHeader("Retry-After", String(Math.max(1, Math.ceil(e.retryAfter))));
  sendJson(res, e.status, { error: e.toJSON() });
}

/**
 * Error middleware for the byok routes only (it sits inside the router, after them, so errors from
 * the app's own routes never reach it). A response already under way cannot change its status: it is
 * cut off instead.
 */
export function byokErrorHandler(error: unknown, _req: Request, res: Response, next: NextFunction): void {
  if (res.headersSent) return next(error);
  sendError(res, error);
}
