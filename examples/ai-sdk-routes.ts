// Three routes of an app's own that call the Vercel AI SDK with the signed-in user's key, through
// req.ai.connection(): structured output (OpenAI), a tool call (Anthropic) and plain text (Gemini).
// Mount byokRouter before them (it puts req.ai on the request) and byokErrorHandler after them.
// test/readme/examples.test.ts runs these routes against byok-ai/testing's fake providers.
import { createAnthropic } from "@ai-sdk/anthropic";
import { createGoogleGenerativeAI } from "@ai-sdk/google";
import { createOpenAI } from "@ai-sdk/openai";
import { generateObject, generateText, stepCountIs, tool } from "ai";
import express from "express";
import "byok-ai"; // types req.ai (byokRouter, mounted before these routes, sets it)
import { z } from "zod";

/** `POST /summarize`, `POST /weather` and `POST /poem`, each with the user's own key. */
export function aiSdkRoutes(): express.Router {
  const router = express.Router();

  router.post("/summarize", express.json(), async (req, res, next) => {
    try {
      const openai = createOpenAI(await req.ai.connection("openai"));
      const { object } = await generateObject({
        model: openai("gpt-4o-mini"),
        schema: z.object({ summary: z.string(), keywords: z.array(z.string()) }),
        prompt: `Summarize:\n${String(req.body.text)}`,
        maxRetries: 0, // the AI SDK retries twice by default: each retry spends the user's quota again
      });
      res.json(object);
    } catch (error) {
      next(error); // a ByokError (KEY_NOT_FOUND…) or the AI SDK's own error (APICallError…)
    }
  });

  router.post("/weather", express.json(), async (req, res, next) => {
    try {
      const anthropic = createAnthropic(await req.ai.connection("anthropic"));
      const { text } = await generateText({
        model: anthropic("claude-haiku-4-5"),
        prompt: `What should I wear in ${String(req.body.city)}?`,
        tools: {
          weather: tool({
            description: "Current temperature in a city",
            inputSchema: z.object({ city: z.string() }),
            execute: async ({ city }) => ({ city, celsius: 21 }),
          }),
        },
        stopWhen: stepCountIs(2), // the model asks for the tool, the SDK runs it, the model answers
        maxRetries: 0,
      });
      res.json({ text });
    } catch (error) {
      next(error);
    }
  });

  router.post("/poem", express.json(), async (req, res, next) => {
    try {
      const google = createGoogleGenerativeAI(await req.ai.connection("gemini"));
      const { text } = await generateText({
        model: google("gemini-2.5-flash"),
        prompt: "A haiku about keys",
        maxRetries: 0,
      });
      res.json({ text });
    } catch (error) {
      next(error);
    }
  });

  return router;
}
