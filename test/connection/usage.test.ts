// ai.connection() is metered: each request is counted, with the tokens its JSON or SSE answer states, and budgets hold.
import { createAnthropic } from "@ai-sdk/anthropic";
import { createGoogleGenerativeAI } from "@ai-sdk/google";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, type LanguageModel, streamText } from "ai";
import { BYOK, ByokError, type ProviderConnection } from "../../lib";
import { type FakeProviders, startFakeProviders } from "../../lib/testing";
import { TEST_MASTER_KEY } from "../helpers/canary";
import { uniqueName } from "../helpers/services";
import { rowsAfter } from "../helpers/usage-rows";

const KEYS = { openai: "sk-user-openai-key-0001", anthropic: "sk-ant-user-key-0001", gemini: "AIza-user-key-0001" };
type Id = keyof typeof KEYS;
const CASES: [string, Id, (c: ProviderConnection) => LanguageModel][] = [
  ["openai (Responses API)", "openai", (c) => createOpenAI(c)("gpt-4o-mini")],
  ["openai (Chat Completions)", "openai", (c) => createOpenAI(c).chat("gpt-4o-mini")],
  ["anthropic", "anthropic", (c) => createAnthropic(c)("claude-haiku-4-5")],
  ["gemini", "gemini", (c) => createGoogleGenerativeAI(c)("gemini-2.5-flash")],
];

let fakes: FakeProviders;
beforeAll(async () => (fakes = await startFakeProviders()));
afterAll(() => fakes.close());
beforeEach(() => [fakes.openai, fakes.anthropic, fakes.gemini].forEach((f) => f.reset()));

async function setUp(id: Id, budgets?: ConstructorParameters<typeof BYOK>[0]["budgets"]) {
  const byok = new BYOK({
    masterKey: TEST_MASTER_KEY,
    providers: { ...fakes.providers, openai: { baseUrl: `${fakes.openai.url}/v1` } },
    budgets,
  });
  const userId = uniqueName("user");
  await byok.registerKey({ userId, provider: id, apiKey: KEYS[id], validate: false });
  return { byok, ai: byok.use(userId) };
}

describe.each(CASES)("metering ai.connection() with the AI SDK: %s", (_name, id, modelFor) => {
  it("counts generateText and streamText with the tokens the provider stated", async () => {
    const { ai } = await setUp(id);
    const model = modelFor(await ai.connection(id));
    fakes[id].enqueue({ usage: { inputTokens: 12, outputTokens: 5 } }, { usage: { inputTokens: 3, outputTokens: 4 } });
    await generateText({ model, prompt: "Say hello", maxRetries: 0 });
    const stream = streamText({ model, prompt: "Count", maxRetries: 0 });
    for await (const _ of stream.textStream);
    const [row] = await rowsAfter(ai, 2);
    expect(row).toEqual({ model: expect.any(String), requests: 2, inputTokens: 15, outputTokens: 9, estimated: false });
  });

  it("refuses a request over the budget before anything is sent", async () => {
    const { ai } = await setUp(id, { user: { tokensPerDay: 100 } });
    const model = modelFor(await ai.connection(id));
    const error = await generateText({ model, prompt: "Say hello", maxRetries: 0 }).catch((e: unknown) => e);
    const causes: unknown[] = [];
    for (let e: unknown = error; e; e = (e as { cause?: unknown }).cause) causes.push(e);
    expect(causes.some((e) => ByokError.is(e) && e.code === "BUDGET_EXCEEDED")).toBe(true);
    expect(fakes[id].requests).toHaveLength(0);
    expect(await ai.usage()).toEqual([]);
  });
});

describe("metering ai.connection() requests without usage", () => {
  it("counts a model listing as a request without tokens, reserving nothing", async () => {
    const { ai } = await setUp("openai", { user: { tokensPerDay: 1 } });
    const connection = await ai.connection("openai");
    const response = await connection.fetch(`${connection.baseURL}/models`);
    expect(response.status).toBe(200);
    expect(await rowsAfter(ai, 1)).toEqual([
      { model: expect.any(String), requests: 1, inputTokens: 0, outputTokens: 0, estimated: false },
    ]);
  });

  it("counts a stream the app cancels from its reservation, marked estimated", async () => {
    const { ai } = await setUp("openai");
    const connection = await ai.connection("openai");
    fakes.openai.enqueue({ chunks: ["a ", "b ", "c"], chunkDelayMs: 20 });
    const body = JSON.stringify({
      model: "gpt-x",
      stream: true,
      max_tokens: 30,
      messages: [{ role: "user", content: "hi" }],
    });
    const response = await connection.fetch(`${connection.baseURL}/chat/completions`, { method: "POST", body });
    const reader = response.body!.getReader();
    await reader.read();
    await reader.cancel();
    const [row] = await rowsAfter(ai, 1);
    expect(row).toEqual({
      model: "gpt-x",
      requests: 1,
      inputTokens: expect.any(Number),
      outputTokens: 30,
      estimated: true,
    });
  });
});
