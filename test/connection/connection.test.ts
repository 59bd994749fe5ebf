// ai.connection(): provider choice, the fetch's URL guard, redirects, auth replacement, decryption at send time, events, lastUsedAt.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createOpenAI } from "@ai-sdk/openai";
import { APICallError, generateText } from "ai";
import express from "express";
import request from "supertest";
import { BYOK, ByokError, byokRouter, type ByokEvent, MemoryStore } from "../../lib";
import type { Provider } from "../../lib/extend";
import { type FakeProviders, startFakeProviders } from "../../lib/testing";
import { TEST_MASTER_KEY } from "../helpers/canary";

const KEYS = { openai: "sk-user-openai-0003", anthropic: "sk-ant-user-0003", gemini: "AIza-user-gemini-0003" };

/** A server that records every request and answers 200, or what `answer` says. */
async function startRecorder(answer?: (path: string) => { status: number; headers?: Record<string, string> }) {
  const seen: { path: string; headers: IncomingHttpHeaders }[] = [];
  const server: Server = createServer((req, res) => {
    seen.push({ path: req.url ?? "", headers: req.headers });
    const a = answer?.(req.url ?? "") ?? { status: 200 };
    res.writeHead(a.status, { "content-type": "application/json", ...a.headers });
    res.end("{}");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, seen, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** Counts store.touch calls. */
class CountingStore extends MemoryStore {
  touches = 0;
  override async touch(userId: string, provider: string, lastUsedAt: string): Promise<void> {
    this.touches += 1;
    return super.touch(userId, provider, lastUsedAt);
  }
}

let fakes: FakeProviders;
let trap: Awaited<ReturnType<typeof startRecorder>>;
beforeAll(async () => {
  [fakes, trap] = await Promise.all([startFakeProviders(), startRecorder()]);
});
afterAll(async () => void (await Promise.all([fakes.close(), trap.close()])));
beforeEach(() => {
  [fakes.openai, fakes.anthropic, fakes.gemini].forEach((f) => f.reset());
  trap.seen.length = 0;
});

async function setUp(keys: Partial<typeof KEYS> = KEYS, extra: Record<string, unknown> = {}) {
  const events: ByokEvent[] = [];
  const store = new CountingStore();
  const byok = new BYOK({
    masterKey: TEST_MASTER_KEY,
    store,
    providers: { ...fakes.providers, openai: { baseUrl: `${fakes.openai.url}/v1` }, ...extra },
    onEvent: (e) => void events.push(e),
  });
  for (const [provider, apiKey] of Object.entries(keys))
    await byok.registerKey({ userId: "u1", provider, apiKey: apiKey!, validate: false });
  events.length = 0;
  return { byok, ai: byok.use("u1"), events, store };
}

const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => "resolved",
    (e: unknown) => (ByokError.is(e) ? e.code : String(e)),
  );

describe("AiClient.connection", () => {
  it("returns the provider, the AI SDK's baseURL and a placeholder key", async () => {
    const { ai } = await setUp();
    const [openai, anthropic, gemini] = await Promise.all(
      ["openai", "anthropic", "gemini"].map((id) => ai.connection(id)),
    );
    expect([openai!.provider, openai!.baseURL]).toEqual(["openai", `${fakes.openai.url}/v1`]);
    expect([anthropic!.provider, anthropic!.baseURL]).toEqual(["anthropic", `${fakes.anthropic.url}/v1`]);
    expect([gemini!.provider, gemini!.baseURL]).toEqual(["gemini", `${fakes.gemini.url}/v1beta`]);
    expect(openai!.apiKey).toBe("byok-ai-placeholder-key");
    expect(typeof openai!.fetch).toBe("function");
  });

  it("picks the provider as chat does: defaultProvider if the user has it, else the only key", async () => {
    expect((await (await setUp()).ai.connection()).provider).toBe("gemini");
    expect((await (await setUp({ anthropic: KEYS.anthropic })).ai.connection()).provider).toBe("anthropic");
    const several = await setUp({ openai: KEYS.openai, anthropic: KEYS.anthropic });
    expect(await codeOf(several.ai.connection())).toBe("KEY_NOT_FOUND");
  });

  it("rejects KEY_NOT_FOUND, UNKNOWN_PROVIDER, INVALID_REQUEST and UNAUTHENTICATED as chat does", async () => {
    const { ai, byok } = await setUp({ openai: KEYS.openai });
    expect(await codeOf(ai.connection("anthropic"))).toBe("KEY_NOT_FOUND");
    expect(await codeOf(byok.use("nobody").connection())).toBe("KEY_NOT_FOUND");
    expect(await codeOf(ai.connection("nope"))).toBe("UNKNOWN_PROVIDER");
    expect(await codeOf(ai.connection("Not An Id"))).toBe("INVALID_REQUEST");
    const app = express().use(byokRouter({ byok, getUserId: () => undefined }));
    app.get("/x", (req, res) => void codeOf(req.ai.connection("openai")).then((code) => res.json({ code })));
    expect((await request(app).get("/x")).body).toEqual({ code: "UNAUTHENTICATED" });
  });

  it("rejects CONFIG_INVALID for a custom provider that does not describe its HTTP API", async () => {
    const custom: Provider = {
      specificationVersion: "v1",
      defaultModel: "m",
      validateKey: async () => undefined,
      doChat: async () => ({
        text: "",
        model: "m",
        finishReason: "stop",
        usage: { inputTokens: 0, outputTokens: 0, totalTokens: 0 },
      }),
      doStream: async function* () {},
    };
    const { ai } = await setUp({ openai: KEYS.openai }, { custom });
    const error = await ai.connection("custom").catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: "CONFIG_INVALID",
      message: expect.stringContaining("connection: { baseURL, auth }"),
    });
  });

  it("is req.ai.connection() on the app's own routes, for the signed-in user", async () => {
    const { byok } = await setUp({ openai: KEYS.openai });
    const app = express().use(byokRouter({ byok, getUserId: () => "u1" }));
    app.get("/ask", async (req, res) => {
      const { text } = await generateText({
        model: createOpenAI(await req.ai.connection())("gpt-4o-mini"),
        prompt: "Hi",
      });
      res.json({ text });
    });
    fakes.openai.enqueue({ text: "Routed." });
    expect((await request(app).get("/ask")).body).toEqual({ text: "Routed." });
    expect(fakes.openai.requests.map((r) => r.apiKey)).toEqual([KEYS.openai]);
  });
});

describe("ProviderConnection.fetch", () => {
  const origin = () => fakes.openai.url;

  it.each([
    ["another origin", () => `${trap.url}/v1/responses`],
    ["the same host by another name", () => origin().replace("127.0.0.1", "localhost") + "/v1/responses"],
    ["another path prefix", () => `${origin()}/v2/responses`],
    ["a path that only starts like the prefix", () => `${origin()}/v1evil/responses`],
    ["a dot-dot segment out of the prefix", () => `${origin()}/v1/../admin`],
    ["an encoded dot-dot segment", () => `${origin()}/v1/%2e%2E/admin`],
    ["an encoded slash", () => `${origin()}/v1/models%2F..%2F..%2Fadmin`],
    ["credentials in the URL", () => origin().replace("http://", "http://user:pw@") + "/v1/responses"],
    ["something that is not a URL", () => "not a url"],
  ])("refuses %s and sends nothing", async (_what, url) => {
    const conn = await (await setUp()).ai.connection("openai");
    const error = await conn.fetch(url(), { method: "POST", body: "{}" }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "INVALID_REQUEST", provider: "openai" });
    expect([fakes.openai.requests.length, trap.seen.length]).toEqual([0, 0]);
  });

  it("refuses a Request or URL object pointing elsewhere, and sends one under the base URL", async () => {
    const conn = await (await setUp()).ai.connection("openai");
    expect(await codeOf(conn.fetch(new Request(`${trap.url}/v1/models`)))).toBe("INVALID_REQUEST");
    expect(await codeOf(conn.fetch(new URL(`${trap.url}/v1/models`)))).toBe("INVALID_REQUEST");
    expect(trap.seen).toEqual([]);
    const body = { model: "gpt-4o-mini", messages: [{ role: "user", content: "Hi" }] };
    const response = await conn.fetch(
      new Request(`${conn.baseURL}/chat/completions`, {
        method: "POST",
        headers: { authorization: "Bearer x", "content-type": "application/json" },
        body: JSON.stringify(body),
      }),
    );
    expect(response.status).toBe(200);
    expect(fakes.openai.requests.map((r) => [r.path, r.apiKey, r.body])).toEqual([
      ["/v1/chat/completions", KEYS.openai, body],
    ]);
  });

  it("does not follow a redirect: the 3xx reaches the caller and the key never reaches the other origin", async () => {
    const redirector = await startRecorder(() => ({ status: 302, headers: { location: `${trap.url}/steal` } }));
    try {
      const { ai } = await setUp({ relay: "sk-relay-user-key-0003" } as Partial<typeof KEYS>, {
        relay: { kind: "openai-compatible", baseUrl: `${redirector.url}/v1`, defaultModel: "m" },
      });
      const conn = await ai.connection("relay");
      const response = await conn.fetch(`${conn.baseURL}/chat/completions`, { method: "POST", body: "{}" });
      expect([response.status, response.headers.get("location")]).toEqual([302, `${trap.url}/steal`]);
      expect(redirector.seen.map((r) => r.headers.authorization)).toEqual(["Bearer sk-relay-user-key-0003"]);
      expect(trap.seen).toEqual([]);
    } finally {
      await redirector.close();
    }
  });

  it("replaces every auth header and key parameter the caller set with the provider's own header", async () => {
    const { ai } = await setUp();
    const gemini = await ai.connection("gemini");
    await gemini.fetch(`${gemini.baseURL}/models/gemini-2.5-flash:generateContent?key=${gemini.apiKey}&alt=json`, {
      method: "POST",
      headers: { authorization: "Bearer stolen", "x-api-key": "other", "x-goog-api-key": gemini.apiKey },
      body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "Hi" }] }] }),
    });
    const [seen] = fakes.gemini.requests;
    expect([
      seen!.path,
      seen!.headers["x-goog-api-key"],
      seen!.headers.authorization,
      seen!.headers["x-api-key"],
    ]).toEqual(["/v1beta/models/gemini-2.5-flash:generateContent?alt=json", KEYS.gemini, undefined, undefined]);
  });

  it("decrypts when a request is sent, not before: an unreadable key still connects, and its fetch rejects KEY_UNREADABLE unsent", async () => {
    const { store } = await setUp({ openai: KEYS.openai });
    const other = new BYOK({
      masterKey: Buffer.alloc(32, 9),
      store,
      providers: { openai: { baseUrl: `${fakes.openai.url}/v1` } },
    });
    const conn = await other.use("u1").connection("openai");
    expect(await codeOf(conn.fetch(`${conn.baseURL}/models`))).toBe("KEY_UNREADABLE");
    expect(fakes.openai.requests).toEqual([]);
  });

  it("passes upstream errors to the SDK unchanged", async () => {
    const conn = await (await setUp()).ai.connection("openai");
    fakes.openai.enqueue({ status: 429, retryAfter: 7, message: "Slow down" });
    const error = await generateText({ model: createOpenAI(conn)("gpt-4o-mini"), prompt: "Hi", maxRetries: 0 }).catch(
      (e: unknown) => e,
    );
    expect(APICallError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ statusCode: 429, responseHeaders: expect.objectContaining({ "retry-after": "7" }) });
    expect((error as APICallError).responseBody).toContain("Slow down");
  });

  it("emits key.used per request (provider, method, path, status, duration; no key, no body)", async () => {
    const { ai, events } = await setUp();
    const conn = await ai.connection("anthropic");
    fakes.anthropic.enqueue({ status: 500 });
    await conn.fetch(`${conn.baseURL}/models`);
    await conn.fetch(`${conn.baseURL}/messages`, {
      method: "post",
      body: JSON.stringify({ model: "m", messages: [] }),
    });
    expect(events).toEqual([
      {
        type: "key.used",
        userId: "u1",
        provider: "anthropic",
        at: expect.any(String),
        method: "GET",
        path: "/v1/models",
        status: 500,
        durationMs: expect.any(Number),
        requestId: expect.any(String),
      },
      {
        type: "key.used",
        userId: "u1",
        provider: "anthropic",
        at: expect.any(String),
        method: "POST",
        path: "/v1/messages",
        status: 200,
        durationMs: expect.any(Number),
        requestId: expect.any(String),
      },
    ]);
  });

  it("updates lastUsedAt on the first successful request, then at most once a minute", async () => {
    const { ai, store } = await setUp({ openai: KEYS.openai });
    const conn = await ai.connection("openai");
    fakes.openai.enqueue({ status: 401 });
    await conn.fetch(`${conn.baseURL}/models`);
    expect(store.touches).toBe(0); // a refused key was not used
    await conn.fetch(`${conn.baseURL}/models`);
    await conn.fetch(`${conn.baseURL}/models`);
    await (await ai.connection("openai")).fetch(`${conn.baseURL}/models`); // a new connection sees the stored time
    expect(store.touches).toBe(1);
    expect((await ai.keys())[0]!.lastUsedAt).toEqual(expect.any(String));
  });
});
