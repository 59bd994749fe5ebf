// byokErrorHandler(): the app's own routes answer a ByokError (from req.ai, or their own) as the byok routes do.
import type { ErrorRequestHandler } from "express";
import { checkOptionsObject, type KeysEnum } from "../core/option-checks.js";
import { type ErrorMessages, parseMessages } from "./error-messages.js";
import { errorMiddleware } from "./send-error.js";

/** Options of {@link byokErrorHandler}. */
export interface ErrorHandlerOptions {
  /**
   * The end-user text per error code, as in `byokRouter({ messages })`: a partial map by code, or a
   * function `(code, details) => string | undefined` (`undefined` keeps the default). Defaults to
   * the documented message of each code.
   */
  messages?: ErrorMessages;
}

const KNOWN: KeysEnum<ErrorHandlerOptions> = { messages: true };

/**
 * An Express error handler (mount it after your routes) that answers a `ByokError` as the byok
 * routes do: its status, `{ "error": { "code", "message", "details"? } }` with the code's end-user
 * message, `Retry-After` when the error has `retryAfter`, and `Cache-Control: no-store`. Every other
 * error is passed on with `next(error)`, to your own handler or Express's.
 *
 * @example
 * ```ts
 * app.use(byokRouter({ byok }));
 * app.post("/summarize", express.json(), async (req, res, next) => {
 *   try { res.json(await req.ai.chat({ prompt: req.body.text })) } catch (error) { next(error) }
 * });
 * app.use(byokErrorHandler()); // a missing user → 401 UNAUTHENTICATED as JSON, not an HTML page
 * ```
 * @throws ByokError CONFIG_INVALID for bad options, naming the fix
 */
export function byokErrorHandler(options?: ErrorHandlerOptions): ErrorRequestHandler {
  const where = "byokErrorHandler";
  const parsed = checkOptionsObject<ErrorHandlerOptions>(options, KNOWN, where);
  return errorMiddleware(parseMessages(parsed.messages, where), "byok");
}
