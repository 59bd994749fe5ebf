import { BYOK, ByokError, MemoryStore } from "../lib";
import { CANARY_KEY, TEST_MASTER_KEY } from "./helpers/canary";
import { geminiFixture, type GeminiFixture } from "./helpers/gemini-fixture";
import { waitFor } from "./helpers/wait-for";
import { flipBit } from "./helpers/tamper";

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "resolved";
  } catch (e) {
    return ByokError.is(e) ? e.code : `not a ByokError: ${String(e)}`;
  }
}

let f: GeminiFixture;
beforeEach(async () => {
  f = await geminiFixture();
});
afterEach(() => f.close());

describe("new BYOK", () => {
  it.each([
    ["no options", undefined, "masterKey"],
    ["a short master key", { masterKey: "abc" }, "npx byok-ai keygen"],
    ["an unknown option", { masterKey: TEST_MASTER_KEY, masterkey: "x" }, "Did you mean `masterKey`?"],
    ["a store without the KeyStore methods", { masterKey: TEST_MASTER_KEY, store: {} }, "KeyStore"],
    ["a bad provider id", { masterKey: TEST_MASTER_KEY, providers: { "Bad Id": {} } }, "provider id"],
    [
      "a custom id without kind",
      { masterKey: TEST_MASTER_KEY, providers: { groq: { baseUrl: "https://x.test/v1" } } },
      "kind",
    ],
    [
      "a relative baseUrl",
      { masterKey: TEST_MASTER_KEY, providers: { gemini: { baseUrl: "/v1" } } },
      "absolute http(s) URL",
    ],
    ["a zero timeout", { masterKey: TEST_MASTER_KEY, providers: { gemini: { timeoutMs: 0 } } }, "timeoutMs"],
    ["an unknown default provider", { masterKey: TEST_MASTER_KEY, defaultProvider: "nope" }, "defaultProvider"],
    ["previousMasterKeys not an array", { masterKey: TEST_MASTER_KEY, previousMasterKeys: TEST_MASTER_KEY }, "array"],
  ])("throws CONFIG_INVALID for %s, naming the fix", (_name, options, fix) => {
    try {
      new BYOK(options as never);
      throw new Error("no throw");
    } catch (e) {
      expect(ByokError.is(e) && e.code).toBe("CONFIG_INVALID");
      expect(ByokError.is(e) && e.status).toBe(500);
      expect((e as Error).message).toContain(fix);
    }
  });

  it("emits one BYOK_MEMORY_STORE warning when NODE_ENV=production and no store is given", () => {
    const env = process.env.NODE_ENV;
    const spy = jest.spyOn(process, "emitWarning").mockImplementation(() => undefined);
    process.env.NODE_ENV = "production";
    try {
      new BYOK({ masterKey: TEST_MASTER_KEY });
      new BYOK({ masterKey: TEST_MASTER_KEY });
      new BYOK({ masterKey: TEST_MASTER_KEY, store: new MemoryStore() });
      const calls = spy.mock.calls.filter(
        ([, options]) => (options as { code?: string } | undefined)?.code === "BYOK_MEMORY_STORE",
      );
      expect(calls).toHaveLength(1);
    } finally {
      process.env.NODE_ENV = env;
      spy.mockRestore();
    }
  });
});

describe("BYOK.registerKey", () => {
  it("validates the key upstream, stores it encrypted and returns its KeyInfo", async () => {
    const info = await f.byok.registerKey({ userId: "u1", provider: "gemini", apiKey: CANARY_KEY });
    expect(info).toEqual({
      provider: "gemini",
      owner: "user",
      label: "default",
      priority: 0,
      hint: "\u2026XYZW",
      status: "ok",
      createdAt: expect.any(String),
      updatedAt: info.createdAt,
      replaced: false,
    });
    expect(f.fake.requests).toHaveLength(1);
    expect(f.fake.requests[0]).toMatchObject({ op: "validate", apiKey: CANARY_KEY });
    expect(f.events.map((e) => e.type)).toEqual(["key.registered"]);
    expect(f.events[0]).toMatchObject({ userId: "u1", provider: "gemini", hint: "\u2026XYZW" });
  });

  it("skips the upstream check with validate: false", async () => {
    await f.byok.registerKey({ userId: "u1", provider: "gemini", apiKey: "bad-but-unchecked", validate: false });
    expect(f.fake.requests).toHaveLength(0);
  });

  it("keeps createdAt and moves updatedAt when it replaces a key", async () => {
    // Only Date is faked (the clock the records read); timers and I/O run as usual.
    const REAL = ["hrtime", "nextTick", "performance", "queueMicrotask", "setImmediate", "clearImmediate"] as const;
    const TIMERS = ["setInterval", "clearInterval", "setTimeout", "clearTimeout"] as const;
    jest.useFakeTimers({ doNotFake: [...REAL, ...TIMERS], now: new Date("2026-01-01T00:00:00.000Z") });
    try {
      const first = await f.byok.registerKey({ userId: "u1", provider: "gemini", apiKey: "AIza-first-key" });
      jest.setSystemTime(new Date("2026-01-01T00:00:01.000Z"));
      const second = await f.byok.registerKey({ userId: "u1", provider: "gemini", apiKey: "AIza-second-key" });
      expect([first.replaced, second.replaced]).toEqual([false, true]);
      expect([first.createdAt, first.updatedAt]).toEqual(["2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z"]);
      expect([second.createdAt, second.updatedAt]).toEqual(["2026-01-01T00:00:00.000Z", "2026-01-01T00:00:01.000Z"]);
      expect(second.hint).toBe("\u2026-key");
    } finally {
      jest.useRealTimers();
    }
    expect(await f.byok.listKeys("u1")).toHaveLength(1);
  });

  it("answers KEY_REJECTED (422), emits key.rejected and stores nothing for a key the provider refuses", async () => {
    const error = await f.byok
      .registerKey({ userId: "u1", provider: "gemini", apiKey: "bad-key-123456" })
      .catch((e: unknown) => e);
    expect(ByokError.is(error) && [error.code, error.status, error.provider]).toEqual(["KEY_REJECTED", 422, "gemini"]);
    expect(await f.byok.listKeys("u1")).toEqual([]);
    expect(f.events.map((e) => e.type)).toEqual(["key.rejected"]);
  });

  it.each([
    ["an empty userId", { userId: "", provider: "gemini", apiKey: "AIza-12345678" }, "INVALID_REQUEST"],
    [
      "a userId over 256 characters",
      { userId: "u".repeat(257), provider: "gemini", apiKey: "AIza-12345678" },
      "INVALID_REQUEST",
    ],
    ["a non-string key", { userId: "u1", provider: "gemini", apiKey: 12345678 }, "INVALID_REQUEST"],
    ["a key over 512 characters", { userId: "u1", provider: "gemini", apiKey: "a".repeat(513) }, "INVALID_REQUEST"],
    ["a key under 8 characters", { userId: "u1", provider: "gemini", apiKey: "short" }, "INVALID_REQUEST"],
    ["a key with a space", { userId: "u1", provider: "gemini", apiKey: "AIza 12345678" }, "INVALID_REQUEST"],
    [
      "a key with a control character",
      { userId: "u1", provider: "gemini", apiKey: "AIza\u000012345678" },
      "INVALID_REQUEST",
    ],
    ["a key with a newline", { userId: "u1", provider: "gemini", apiKey: "AIza12345678\n" }, "INVALID_REQUEST"],
    ["an unknown provider", { userId: "u1", provider: "nope", apiKey: "AIza-12345678" }, "UNKNOWN_PROVIDER"],
    ["a malformed provider id", { userId: "u1", provider: "Gem ini", apiKey: "AIza-12345678" }, "INVALID_REQUEST"],
    [
      "an unknown field",
      { userId: "u1", provider: "gemini", apiKey: "AIza-12345678", baseUrl: "http://evil.test" },
      "INVALID_REQUEST",
    ],
    [
      "a non-boolean validate",
      { userId: "u1", provider: "gemini", apiKey: "AIza-12345678", validate: "no" },
      "INVALID_REQUEST",
    ],
  ])("rejects %s before calling anything or storing", async (_name, input, code) => {
    expect(await codeOf(f.byok.registerKey(input as never))).toBe(code);
    expect(f.fake.requests).toHaveLength(0);
    expect(await f.byok.listKeys("u1")).toEqual([]);
  });
});

describe("BYOK.deleteKey, listKeys and deleteUser", () => {
  it("deletes one key, reports whether there was one, and emits key.deleted", async () => {
    await f.byok.registerKey({ userId: "u1", provider: "gemini", apiKey: CANARY_KEY });
    expect(await f.byok.deleteKey({ userId: "u1", provider: "gemini" })).toBe(true);
    expect(await f.byok.deleteKey({ userId: "u1", provider: "gemini" })).toBe(false);
    expect(f.events.map((e) => e.type)).toEqual(["key.registered", "key.deleted"]);
  });

  it("removes all of a user's keys and returns how many, leaving other users alone", async () => {
    const fx = await geminiFixture({
      providers: { gemini: { baseUrl: f.fake.url }, g2: { kind: "gemini", baseUrl: f.fake.url } },
    });
    try {
      await fx.byok.registerKey({ userId: "u1", provider: "gemini", apiKey: "AIza-12345678", validate: false });
      await fx.byok.registerKey({ userId: "u1", provider: "g2", apiKey: "AIza-12345678", validate: false });
      await fx.byok.registerKey({ userId: "u2", provider: "gemini", apiKey: "AIza-12345678", validate: false });
      expect((await fx.byok.listKeys("u1")).map((k) => k.provider)).toEqual(["g2", "gemini"]);
      expect(await fx.byok.deleteUser("u1")).toBe(2);
      expect(await fx.byok.listKeys("u1")).toEqual([]);
      expect(await fx.byok.listKeys("u2")).toHaveLength(1);
    } finally {
      await fx.close();
    }
  });
});

describe("AiClient.chat", () => {
  beforeEach(() => f.byok.registerKey({ userId: "u1", provider: "gemini", apiKey: CANARY_KEY }));

  it("answers with the user's own key and a normalized response", async () => {
    const response = await f.byok.use("u1").chat({ prompt: "hello there" });
    expect(response).toEqual({
      text: "Echo: hello there",
      provider: "gemini",
      model: "gemini-2.5-flash",
      finishReason: "stop",
      // 2 input tokens at $0.30 and 3 output at $2.50 per million (the price table's): 8.1 micro-dollars, rounded
      usage: { inputTokens: 2, outputTokens: 3, totalTokens: 5, costUsd: 0.000008 },
      key: { owner: "user", label: "default", hint: expect.stringMatching(/^\u2026/) },
    });
    const call = f.fake.requests.at(-1)!;
    expect(call).toMatchObject({
      op: "chat",
      apiKey: CANARY_KEY,
      path: "/v1beta/models/gemini-2.5-flash:generateContent",
    });
  });

  it("maps messages, system, temperature, maxTokens and model onto the Gemini request", async () => {
    await f.byok.use("u1").chat({
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: "hi" },
        { role: "assistant", content: "hello" },
        { role: "user", content: "again" },
      ],
      system: "be kind",
      temperature: 0.5,
      maxTokens: 42,
      model: "gemini-2.5-pro",
    });
    const call = f.fake.requests.at(-1)!;
    expect(call.path).toBe("/v1beta/models/gemini-2.5-pro:generateContent");
    expect(call.body).toMatchObject({
      contents: [
        { role: "user", parts: [{ text: "hi" }] },
        { role: "model", parts: [{ text: "hello" }] },
        { role: "user", parts: [{ text: "again" }] },
      ],
      systemInstruction: { parts: [{ text: "be kind\n\nbe brief" }] },
      generationConfig: { temperature: 0.5, maxOutputTokens: 42 },
    });
  });

  it.each([
    ["length", "length"],
    ["content_filter", "content_filter"],
    ["other", "other"],
  ] as const)("maps the finish reason %s", async (reason, expected) => {
    f.fake.enqueue({ finishReason: reason });
    expect((await f.byok.use("u1").chat({ prompt: "x" })).finishReason).toBe(expected);
  });

  it("updates lastUsedAt after a call without waiting for it", async () => {
    expect((await f.byok.listKeys("u1"))[0]!.lastUsedAt).toBeUndefined();
    await f.byok.use("u1").chat({ prompt: "x" });
    await new Promise((r) => setImmediate(r));
    expect((await f.byok.listKeys("u1"))[0]!.lastUsedAt).toEqual(expect.any(String));
  });

  it("emits chat.completed with usage for metering", async () => {
    await f.byok.use("u1").chat({ prompt: "one two" });
    expect(f.events.at(-1)).toEqual({
      type: "chat.completed",
      userId: "u1",
      provider: "gemini",
      label: "default",
      keyOwner: "user",
      model: "gemini-2.5-flash",
      usage: { inputTokens: 2, outputTokens: 3, totalTokens: 5, costUsd: 0.000008 },
      priceVersion: expect.stringMatching(/^@pydantic\/genai-prices@\d+\.\d+\.\d+$/),
      at: expect.any(String),
      durationMs: expect.any(Number),
      requestId: expect.any(String),
    });
  });

  it.each([
    ["an upstream 429", { status: 429, retryAfter: 7 }, "PROVIDER_RATE_LIMITED", 429],
    ["an upstream 500", { status: 500 }, "PROVIDER_ERROR", 502],
    ["an upstream 503", { status: 503 }, "PROVIDER_ERROR", 502],
    ["an upstream 400", { status: 400, message: "model not found" }, "PROVIDER_BAD_REQUEST", 400],
    ["an upstream 401", { status: 401 }, "KEY_REJECTED", 422],
    ["an upstream 403", { status: 403 }, "KEY_REJECTED", 422],
    ["a non-JSON body", { garbage: true }, "PROVIDER_ERROR", 502],
    ["a reset connection", { reset: true }, "PROVIDER_ERROR", 502],
  ])("maps %s to %s", async (_name, reply, code, status) => {
    f.fake.enqueue(reply);
    const error = await f.byok
      .use("u1")
      .chat({ prompt: "x" })
      .catch((e: unknown) => e);
    expect(ByokError.is(error) && [error.code, error.status, error.provider]).toEqual([code, status, "gemini"]);
    expect(f.events.at(-1)).toMatchObject({ type: "chat.failed", code });
    if (code === "PROVIDER_RATE_LIMITED") expect((error as ByokError).retryAfter).toBe(7);
  });

  it("passes on the upstream message of a refused request without anything key-like", async () => {
    f.fake.enqueue({ status: 400, message: `Model foo is not found for key ${CANARY_KEY} (sk-abc***wxyz)` });
    const error = (await f.byok
      .use("u1")
      .chat({ prompt: "x" })
      .catch((e: unknown) => e)) as ByokError;
    expect(error.message).toContain("Model foo is not found");
    expect(error.message).not.toContain(CANARY_KEY);
    expect(error.message).not.toContain("wxyz");
  });

  it("answers PROVIDER_ERROR when the upstream cannot be reached", async () => {
    await f.fake.close();
    expect(await codeOf(f.byok.use("u1").chat({ prompt: "x" }))).toBe("PROVIDER_ERROR");
  });

  it("answers PROVIDER_TIMEOUT (504) when the upstream is slower than timeoutMs, and leaves no timer", async () => {
    const fx = await geminiFixture({}, { timeoutMs: 100 });
    try {
      await fx.byok.registerKey({ userId: "u1", provider: "gemini", apiKey: CANARY_KEY });
      fx.fake.enqueue({ hang: true });
      const started = performance.now();
      const error = await fx.byok
        .use("u1")
        .chat({ prompt: "x" })
        .catch((e: unknown) => e);
      expect(ByokError.is(error) && [error.code, error.status]).toEqual(["PROVIDER_TIMEOUT", 504]);
      expect(performance.now() - started).toBeLessThan(2000);
      await waitFor(() => fx.fake.requests.at(-1)!.aborted, "the upstream abort");
    } finally {
      await fx.close();
    }
  });

  it("rejects with the signal's reason when the caller aborts, and aborts the upstream call", async () => {
    f.fake.enqueue({ hang: true });
    const controller = new AbortController();
    const sent = f.fake.requests.length;
    const pending = f.byok.use("u1").chat({ prompt: "x", signal: controller.signal });
    await waitFor(() => f.fake.requests.length > sent, "the upstream call");
    controller.abort();
    const error = await pending.catch((e: unknown) => e);
    expect((error as Error).name).toBe("AbortError");
    expect(ByokError.is(error)).toBe(false);
    await waitFor(() => f.fake.requests.at(-1)!.aborted, "the upstream abort");
  });

  it("sends nothing upstream when the caller aborts while the key is being looked up", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let armed = false; // from the chat on: registering reads the list too
    class SlowListStore extends MemoryStore {
      override async list(userId: string) {
        if (armed) await gate;
        return super.list(userId);
      }
    }
    const fx = await geminiFixture({ store: new SlowListStore() });
    try {
      await fx.byok.registerKey({ userId: "u1", provider: "gemini", apiKey: CANARY_KEY, validate: false });
      armed = true;
      const controller = new AbortController();
      const pending = fx.byok.use("u1").chat({ prompt: "x", signal: controller.signal });
      controller.abort();
      release();
      // The call has settled: whatever it was going to send upstream, it would have sent by now.
      expect(((await pending.catch((e: unknown) => e)) as Error).name).toBe("AbortError");
      expect(fx.fake.requests.filter((r) => r.op === "chat")).toEqual([]);
    } finally {
      await fx.close();
    }
  });

  it("answers KEY_UNREADABLE and sends nothing upstream when the stored ciphertext was tampered with", async () => {
    const store = new MemoryStore();
    const fx = await geminiFixture({ store });
    try {
      await fx.byok.registerKey({ userId: "u1", provider: "gemini", apiKey: CANARY_KEY });
      const record = (await store.get("u1", "gemini"))!;
      await store.compareAndSwap("u1", "gemini", record.ciphertext, flipBit(record.ciphertext));
      fx.fake.reset();
      expect(await codeOf(fx.byok.use("u1").chat({ prompt: "x" }))).toBe("KEY_UNREADABLE");
      expect(fx.fake.requests).toHaveLength(0);
      expect(await store.get("u1", "gemini")).toBeDefined();
    } finally {
      await fx.close();
    }
  });

  it("answers KEY_UNREADABLE when the master key changed without previousMasterKeys", async () => {
    const store = new MemoryStore();
    const fx = await geminiFixture({ store });
    await fx.byok.registerKey({ userId: "u1", provider: "gemini", apiKey: CANARY_KEY });
    const other = new BYOK({ masterKey: Buffer.alloc(32, 9), store, providers: { gemini: { baseUrl: fx.fake.url } } });
    const withPrevious = new BYOK({
      masterKey: Buffer.alloc(32, 9),
      previousMasterKeys: [TEST_MASTER_KEY],
      store,
      providers: { gemini: { baseUrl: fx.fake.url } },
    });
    try {
      expect(await codeOf(other.use("u1").chat({ prompt: "x" }))).toBe("KEY_UNREADABLE");
      expect((await withPrevious.use("u1").chat({ prompt: "x" })).text).toBe("Echo: x");
    } finally {
      await fx.close();
    }
  });

  it.each([
    ["neither prompt nor messages", {}],
    ["both prompt and messages", { prompt: "x", messages: [{ role: "user", content: "x" }] }],
    ["an empty prompt", { prompt: "" }],
    ["a bad role", { messages: [{ role: "tool", content: "x" }] }],
    ["only system messages", { messages: [{ role: "system", content: "x" }] }],
    ["201 messages", { messages: Array.from({ length: 201 }, () => ({ role: "user", content: "x" })) }],
    ["a temperature that is not a number", { prompt: "x", temperature: "hot" }],
    ["a negative maxTokens", { prompt: "x", maxTokens: -1 }],
    ["a baseUrl field", { prompt: "x", baseUrl: "http://evil.test" }],
    ["a model with a path escape", { prompt: "x", model: "../../evil" }],
  ])("rejects %s with INVALID_REQUEST and calls nothing", async (_name, request) => {
    f.fake.reset();
    const error = await f.byok
      .use("u1")
      .chat(request as never)
      .catch((e: unknown) => e);
    expect(ByokError.is(error) && error.code).toBe("INVALID_REQUEST");
    expect(f.fake.requests).toHaveLength(0);
  });

  it("answers UNKNOWN_PROVIDER for a provider that is not configured", async () => {
    expect(await codeOf(f.byok.use("u1").chat({ prompt: "x", provider: "nope" }))).toBe("UNKNOWN_PROVIDER");
  });

  it("answers KEY_NOT_FOUND (404) for a user without a key", async () => {
    const error = await f.byok
      .use("nobody")
      .chat({ prompt: "x" })
      .catch((e: unknown) => e);
    expect(ByokError.is(error) && [error.code, error.status]).toEqual(["KEY_NOT_FOUND", 404]);
  });
});

describe("provider choice", () => {
  let fx: GeminiFixture;
  beforeEach(async () => {
    fx = await geminiFixture({
      providers: {
        gemini: { baseUrl: f.fake.url },
        alt: { kind: "gemini", baseUrl: f.fake.url },
        third: { kind: "gemini", baseUrl: f.fake.url },
      },
    });
  });
  afterEach(() => fx.close());

  it("uses defaultProvider when the user has a key for it", async () => {
    await fx.byok.registerKey({ userId: "u1", provider: "alt", apiKey: "AIza-alt-key", validate: false });
    await fx.byok.registerKey({ userId: "u1", provider: "gemini", apiKey: "AIza-gem-key", validate: false });
    expect((await fx.byok.use("u1").chat({ prompt: "x" })).provider).toBe("gemini");
    expect((await fx.byok.use("u1").chat({ prompt: "x", provider: "alt" })).provider).toBe("alt");
    expect(f.fake.requests.at(-1)!.apiKey).toBe("AIza-alt-key");
  });

  it("uses the user's only key otherwise", async () => {
    await fx.byok.registerKey({ userId: "u1", provider: "alt", apiKey: "AIza-alt-key", validate: false });
    expect((await fx.byok.use("u1").chat({ prompt: "x" })).provider).toBe("alt");
  });

  it("answers KEY_NOT_FOUND when the user has several keys and none for defaultProvider", async () => {
    await fx.byok.registerKey({ userId: "u1", provider: "alt", apiKey: "AIza-alt-key", validate: false });
    await fx.byok.registerKey({ userId: "u1", provider: "third", apiKey: "AIza-3rd-key", validate: false });
    const error = (await fx.byok
      .use("u1")
      .chat({ prompt: "x" })
      .catch((e: unknown) => e)) as ByokError;
    expect(error.code).toBe("KEY_NOT_FOUND");
    expect(error.message).toContain("pass `provider`");
  });

  it("answers has() and keys() for the user", async () => {
    const ai = fx.byok.use("u1");
    expect(await ai.has()).toBe(false);
    await fx.byok.registerKey({ userId: "u1", provider: "alt", apiKey: "AIza-alt-key", validate: false });
    expect(await ai.has()).toBe(true);
    expect(await ai.has("alt")).toBe(true);
    expect(await ai.has("gemini")).toBe(false);
    expect(await codeOf(ai.has("nope"))).toBe("UNKNOWN_PROVIDER");
    expect((await ai.keys()).map((k) => k.provider)).toEqual(["alt"]);
  });
});

describe("AiClient.stream", () => {
  beforeEach(() => f.byok.registerKey({ userId: "u1", provider: "gemini", apiKey: CANARY_KEY }));

  it("yields chunks in order whose join equals response.text", async () => {
    f.fake.enqueue({ chunks: ["one ", "two ", "three"] });
    const stream = f.byok.use("u1").stream({ prompt: "count" });
    const chunks: string[] = [];
    for await (const chunk of stream) chunks.push(chunk.text);
    const response = await stream.response;
    expect(chunks).toEqual(["one ", "two ", "three"]);
    expect(response).toMatchObject({
      text: "one two three",
      provider: "gemini",
      finishReason: "stop",
      usage: { outputTokens: 3 },
    });
    expect(f.fake.requests.at(-1)).toMatchObject({ op: "stream", apiKey: CANARY_KEY });
    expect(f.events.at(-1)).toMatchObject({ type: "chat.completed", usage: { outputTokens: 3 } });
  });

  it("reports an upstream that drops the connection mid-stream as PROVIDER_ERROR", async () => {
    f.fake.enqueue({ chunks: ["a ", "b ", "c"], dropAfterChunks: 1 });
    const stream = f.byok.use("u1").stream({ prompt: "x" });
    const seen: string[] = [];
    const error = await (async () => {
      for await (const chunk of stream) seen.push(chunk.text);
    })().catch((e: unknown) => e);
    expect(ByokError.is(error) && error.code).toBe("PROVIDER_ERROR");
    expect(await codeOf(stream.response)).toBe("PROVIDER_ERROR");
  });

  it("aborts the upstream request when the consumer stops reading", async () => {
    f.fake.enqueue({ chunks: ["a ", "b ", "c ", "d"], chunkDelayMs: 200 });
    const stream = f.byok.use("u1").stream({ prompt: "x" });
    for await (const _chunk of stream) break;
    await waitFor(() => f.fake.requests.at(-1)!.aborted, "the upstream abort");
    await expect(stream.response).rejects.toMatchObject({ name: "AbortError" });
  });

  it("rejects the first read with KEY_NOT_FOUND before anything streams", async () => {
    const stream = f.byok.use("nobody").stream({ prompt: "x" });
    const error = await stream[Symbol.asyncIterator]()
      .next()
      .catch((e: unknown) => e);
    expect(ByokError.is(error) && error.code).toBe("KEY_NOT_FOUND");
  });
});

describe("user ids", () => {
  it.each([
    ["a NUL character", "user\u0000one"],
    ["a lone surrogate", "user\uD800"],
  ])("rejects an id with %s with INVALID_REQUEST, whatever the store", async (_name, userId) => {
    const error = await f.byok.registerKey({ userId, provider: "gemini", apiKey: CANARY_KEY }).catch((e: unknown) => e);
    expect(ByokError.is(error) && error.code).toBe("INVALID_REQUEST");
    expect(await codeOf(f.byok.use(userId).chat({ prompt: "x" }))).toBe("INVALID_REQUEST");
  });

  it("accepts any other Unicode id, emoji included", async () => {
    await f.byok.registerKey({ userId: "ünï©ødé 🔑 {a}:*%", provider: "gemini", apiKey: CANARY_KEY });
    expect((await f.byok.use("ünï©ødé 🔑 {a}:*%").chat({ prompt: "x" })).text).toBe("Echo: x");
  });
});
