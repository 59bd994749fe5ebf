// The app's own route: POST /summarize { text } -> { summary }, calling the AI with the signed-in user's key via req.ai.
import express from "express";
import { ByokError } from "byok-ai";

const MAX_TEXT = 8000;
const PROVIDERS = new Set(["gemini", "openai", "anthropic"]);

/** `POST /summarize`: needs byokRouter mounted before it (that is what puts `req.ai` on the request). */
export function summarizeRoute() {
  const router = express.Router();
  router.post("/summarize", express.json({ limit: "32kb" }), async (req, res, next) => {
    const { text, provider } = req.body ?? {};
    if (typeof text !== "string" || !text.trim() || text.length > MAX_TEXT) {
      return next(new ByokError("INVALID_REQUEST", `Send { "text": "..." } with 1 to ${MAX_TEXT} characters.`));
    }
    if (provider !== undefined && !PROVIDERS.has(provider)) {
      return next(new ByokError("INVALID_REQUEST", "provider must be gemini, openai or anthropic (or left out)."));
    }
    try {
      const answer = await req.ai.chat({
        provider,
        system: "You summarize text in at most two short sentences.",
        prompt: `Summarize:\n\n${text}`,
        maxTokens: 200,
      });
      res.json({ summary: answer.text, provider: answer.provider, model: answer.model });
    } catch (error) {
      next(error); // a ByokError (KEY_NOT_FOUND, KEY_REJECTED, PROVIDER_RATE_LIMITED, ...): see errorHandler
    }
  });
  return router;
}

/** The app's error handler: ByokErrors keep their status and code, anything else is a plain 500. */
export function errorHandler(error, _req, res, next) {
  if (res.headersSent) return next(error);
  if (ByokError.is(error)) {
    if (error.retryAfter !== undefined) res.set("Retry-After", String(Math.max(1, Math.ceil(error.retryAfter))));
    const safe = error.code === "INTERNAL" ? "Internal error." : error.message;
    return res.status(error.status).json({ error: { code: error.code, message: safe } });
  }
  const status = typeof error?.status === "number" && error.status >= 400 && error.status < 500 ? error.status : 500;
  res.status(status).json({
    error: {
      code: status === 500 ? "INTERNAL" : "INVALID_REQUEST",
      message: status === 500 ? "Internal error." : "Bad request.",
    },
  });
}
