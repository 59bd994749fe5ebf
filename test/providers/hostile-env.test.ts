// Every environment variable the provider SDKs read, set to hostile values: the key, the endpoint and the request count stay BYOK's.
import { BYOK } from "../../lib";
import {
  startFakeAnthropic,
  startFakeGemini,
  startFakeOpenAI,
  startFakeProviders,
  type FakeProviders,
  type FakeUpstream,
} from "../../lib/testing";
import { captureConsole, TEST_MASTER_KEY } from "../helpers/canary";

const USER_KEYS = {
  gemini: "AIza-user-gemini-key-0003",
  openai: "sk-proj-user-openai-key-0001",
  anthropic: "sk-ant-user-anthropic-key-0002",
  openrouter: "sk-or-v1-user-openrouter-key-0004",
  "azure-openai": "user-azure-resource-key-0005",
} as const;
const SERVER_KEY = "server-own-credential-9999";

let traps: FakeUpstream[];
let fakes: FakeProviders;
let saved: Record<string, string | undefined>;

/** Each SDK's fallbacks (names read from @google/genai 2.x, openai 6.x, @anthropic-ai/sdk 1.x) aimed at a trap server. */
function hostileEnv([gemini, openai, anthropic]: FakeUpstream[]): Record<string, string> {
  return {
    GOOGLE_API_KEY: SERVER_KEY,
    GEMINI_API_KEY: SERVER_KEY,
    GOOGLE_GENAI_API_KEY: SERVER_KEY,
    GOOGLE_GENAI_USE_VERTEXAI: "true",
    GOOGLE_GENAI_USE_ENTERPRISE: "true",
    GOOGLE_GEMINI_BASE_URL: gemini!.url,
    GOOGLE_VERTEX_BASE_URL: gemini!.url,
    GOOGLE_GENAI_API_VERSION: "v1trap",
    GOOGLE_CLOUD_PROJECT: "server-project",
    GOOGLE_CLOUD_LOCATION: "us-central1",
    GOOGLE_APPLICATION_CREDENTIALS: "/nonexistent/server-credentials.json",
    HTTPS_PROXY: openai!.url,
    HTTP_PROXY: openai!.url,
    ALL_PROXY: openai!.url,
    https_proxy: openai!.url,
    http_proxy: openai!.url,
    OPENAI_API_KEY: SERVER_KEY,
    OPENAI_ADMIN_KEY: SERVER_KEY,
    OPENAI_BASE_URL: `${openai!.url}/v1`,
    OPENAI_ORG_ID: "org-server",
    OPENAI_PROJECT_ID: "proj-server",
    OPENAI_WEBHOOK_SECRET: SERVER_KEY,
    OPENAI_CUSTOM_HEADERS: `Authorization: Bearer ${SERVER_KEY}\nX-Trap: openai`,
    OPENAI_LOG: "debug",
    AZURE_OPENAI_API_KEY: SERVER_KEY,
    AZURE_OPENAI_ENDPOINT: openai!.url,
    OPENAI_API_VERSION: "trap-version",
    ANTHROPIC_API_KEY: SERVER_KEY,
    ANTHROPIC_AUTH_TOKEN: SERVER_KEY,
    ANTHROPIC_BASE_URL: anthropic!.url,
    ANTHROPIC_CUSTOM_HEADERS: `X-Api-Key: ${SERVER_KEY}\nX-Trap: anthropic`,
    ANTHROPIC_LOG: "debug",
  };
}

beforeAll(async () => {
  traps = [await startFakeGemini(), await startFakeOpenAI(), await startFakeAnthropic()];
  const env = hostileEnv(traps);
  saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  // Set before any SDK is loaded or any client built (this file has its own module registry).
  Object.assign(process.env, env);
  fakes = await startFakeProviders();
});

afterAll(async () => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await fakes.close();
  await Promise.all(traps.map((t) => t.close()));
});

describe.each(["gemini", "openai", "anthropic", "openrouter", "azure-openai"] as const)(
  "the %s provider in a hostile environment",
  (id) => {
    it("sends validateKey, chat and stream to the configured fake only, with the user's key, one request each", async () => {
      const byok = new BYOK({ masterKey: TEST_MASTER_KEY, providers: fakes.providers });
      const fake = fakes[id];
      fake.reset();
      const apiKey = USER_KEYS[id];
      const { output } = await captureConsole(async () => {
        const endpoint = id === "azure-openai" ? { endpoint: fake.url } : {};
        await byok.registerKey({ userId: "u1", provider: id, apiKey, ...endpoint });
        expect((await byok.use("u1").chat({ provider: id, prompt: "hi" })).text).toBe("Echo: hi");
        let streamed = "";
        for await (const chunk of byok.use("u1").stream({ provider: id, prompt: "a b" })) streamed += chunk.text;
        expect(streamed).toBe("Echo: a b");
      });
      expect(fake.requests.map((r) => [r.op, r.apiKey])).toEqual([
        ["validate", apiKey],
        ["chat", apiKey],
        ["stream", apiKey],
      ]);
      // The default API version (Gemini), and nothing of the server's: no key, org, project or custom header.
      if (id === "gemini") for (const r of fake.requests) expect(r.path).toMatch(/^\/v1beta\/models\//);
      if (id === "azure-openai") for (const r of fake.requests) expect(r.path).toContain("api-version=2024-10-21");
      for (const r of fake.requests) {
        expect(JSON.stringify(r.headers)).not.toMatch(/server|trap/i);
        expect(r.headers).not.toHaveProperty("openai-organization");
        expect(r.headers).not.toHaveProperty("openai-project");
      }
      expect(traps.map((t) => t.requests.length)).toEqual([0, 0, 0]);
      expect(output).not.toContain(apiKey);
      expect(output).not.toContain(SERVER_KEY);
      await byok.close();
    });
  },
);
