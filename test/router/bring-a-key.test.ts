// OpenRouter, Azure OpenAI and self-hosted endpoints over HTTP on Express 4 and 5, against the fakes; endpoint tampering in Redis and PostgreSQL.
import { createHash, randomBytes } from "node:crypto";
import type { Express, NextFunction, Request, Response } from "express";
import { Redis } from "ioredis";
import OpenAI from "openai";
import { Client } from "pg";
import request from "supertest";
import { BYOK, MemoryStore, PostgresStore, RedisStore } from "../../lib";
import type { KeyStore } from "../../lib/extend";
import { type FakeProviders, startFakeProviders } from "../../lib/testing";
import { TEST_MASTER_KEY } from "../helpers/canary";
import { EXPRESS_VERSIONS, loadKit } from "../helpers/router-harness";
import { DATABASE_URL, REDIS_URL, uniqueName } from "../helpers/services";

const OPENROUTER_KEY = "sk-or-v1-user-openrouter-key-0001";
const AZURE_KEY = "azure-user-resource-key-0002";
const OLLAMA_KEY = "ollama-user-key-0003";

let fakes: FakeProviders;
beforeAll(async () => {
  fakes = await startFakeProviders();
});
afterAll(() => fakes.close());
beforeEach(() => {
  for (const id of ["openrouter", "azure-openai", "openai"] as const) fakes[id].reset();
});

/** Every provider at its fake, plus an Ollama-style openai-compatible provider whose keys carry their endpoint. */
const providerOptions = () => ({
  ...fakes.providers,
  ollama: {
    kind: "openai-compatible" as const,
    defaultModel: "llama3.2",
    userEndpoints: { hosts: ["127.0.0.1"], allowPrivateNetwork: true },
  },
});

describe.each(EXPRESS_VERSIONS)("bringing a key on %s", (version) => {
  const kit = loadKit(version);
  let app: Express;
  let byok: InstanceType<typeof kit.lib.BYOK>;
  beforeEach(() => {
    byok = new kit.lib.BYOK({ masterKey: TEST_MASTER_KEY, providers: providerOptions() });
    app = kit.express() as Express;
    app.use((req: Request, _res: Response, next: NextFunction) => {
      (req as unknown as { user?: { id: string } }).user = { id: String(req.headers["x-user"]) };
      next();
    });
    app.use(kit.lib.byokRouter({ byok, rateLimit: false }));
  });
  afterEach(() => byok.close());

  const post = (path: string, body: object) => request(app).post(`/byok${path}`).set("x-user", "u1").send(body);

  describe("openrouter", () => {
    it("validates a pasted key with GET /key, then chats, streams with usage and lists named models", async () => {
      const added = await post("/keys", { provider: "openrouter", apiKey: OPENROUTER_KEY });
      expect([added.status, added.body]).toEqual([201, expect.objectContaining({ provider: "openrouter" })]);
      expect(added.body.endpoint).toBeUndefined();
      expect(fakes.openrouter.requests.map((r) => [r.method, r.path, r.apiKey])).toEqual([
        ["GET", "/api/v1/key", OPENROUTER_KEY],
      ]);

      const chat = await post("/chat", { provider: "openrouter", prompt: "hello there" });
      expect(chat.body).toMatchObject({
        text: "Echo: hello there",
        provider: "openrouter",
        model: "openai/gpt-4o-mini",
      });
      const stream = await post("/chat", { provider: "openrouter", prompt: "a b", stream: true });
      expect(stream.text).toContain("event: done");
      expect(stream.text).toMatch(/"usage":\{"inputTokens":2,"outputTokens":\d+/);
      expect(fakes.openrouter.requests.at(-1)?.body).toMatchObject({ stream_options: { include_usage: true } });

      const models = await request(app).get("/byok/models?provider=openrouter").set("x-user", "u1");
      expect(models.body.models).toContainEqual({
        id: "anthropic/claude-3.5-haiku",
        provider: "openrouter",
        displayName: "Anthropic: Claude 3.5 Haiku",
      });
    });

    it("answers 422 KEY_REJECTED for a key GET /key refuses, storing nothing", async () => {
      const res = await post("/keys", { provider: "openrouter", apiKey: "bad-openrouter-key" });
      expect([res.status, res.body.error.code]).toEqual([422, "KEY_REJECTED"]);
      expect(await byok.listKeys("u1")).toEqual([]);
    });

    it("serves ai.connection() to the official openai SDK with the user's key", async () => {
      await post("/keys", { provider: "openrouter", apiKey: OPENROUTER_KEY });
      const connection = await byok.use("u1").connection("openrouter");
      expect(connection.baseURL).toBe(`${fakes.openrouter.url}/api/v1`);
      const client = new OpenAI({ baseURL: connection.baseURL, apiKey: connection.apiKey, fetch: connection.fetch });
      const completion = await client.chat.completions.create({
        model: "openai/gpt-4o-mini",
        messages: [{ role: "user", content: "via sdk" }],
      });
      expect(completion.choices[0]?.message.content).toBe("Echo: via sdk");
      expect(fakes.openrouter.requests.at(-1)?.apiKey).toBe(OPENROUTER_KEY);
    });
  });

  describe("azure-openai", () => {
    it("registers a key with its resource endpoint, shows the host, and chats with the model as the deployment", async () => {
      const endpoint = fakes["azure-openai"].url;
      const added = await post("/keys", { provider: "azure-openai", apiKey: AZURE_KEY, endpoint });
      expect([added.status, added.body.endpoint]).toEqual([201, new URL(endpoint).host]);
      const chat = await post("/chat", { provider: "azure-openai", model: "my-gpt4o", prompt: "hi azure" });
      expect(chat.body).toMatchObject({ text: "Echo: hi azure", provider: "azure-openai", model: "my-gpt4o" });
      const stream = await post("/chat", { provider: "azure-openai", model: "my-gpt4o", prompt: "x y", stream: true });
      expect(stream.text).toContain("event: done");
      expect(fakes["azure-openai"].requests.map((r) => [r.method, r.path, r.apiKey, r.headers.authorization])).toEqual([
        ["GET", "/openai/models?api-version=2024-10-21", AZURE_KEY, undefined],
        ["POST", "/openai/deployments/my-gpt4o/chat/completions?api-version=2024-10-21", AZURE_KEY, undefined],
        ["POST", "/openai/deployments/my-gpt4o/chat/completions?api-version=2024-10-21", AZURE_KEY, undefined],
      ]);
      const listed = await request(app).get("/byok/keys").set("x-user", "u1");
      expect(listed.body.keys).toEqual([
        expect.objectContaining({ provider: "azure-openai", endpoint: new URL(endpoint).host }),
      ]);
    });

    it("answers 400 INVALID_REQUEST naming endpoint when it is missing or not an Azure host, sending nothing", async () => {
      for (const [body, reason] of [
        [{ provider: "azure-openai", apiKey: AZURE_KEY }, "missing"],
        [{ provider: "azure-openai", apiKey: AZURE_KEY, endpoint: "https://evil.example.com" }, "host_not_allowed"],
        [{ provider: "azure-openai", apiKey: AZURE_KEY, endpoint: 42 }, undefined], // the JSON envelope's type check
      ] as const) {
        const res = await post("/keys", body);
        expect([res.status, res.body.error.code, res.body.error.details]).toEqual([
          400,
          "INVALID_REQUEST",
          { fields: ["endpoint"], ...(reason ? { reason } : {}) },
        ]);
        expect(res.text).not.toContain("evil.example.com");
      }
      expect(fakes["azure-openai"].requests).toEqual([]);
    });

    it("answers 400 naming endpoint for an endpoint sent with a provider that takes none", async () => {
      const res = await post("/keys", { provider: "openrouter", apiKey: OPENROUTER_KEY, endpoint: "https://x.test" });
      expect([res.status, res.body.error.details]).toEqual([400, { fields: ["endpoint"], reason: "not_accepted" }]);
      expect(fakes.openrouter.requests).toEqual([]);
    });
  });

  describe("a self-hosted openai-compatible endpoint", () => {
    it.each([
      ["not_a_url", "llm.example.com/v1"],
      ["not_https", "ftp://127.0.0.1/v1"],
      ["has_credentials", "http://user:pass@127.0.0.1/v1"],
      ["has_query", "http://127.0.0.1/v1?token=secret-value"],
      ["host_not_allowed", "http://internal.example.com/v1"],
    ])("answers 400 with details.reason %s for a refused endpoint, never its value", async (reason, endpoint) => {
      const res = await post("/keys", { provider: "ollama", apiKey: OLLAMA_KEY, endpoint });
      expect([res.status, res.body.error.details]).toEqual([400, { fields: ["endpoint"], reason }]);
      expect(res.text).not.toContain(endpoint);
      expect(res.text).not.toMatch(/secret-value|user:pass|internal\.example/);
      expect(fakes.openai.requests).toEqual([]);
    });

    it("registers the endpoint with the key and sends every call there", async () => {
      const endpoint = `${fakes.openai.url}/v1`;
      const added = await post("/keys", { provider: "ollama", apiKey: OLLAMA_KEY, endpoint });
      expect([added.status, added.body.endpoint]).toEqual([201, new URL(endpoint).host]);
      const chat = await post("/chat", { provider: "ollama", prompt: "local" });
      expect(chat.body).toMatchObject({ text: "Echo: local", model: "llama3.2" });
      expect(fakes.openai.requests.map((r) => [r.path, r.apiKey])).toEqual([
        ["/v1/models", OLLAMA_KEY],
        ["/v1/chat/completions", OLLAMA_KEY],
      ]);
    });
  });
});

describe("the fake OpenRouter's PKCE authorization", () => {
  const verifier = randomBytes(32).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  const exchange = (body: object) =>
    fetch(`${fakes.openrouter.url}/api/v1/auth/keys`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  it("approves at once with a 302 to the callback carrying a code, which exchanges for a key once", async () => {
    const page = new URL(fakes.openrouter.authUrl);
    page.search = new URLSearchParams({
      callback_url: "http://app.test/byok/connect/openrouter/callback?state=s1",
      code_challenge: challenge,
      code_challenge_method: "S256",
    }).toString();
    const approved = await fetch(page, { redirect: "manual" });
    expect(approved.status).toBe(302);
    const callback = new URL(approved.headers.get("location")!);
    expect([callback.origin, callback.searchParams.get("state")]).toEqual(["http://app.test", "s1"]);
    const code = callback.searchParams.get("code")!;

    const first = await exchange({ code, code_verifier: verifier, code_challenge_method: "S256" });
    const { key } = (await first.json()) as { key: string };
    expect([first.status, key]).toEqual([200, expect.stringMatching(/^sk-or-v1-/)]);
    const replayed = await exchange({ code, code_verifier: verifier, code_challenge_method: "S256" });
    expect(replayed.status).toBe(400);

    const byok = new BYOK({ masterKey: TEST_MASTER_KEY, providers: fakes.providers });
    expect(await byok.registerKey({ userId: "u1", provider: "openrouter", apiKey: key })).toMatchObject({
      hint: `\u2026${key.slice(-4)}`,
    });
  });

  it("refuses a minted code with the wrong verifier or method, and the code is spent", async () => {
    const code = fakes.openrouter.mintCode(challenge, "sk-or-v1-minted-key-0004");
    const wrong = await exchange({ code, code_verifier: `${verifier}x`, code_challenge_method: "S256" });
    expect(wrong.status).toBe(403);
    const again = await exchange({ code, code_verifier: verifier, code_challenge_method: "S256" });
    expect(again.status).toBe(400);
    const plain = fakes.openrouter.mintCode(challenge);
    expect((await exchange({ code: plain, code_verifier: verifier, code_challenge_method: "plain" })).status).toBe(403);
    const good = fakes.openrouter.mintCode(challenge, "sk-or-v1-minted-key-0004");
    const answer = await exchange({ code: good, code_verifier: verifier, code_challenge_method: "S256" });
    expect(await answer.json()).toEqual({ key: "sk-or-v1-minted-key-0004", user_id: "user_fake" });
  });
});

describe("byok.rotate() over keys with an endpoint", () => {
  it("re-encrypts them under the new master key, still bound to their endpoint", async () => {
    const store = new MemoryStore();
    const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];
    const before = new BYOK({ masterKey: oldKey, store, providers: providerOptions() });
    const azure = fakes["azure-openai"];
    await before.registerKey({ userId: "u1", provider: "azure-openai", apiKey: AZURE_KEY, endpoint: azure.url });
    const after = new BYOK({ masterKey: newKey, previousMasterKeys: [oldKey], store, providers: providerOptions() });
    expect(await after.rotate()).toMatchObject({ rotated: 1, failed: 0 });
    expect((await store.get("u1", "azure-openai"))?.endpoint).toBe(azure.url);
    expect((await after.use("u1").chat({ provider: "azure-openai", prompt: "rotated" })).text).toBe("Echo: rotated");
    expect(azure.requests.at(-1)?.apiKey).toBe(AZURE_KEY);
  });
});

describe.each(["redis", "postgres"] as const)("an endpoint changed in %s", (backend) => {
  it("makes the key unreadable: KEY_UNREADABLE, status unreadable, and nothing is sent anywhere", async () => {
    const prefix = `${uniqueName("endpoint")}:`;
    const table = uniqueName("endpoint");
    const redis = new Redis(REDIS_URL);
    const pg = new Client({ connectionString: DATABASE_URL });
    await pg.connect();
    let store: KeyStore;
    if (backend === "redis") store = new RedisStore({ url: REDIS_URL, prefix });
    else {
      const postgres = new PostgresStore({ connectionString: DATABASE_URL, table });
      await postgres.migrate();
      store = postgres;
    }
    const byok = new BYOK({ masterKey: TEST_MASTER_KEY, store, providers: providerOptions() });
    try {
      const azure = fakes["azure-openai"];
      await byok.registerKey({ userId: "u1", provider: "azure-openai", apiKey: AZURE_KEY, endpoint: azure.url });
      await byok.registerKey({
        userId: "u1",
        provider: "ollama",
        apiKey: OLLAMA_KEY,
        endpoint: `${fakes.openai.url}/v1`,
      });
      // Point each stored key at the other fake, as someone with write access to the store could.
      const elsewhere = { "azure-openai": fakes.openai.url, ollama: `${azure.url}/v1` };
      for (const [provider, endpoint] of Object.entries(elsewhere)) {
        if (backend === "redis") {
          const [hash] = await redis.keys(`${prefix}*`);
          const json = JSON.parse((await redis.hget(hash!, provider))!) as { endpoint: string };
          await redis.hset(hash!, provider, JSON.stringify({ ...json, endpoint }));
        } else await pg.query(`UPDATE "${table}" SET endpoint = $1 WHERE provider = $2`, [endpoint, provider]);
        expect((await store.get("u1", provider))?.endpoint).toBe(endpoint);
      }
      azure.reset();
      fakes.openai.reset();
      const ai = byok.use("u1");
      for (const provider of Object.keys(elsewhere)) {
        await expect(ai.chat({ provider, prompt: "x" })).rejects.toMatchObject({ code: "KEY_UNREADABLE" });
        await expect(ai.checkKey(provider)).resolves.toMatchObject({ status: "unreadable" });
      }
      await expect(ai.connection("ollama")).resolves.toBeDefined(); // the lookup only; its fetch decrypts
      await expect((await ai.connection("ollama")).fetch(`${azure.url}/v1/models`)).rejects.toMatchObject({
        code: "KEY_UNREADABLE",
      });
      expect((await byok.listKeys("u1")).map((k) => k.status)).toEqual(["unreadable", "unreadable"]);
      expect([azure.requests, fakes.openai.requests]).toEqual([[], []]);
    } finally {
      await byok.close();
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
      await pg.query(`DROP TABLE IF EXISTS "${table}"`);
      await pg.end();
    }
  });
});
