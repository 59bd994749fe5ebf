// ai.connection() with the Vercel AI SDK (ai@6, @ai-sdk/*@3) against the fakes: text, stream, object, tool round trip.
import { createAnthropic } from "@ai-sdk/anthropic";
import { createGoogleGenerativeAI } from "@ai-sdk/google";
import { createOpenAI } from "@ai-sdk/openai";
import { generateObject, generateText, type LanguageModel, stepCountIs, streamText, tool } from "ai";
import { z } from "zod";
import type { ProviderConnection } from "../../lib";
import { useConnectionFixture } from "../helpers/connection-fixture";

const USER = "ai-sdk-user";
const KEYS = {
  openai: "sk-user-openai-key-0001",
  anthropic: "sk-ant-user-anthropic-key-0001",
  gemini: "AIza-user-gemini-key-0001",
} as const;
type Id = keyof typeof KEYS;
/** Each case: the provider id, its AI SDK model, and the path the SDK calls. */
const CASES: [string, Id, (c: ProviderConnection) => LanguageModel, string][] = [
  ["openai", "openai", (c) => createOpenAI(c)("gpt-4o-mini"), "/v1/responses"], // the AI SDK's default OpenAI API
  ["openai.chat", "openai", (c) => createOpenAI(c).chat("gpt-4o-mini"), "/v1/chat/completions"],
  ["anthropic", "anthropic", (c) => createAnthropic(c)("claude-haiku-4-5"), "/v1/messages"],
  [
    "gemini",
    "gemini",
    (c) => createGoogleGenerativeAI(c)("gemini-2.5-flash"),
    "/v1beta/models/gemini-2.5-flash:generateContent",
  ],
];

const fx = useConnectionFixture(USER, KEYS);

describe.each(CASES)("ai.connection() with the Vercel AI SDK: %s", (_name, id, modelFor, path) => {
  const fake = () => fx.fakes[id];
  const model = async () => modelFor(await fx.byok.use(USER).connection(id));
  const seenKeys = () => fake().requests.map((r) => r.apiKey);

  it("generateText answers with the fake's text, sent with the user's key", async () => {
    fake().enqueue({ text: "Hello from the fake." });
    const { text } = await generateText({ model: await model(), prompt: "Say hello", maxRetries: 0 });
    expect(text).toBe("Hello from the fake.");
    expect(seenKeys()).toEqual([KEYS[id]]);
    expect(fake().requests[0]!.path).toBe(path);
  });

  it("streamText streams the text chunk by chunk", async () => {
    fake().enqueue({ chunks: ["one ", "two ", "three"] });
    const result = streamText({ model: await model(), prompt: "Count", maxRetries: 0 });
    const parts: string[] = [];
    for await (const part of result.textStream) parts.push(part);
    expect(parts.join("")).toBe("one two three");
    expect(await result.finishReason).toBe("stop");
    expect(seenKeys()).toEqual([KEYS[id]]);
  });

  it("generateObject returns an object that fits the zod schema", async () => {
    fake().enqueue({ text: JSON.stringify({ title: "Facts", points: ["a", "b"], score: 3 }) });
    const schema = z.object({ title: z.string(), points: z.array(z.string()), score: z.number() });
    const { object } = await generateObject({ model: await model(), schema, prompt: "Summarize", maxRetries: 0 });
    expect(object).toEqual({ title: "Facts", points: ["a", "b"], score: 3 });
    expect(seenKeys()).toEqual([KEYS[id]]);
  });

  it("generateObject gets a schema-shaped echo when nothing is scripted", async () => {
    const schema = z.object({ summary: z.string() });
    const { object } = await generateObject({ model: await model(), schema, prompt: "Three facts.", maxRetries: 0 });
    expect(object).toEqual({ summary: "Echo: Three facts." });
  });

  it("runs a tool-call round trip: the model asks, the SDK calls the tool, the model answers", async () => {
    fake().enqueue(
      { toolCalls: [{ name: "weather", arguments: { city: "Paris" } }] },
      { text: "It is 21°C in Paris." },
    );
    const calls: string[] = [];
    const { text, steps } = await generateText({
      model: await model(),
      prompt: "Weather in Paris?",
      maxRetries: 0,
      stopWhen: stepCountIs(2),
      tools: {
        weather: tool({
          description: "Current temperature in a city",
          inputSchema: z.object({ city: z.string() }),
          execute: async ({ city }) => (calls.push(city), { city, celsius: 21 }),
        }),
      },
    });
    expect(calls).toEqual(["Paris"]);
    expect(text).toBe("It is 21°C in Paris.");
    expect(steps.map((s) => s.finishReason)).toEqual(["tool-calls", "stop"]);
    expect(seenKeys()).toEqual([KEYS[id], KEYS[id]]);
    expect(JSON.stringify(fake().requests[1]!.body)).toContain("21"); // the tool's result went back to the model
  });

  it("runs a streamed tool-call round trip", async () => {
    fake().enqueue(
      { toolCalls: [{ name: "weather", arguments: { city: "Oslo" } }] },
      { chunks: ["Cold ", "in Oslo."] },
    );
    const result = streamText({
      model: await model(),
      prompt: "Weather in Oslo?",
      maxRetries: 0,
      stopWhen: stepCountIs(2),
      tools: {
        weather: tool({
          inputSchema: z.object({ city: z.string() }),
          execute: async ({ city }) => ({ city, celsius: -3 }),
        }),
      },
    });
    expect(await result.text).toBe("Cold in Oslo.");
    expect((await result.steps)[0]!.toolCalls.map((c) => [c.toolName, c.input])).toEqual([
      ["weather", { city: "Oslo" }],
    ]);
    expect(seenKeys()).toEqual([KEYS[id], KEYS[id]]);
  });
});
