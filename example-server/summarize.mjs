// The app's own route: POST /summarize { text } -> { summary }, with the Vercel AI SDK's generateObject and the
// signed-in user's key through req.ai.connection(). (ai, @ai-sdk/* and zod are devDependencies of byok-ai, which
// the example runs from; an app of your own lists them as its dependencies.)
import { createAnthropic } from "@ai-sdk/anthropic";
import { createGoogleGenerativeAI } from "@ai-sdk/google";
import { createOpenAI } from "@ai-sdk/openai";
import { APICallError, generateObject } from "ai";
import express from "express";
import { ByokError } from "byok-ai";
import { upstreamError } from "byok-ai/extend";
import { z } from "zod";

const MAX_TEXT = 8000;
/** Each provider's AI SDK model for a connection. */
const MODELS = {
  gemini: (connection) => createGoogleGenerativeAI(connection)("gemini-2.5-flash"),
  openai: (connection) => createOpenAI(connection)("gpt-4o-mini"),
  anthropic: (connection) => createAnthropic(connection)("claude-haiku-4-5"),
};
const PROVIDERS = new Set(Object.keys(MODELS));
const SUMMARY = z.object({ summary: z.string().describe("At most two short sentences.") });

/** The AI SDK's upstream errors (401, 429, 5xx…) as the ByokError the error handler knows. */
function asByokError(error, provider) {
  if (!APICallError.isInstance(error) || error.statusCode === undefined) return error;
  return upstreamError(provider, { status: error.statusCode, retryAfter: error.responseHeaders?.["retry-after"] });
}

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
    let connection;
    try {
      connection = await req.ai.connection(provider); // one per request; the key never reaches this code
      const { object, response } = await generateObject({
        model: MODELS[connection.provider](connection),
        schema: SUMMARY,
        system: "You summarize text in at most two short sentences.",
        prompt: `Summarize:\n\n${text}`,
        maxOutputTokens: 200,
        maxRetries: 0, // a retry would spend the user's quota twice
      });
      res.json({ summary: object.summary, provider: connection.provider, model: response.modelId });
    } catch (error) {
      // a ByokError (KEY_NOT_FOUND, KEY_REJECTED, PROVIDER_RATE_LIMITED, ...): byokErrorHandler() answers it
      next(connection ? asByokError(error, connection.provider) : error);
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
