import { BYOK, ByokError } from "../../lib";
import { lazyPeer } from "../../lib/core/optional-peer";
import {
  startFakeAnthropic,
  startFakeOpenAI,
  startFakeProviders,
  type FakeProviders,
  type FakeUpstream,
} from "../../lib/testing";
import { captureConsole, TEST_MASTER_KEY } from "../helpers/canary";

const OPENAI_KEY = "sk-proj-user-openai-key-0001";
const ANTHROPIC_KEY = "sk-ant-user-anthropic-key-0002";
const GEMINI_KEY = "AIza-user-gemini-key-0003";

let fakes: FakeProviders;
let byok: BYOK;
beforeEach(async () => {
  fakes = await startFakeProviders();
  byok = new BYOK({ masterKey: TEST_MASTER_KEY, providers: fakes.providers, defaultProvider: "openai" });
});
afterEach(async () => {
  await byok.close();
  await fakes.close();
});

describe("BYOK with several providers", () => {
  it("sends each call to the provider the request names, with that provider's key", async () => {
    await byok.registerKey({ userId: "u1", provider: "openai", apiKey: OPENAI_KEY });
    await byok.registerKey({ userId: "u1", provider: "anthropic", apiKey: ANTHROPIC_KEY });
    const ai = byok.use("u1");
    expect(await ai.chat({ prompt: "hi", provider: "anthropic" })).toMatchObject({
      provider: "anthropic",
      model: "claude-haiku-4-5",
      text: "Echo: hi",
    });
    expect(await ai.chat({ prompt: "hi", provider: "openai" })).toMatchObject({
      provider: "openai",
      model: "gpt-4o-mini",
      text: "Echo: hi",
    });
    expect(fakes.anthropic.requests.map((r) => [r.op, r.apiKey])).toEqual([
      ["validate", ANTHROPIC_KEY],
      ["chat", ANTHROPIC_KEY],
    ]);
    expect(fakes.openai.requests.map((r) => [r.op, r.apiKey])).toEqual([
      ["validate", OPENAI_KEY],
      ["chat", OPENAI_KEY],
    ]);
    expect(fakes.gemini.requests).toHaveLength(0);
  });

  it("uses defaultProvider when the user has its key, else the user's only key, else KEY_NOT_FOUND", async () => {
    await byok.registerKey({ userId: "both", provider: "anthropic", apiKey: ANTHROPIC_KEY });
    await byok.registerKey({ userId: "both", provider: "openai", apiKey: OPENAI_KEY });
    expect((await byok.use("both").chat({ prompt: "x" })).provider).toBe("openai");

    await byok.registerKey({ userId: "only", provider: "anthropic", apiKey: ANTHROPIC_KEY });
    expect((await byok.use("only").chat({ prompt: "x" })).provider).toBe("anthropic");

    await byok.registerKey({ userId: "two", provider: "anthropic", apiKey: ANTHROPIC_KEY });
    await byok.registerKey({ userId: "two", provider: "gemini", apiKey: GEMINI_KEY });
    const error = await byok
      .use("two")
      .chat({ prompt: "x" })
      .catch((e: unknown) => e);
    expect(ByokError.is(error) && error.code).toBe("KEY_NOT_FOUND");
  });

  it("never lets a request change where a key goes", async () => {
    const trap = await startFakeOpenAI();
    try {
      await byok.registerKey({ userId: "u1", provider: "openai", apiKey: OPENAI_KEY });
      const withBaseUrl = await byok
        .use("u1")
        .chat({ prompt: "x", baseUrl: `${trap.url}/v1` } as never)
        .catch((e: unknown) => e);
      expect(ByokError.is(withBaseUrl) && withBaseUrl.code).toBe("INVALID_REQUEST");
      await byok.use("u1").chat({ prompt: "x", model: `${trap.url}/v1` });
      expect(fakes.openai.requests.at(-1)!.body).toMatchObject({ model: `${trap.url}/v1` });
      expect(trap.requests).toHaveLength(0);
    } finally {
      await trap.close();
    }
  });

  it("sends max_completion_tokens to OpenAI and max_tokens to an openai-compatible server", async () => {
    const compat = new BYOK({
      masterKey: TEST_MASTER_KEY,
      providers: {
        groq: { kind: "openai-compatible", baseUrl: fakes.openai.url, defaultModel: "llama-3.1-8b-instant" },
      },
    });
    await byok.registerKey({ userId: "u1", provider: "openai", apiKey: OPENAI_KEY });
    await compat.registerKey({ userId: "u1", provider: "groq", apiKey: OPENAI_KEY });
    await byok.use("u1").chat({ prompt: "x", maxTokens: 9 });
    expect(fakes.openai.requests.at(-1)!.body).toMatchObject({ max_completion_tokens: 9 });
    expect(await compat.use("u1").chat({ prompt: "x", maxTokens: 9 })).toMatchObject({
      provider: "groq",
      model: "llama-3.1-8b-instant",
    });
    expect(fakes.openai.requests.at(-1)!.body).toMatchObject({ max_tokens: 9 });
    expect(fakes.openai.requests.at(-1)!.body).not.toHaveProperty("max_completion_tokens");
  });

  it("sends max_tokens 1024 to Anthropic when the request sets no maxTokens", async () => {
    await byok.registerKey({ userId: "u1", provider: "anthropic", apiKey: ANTHROPIC_KEY });
    await byok.use("u1").chat({ prompt: "x", provider: "anthropic" });
    expect(fakes.anthropic.requests.at(-1)!.body).toMatchObject({ max_tokens: 1024 });
  });

  it("maps Anthropic's in-stream rate_limit_error to PROVIDER_RATE_LIMITED", async () => {
    await byok.registerKey({ userId: "u1", provider: "anthropic", apiKey: ANTHROPIC_KEY });
    fakes.anthropic.enqueue({ chunks: ["a ", "b"], errorAfterChunks: 1, errorType: "rate_limit_error" });
    const error = await (async () => {
      for await (const _chunk of byok.use("u1").stream({ prompt: "x", provider: "anthropic" }));
    })().catch((e: unknown) => e);
    expect(ByokError.is(error) && error.code).toBe("PROVIDER_RATE_LIMITED");
  });
});

describe("the openai and anthropic SDKs' environment variables", () => {
  const TRAP_ENV = [
    "OPENAI_BASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_ADMIN_KEY",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
    "OPENAI_CUSTOM_HEADERS",
    "OPENAI_LOG",
  ];
  const TRAP_ENV_ANTHROPIC = [
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_CUSTOM_HEADERS",
    "ANTHROPIC_LOG",
  ];

  it("are ignored: the key, host, headers and logging stay as BYOK configured them", async () => {
    const traps: FakeUpstream[] = [await startFakeOpenAI(), await startFakeAnthropic()];
    const saved = Object.fromEntries([...TRAP_ENV, ...TRAP_ENV_ANTHROPIC].map((k) => [k, process.env[k]]));
    Object.assign(process.env, {
      OPENAI_BASE_URL: `${traps[0]!.url}/v1`,
      OPENAI_API_KEY: "sk-server-own-key",
      OPENAI_ADMIN_KEY: "sk-admin-server-key",
      OPENAI_ORG_ID: "org-server",
      OPENAI_PROJECT_ID: "proj-server",
      OPENAI_CUSTOM_HEADERS: "Authorization: Bearer sk-server-own-key\nX-Trap: openai",
      OPENAI_LOG: "debug",
      ANTHROPIC_BASE_URL: traps[1]!.url,
      ANTHROPIC_API_KEY: "sk-ant-server-own-key",
      ANTHROPIC_AUTH_TOKEN: "server-auth-token",
      ANTHROPIC_CUSTOM_HEADERS: "X-Api-Key: sk-ant-server-own-key\nX-Trap: anthropic",
      ANTHROPIC_LOG: "debug",
    });
    try {
      const { output } = await captureConsole(async () => {
        await byok.registerKey({ userId: "u1", provider: "openai", apiKey: OPENAI_KEY });
        await byok.registerKey({ userId: "u1", provider: "anthropic", apiKey: ANTHROPIC_KEY });
        await byok.use("u1").chat({ prompt: "x", provider: "openai" });
        for await (const _chunk of byok.use("u1").stream({ prompt: "x", provider: "anthropic" }));
      });
      expect(traps.map((t) => t.requests.length)).toEqual([0, 0]);
      for (const r of fakes.openai.requests) {
        expect(r.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);
        expect(r.headers).not.toHaveProperty("x-trap");
        expect(r.headers).not.toHaveProperty("openai-organization");
        expect(r.headers).not.toHaveProperty("openai-project");
        expect(JSON.stringify(r.headers)).not.toMatch(/server/);
      }
      for (const r of fakes.anthropic.requests) {
        expect(r.apiKey).toBe(ANTHROPIC_KEY);
        // ANTHROPIC_CUSTOM_HEADERS named X-Api-Key: it carries the user's key, never the server's.
        expect([r.headers["x-api-key"], r.headers.authorization]).toEqual([ANTHROPIC_KEY, `Bearer ${ANTHROPIC_KEY}`]);
        expect(JSON.stringify(r.headers)).not.toMatch(/server/);
        expect(r.headers).not.toHaveProperty("x-trap");
      }
      expect(fakes.openai.requests).toHaveLength(2);
      expect(fakes.anthropic.requests).toHaveLength(2);
      expect(output).toBe("");
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      await Promise.all(traps.map((t) => t.close()));
    }
  });
});

describe("optional SDK peers", () => {
  it("fail with CONFIG_INVALID naming the npm install when missing", async () => {
    const load = lazyPeer("byok-ai-not-installed-sdk", "The test provider");
    const error = await load().catch((e: unknown) => e);
    expect(ByokError.is(error) && [error.code, error.message]).toEqual([
      "CONFIG_INVALID",
      expect.stringContaining("npm install byok-ai-not-installed-sdk"),
    ]);
  });
});
