// AiClient.models(): each built-in provider's list-models call through its SDK, with the user's key, mapped like a chat.
import { BYOK, ByokError, type ByokEvent } from "../../lib";
import { startFakeOpenAI, startFakeProviders, type FakeProviders } from "../../lib/testing";
import { CANARY_KEY, TEST_MASTER_KEY, captureConsole, renderings } from "../helpers/canary";

const KEYS = { gemini: `AIza${CANARY_KEY}`, openai: `sk-${CANARY_KEY}`, anthropic: `sk-ant-${CANARY_KEY}` };

let fakes: FakeProviders;
let byok: BYOK;
const events: ByokEvent[] = [];
beforeEach(async () => {
  fakes = await startFakeProviders();
  byok = new BYOK({ masterKey: TEST_MASTER_KEY, providers: fakes.providers, onEvent: (e) => void events.push(e) });
  for (const [provider, apiKey] of Object.entries(KEYS)) await byok.registerKey({ userId: "u1", provider, apiKey });
  for (const fake of [fakes.gemini, fakes.openai, fakes.anthropic]) fake.reset();
});
afterEach(async () => {
  await byok.close();
  await fakes.close();
});

describe("AiClient.models", () => {
  it("lists Gemini's chat models (not embedding models) with one upstream call carrying the user's key", async () => {
    expect(await byok.use("u1").models("gemini")).toEqual([
      { id: "gemini-2.5-flash", provider: "gemini", displayName: "Gemini 2.5 Flash" },
      { id: "gemini-2.5-pro", provider: "gemini", displayName: "Gemini 2.5 Pro" },
    ]);
    expect(fakes.gemini.requests.map((r) => [r.method, r.path.split("?")[0], r.apiKey])).toEqual([
      ["GET", "/v1beta/models", KEYS.gemini],
    ]);
  });

  it("lists OpenAI's and Anthropic's models through their SDKs, each with its own key", async () => {
    const ai = byok.use("u1");
    expect(await ai.models("openai")).toEqual([{ id: "gpt-4o-mini", provider: "openai" }]);
    expect(await ai.models("anthropic")).toEqual([
      { id: "claude-haiku-4-5", provider: "anthropic", displayName: "Claude Haiku 4.5" },
    ]);
    expect(fakes.openai.requests.map((r) => [r.path, r.apiKey])).toEqual([["/models", KEYS.openai]]);
    expect(fakes.anthropic.requests.map((r) => [r.path.split("?")[0], r.apiKey])).toEqual([
      ["/v1/models", KEYS.anthropic],
    ]);
  });

  it("lists an openai-compatible server's models through the OpenAI SDK", async () => {
    const compat = new BYOK({
      masterKey: TEST_MASTER_KEY,
      providers: { groq: { kind: "openai-compatible", baseUrl: fakes.openai.url, defaultModel: "llama-3.1-8b" } },
    });
    await compat.registerKey({ userId: "u1", provider: "groq", apiKey: KEYS.openai, validate: false });
    expect(await compat.use("u1").models()).toEqual([{ id: "gpt-4o-mini", provider: "groq" }]);
  });

  it("picks the provider as a chat does when none is named", async () => {
    const only = new BYOK({ masterKey: TEST_MASTER_KEY, providers: fakes.providers });
    await only.registerKey({ userId: "u2", provider: "anthropic", apiKey: KEYS.anthropic, validate: false });
    expect((await only.use("u2").models()).map((m) => m.provider)).toEqual(["anthropic"]);
    // u1 has all three keys: defaultProvider (gemini) wins.
    expect(new Set((await byok.use("u1").models()).map((m) => m.provider))).toEqual(new Set(["gemini"]));
  });

  it("answers a custom provider without listModels with its defaultModel", async () => {
    const custom = new BYOK({
      masterKey: TEST_MASTER_KEY,
      providers: {
        mine: {
          specificationVersion: "v1",
          defaultModel: "my-model",
          validateKey: async () => undefined,
          doChat: async () => ({
            text: "",
            model: "my-model",
            finishReason: "stop",
            usage: { inputTokens: 0, outputTokens: 0, totalTokens: 0 },
          }),
          doStream: async function* () {},
        },
      },
    });
    await custom.registerKey({ userId: "u1", provider: "mine", apiKey: KEYS.openai });
    expect(await custom.use("u1").models("mine")).toEqual([{ id: "my-model", provider: "mine" }]);
  });

  it.each([
    [{ status: 401 }, "KEY_REJECTED"],
    [{ status: 429, retryAfter: 7 }, "PROVIDER_RATE_LIMITED"],
    [{ status: 500 }, "PROVIDER_ERROR"],
  ])("maps an upstream %j to %s for every provider, with no trace of the key", async (reply, code) => {
    const { output } = await captureConsole(async () => {
      for (const provider of ["gemini", "openai", "anthropic"] as const) {
        fakes[provider].enqueue(reply);
        const error = await byok
          .use("u1")
          .models(provider)
          .catch((e: unknown) => e);
        expect(ByokError.is(error) && [error.code, error.provider]).toEqual([code, provider]);
        if (code === "PROVIDER_RATE_LIMITED") expect((error as ByokError).retryAfter).toBe(7);
        for (const text of renderings(error)) expect(text).not.toContain(CANARY_KEY);
      }
    });
    expect(output).not.toContain(CANARY_KEY);
    expect(JSON.stringify(events)).not.toContain(CANARY_KEY);
  });

  it("rejects KEY_NOT_FOUND without a key, UNKNOWN_PROVIDER for an unconfigured provider, and calls no upstream", async () => {
    const codeOf = (p: Promise<unknown>) =>
      p.then(
        () => "resolved",
        (e: unknown) => ByokError.is(e) && e.code,
      );
    expect(await codeOf(byok.use("nobody").models("openai"))).toBe("KEY_NOT_FOUND");
    expect(await codeOf(byok.use("u1").models("nope"))).toBe("UNKNOWN_PROVIDER");
    expect(await codeOf(byok.use("u1").models("Not An Id"))).toBe("INVALID_REQUEST");
    expect(fakes.openai.requests).toHaveLength(0);
  });

  it("never sends the key anywhere but the configured upstream", async () => {
    const trap = await startFakeOpenAI();
    try {
      await byok.use("u1").models("openai");
      expect(trap.requests).toHaveLength(0);
      expect(fakes.openai.requests.map((r) => r.apiKey)).toEqual([KEYS.openai]);
    } finally {
      await trap.close();
    }
  });
});
