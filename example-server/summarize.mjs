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
      const message = `Send { "text": "..." } with 1 to ${MAX_TEXT} characters.`;
      return next(new ByokError("INVALID_REQUEST", message, { details: { fields: ["text"] } }));
    }
    if (provider !== undefined && !PROVIDERS.has(provider)) {
      const message = "provider must be gemini, openai or anthropic (or left out).";
      return next(new ByokError("INVALID_REQUEST", message, { details: { fields: ["provider"] } }));
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
      next(error); // a ByokError (KEY_NOT_FOUND, KEY_REJECTED, PROVIDER_RATE_LIMITED, ...): byokErrorHandler() answers it
    }
  });
  return router;
}

/**
 * The app's last-resort error handler, after byokErrorHandler() (which answers every ByokError):
 * a bad JSON body on /summarize (body-parser's 4xx) or a bug, as JSON instead of Express's HTML page.
 */
export function otherErrors(error, _req, res, next) {
  if (res.headersSent) return next(error);
  const status = typeof error?.status === "number" && error.status >= 400 && error.status < 500 ? error.status : 500;
  res.status(status).json({
    error:
      status === 500
        ? { code: "INTERNAL", message: "Internal error." }
        : { code: "INVALID_REQUEST", message: "Bad request." },
  });
}
