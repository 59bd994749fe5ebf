// onEvent: a union typed by `type`, each type with exactly its documented fields plus durationMs and requestId, never a key;
// usage of broken and aborted streams; failing listeners never break a request.
import request from "supertest";
import express from "express";
import { request as httpRequest } from "node:http";
import { BYOK, byokRouter, MemoryStore, type ByokEvent, type ByokOptions, type KeyDeletedEvent } from "../../lib";
import { startFakeAnthropic, startFakeGemini, type FakeUpstream } from "../../lib/testing";
import { CANARY_KEY, TEST_MASTER_KEY } from "../helpers/canary";
import { listen } from "../helpers/router-harness";
import { waitFor } from "../helpers/wait-for";

const COMMON = ["at", "durationMs", "provider", "requestId", "type", "userId"];
const fieldsOf = (e: ByokEvent | undefined) => Object.keys(e ?? {}).sort();
const withCommon = (...extra: string[]) => [...COMMON, ...extra].sort();
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function app(byok: BYOK) {
  const a = express();
  a.use((req, _res, next) => (((req as unknown as { user: { id: string } }).user = { id: "u1" }), next()));
  a.use(byokRouter({ byok, rateLimit: false }));
  a.post("/app/ask", express.json(), (req, res, next) => {
    req.ai.chat({ prompt: "from the app" }).then((r) => res.json({ text: r.text }), next);
  });
  return a;
}

/** What a metering listener writes: narrowing on `type` gives each type's own fields (checked by tsc in npm test: test/type-tests.test.ts). */
function meter(event: ByokEvent): string {
  switch (event.type) {
    case "chat.completed":
      return `${event.requestId} ${event.model} ${event.usage.totalTokens}`;
    case "chat.failed":
      return `${event.requestId} ${event.code} ${event.usage?.totalTokens ?? 0}`;
    case "key.used":
      return `${event.method} ${event.path} ${event.status}`;
    case "key.registered":
    case "key.checked":
      return event.hint;
    default:
      return `${event.type} after ${event.durationMs} ms`;
  }
}

// Never called: it only has to fail to compile.
export function notCompiled(deleted: KeyDeletedEvent, any: ByokEvent): unknown[] {
  return [
    // @ts-expect-error key.deleted carries no usage
    deleted.usage,
    // @ts-expect-error model is not on every event: narrow on `type` first
    any.model,
    // @ts-expect-error codes are the documented ones only
    ((e: ByokEvent) => e.type === "chat.failed" && e.code === "TOTALLY_MADE_UP")(any),
  ];
}

describe("BYOK onEvent", () => {
  let fake: FakeUpstream;
  beforeAll(async () => void (fake = await startFakeGemini()));
  afterAll(() => fake.close());
  const make = (onEvent: ByokOptions["onEvent"]) =>
    new BYOK({
      masterKey: TEST_MASTER_KEY,
      store: new MemoryStore(),
      providers: { gemini: { baseUrl: fake.url } },
      onEvent,
    });

  it("emits every event type with exactly the documented fields and never the key", async () => {
    const events: ByokEvent[] = [];
    const byok = make((e) => void events.push(e));
    const a = app(byok);
    await request(a)
      .post("/byok/keys")
      .send({ provider: "gemini", apiKey: `bad${CANARY_KEY}` })
      .expect(422);
    await request(a).post("/byok/keys").send({ provider: "gemini", apiKey: CANARY_KEY }).expect(201);
    await request(a).post("/byok/chat").send({ prompt: "one two three" }).expect(200);
    await request(a).post("/byok/chat").send({ prompt: "hi", stream: true }).expect(200);
    fake.enqueue({ status: 401, message: "key revoked" });
    await request(a).post("/byok/chat").send({ prompt: "hi" }).expect(422);
    fake.enqueue({ status: 500 });
    await request(a).post("/byok/chat").send({ prompt: "hi" }).expect(502);
    await request(a).delete("/byok/keys").send({ provider: "gemini" }).expect(204);

    expect(events.map((e) => e.type)).toEqual([
      "key.rejected",
      "key.registered",
      "chat.completed",
      "chat.completed",
      "key.status_changed",
      "key.rejected",
      "chat.failed",
      "chat.failed",
      "key.deleted",
    ]);
    for (const e of events) {
      expect([e.userId, e.provider, ISO.test(e.at), UUID.test(e.requestId)]).toEqual(["u1", "gemini", true, true]);
      expect(Number.isInteger(e.durationMs) && e.durationMs >= 0).toBe(true);
      expect(JSON.stringify(e)).not.toContain(CANARY_KEY);
      expect(meter(e)).not.toContain(CANARY_KEY);
    }
    const [
      rejectedAtRegistration,
      registered,
      chat,
      stream,
      statusChanged,
      rejectedAtChat,
      failedRejected,
      failed500,
      deleted,
    ] = events;
    expect(fieldsOf(rejectedAtRegistration)).toEqual(withCommon("hint"));
    expect(registered).toMatchObject({ type: "key.registered", hint: `\u2026${CANARY_KEY.slice(-4)}` });
    expect(fieldsOf(registered)).toEqual(withCommon("hint"));
    expect(chat).toMatchObject({
      model: "gemini-2.5-flash",
      usage: { inputTokens: 3, outputTokens: 4, totalTokens: 7 },
    }); // "Echo: one two three": 4 chunks
    // gemini-2.5-flash is in the price table: its cost, and the table's version for an audit.
    expect(fieldsOf(chat)).toEqual(withCommon("keyOwner", "label", "model", "priceVersion", "usage"));
    expect(chat?.type === "chat.completed" && Object.keys(chat.usage).sort()).toEqual([
      "costUsd",
      "inputTokens",
      "outputTokens",
      "totalTokens",
    ]);
    expect(stream?.type === "chat.completed" && stream.usage.totalTokens).toBeGreaterThan(0);
    expect(statusChanged).toMatchObject({
      status: "invalid",
      previousStatus: "ok",
      hint: `\u2026${CANARY_KEY.slice(-4)}`,
    });
    expect(fieldsOf(statusChanged)).toEqual(withCommon("hint", "keyOwner", "label", "previousStatus", "status"));
    expect(statusChanged!.requestId).toBe(rejectedAtChat!.requestId);
    expect(fieldsOf(rejectedAtChat)).toEqual(withCommon());
    expect(failedRejected).toMatchObject({ code: "KEY_REJECTED", model: "gemini-2.5-flash" });
    expect(fieldsOf(failedRejected)).toEqual(withCommon("code", "keyOwner", "label", "model"));
    expect(rejectedAtChat!.requestId).toBe(failedRejected!.requestId); // one request, one id
    expect(failed500).toMatchObject({ type: "chat.failed", code: "PROVIDER_ERROR" });
    expect(fieldsOf(deleted)).toEqual(withCommon());
    expect(new Set(events.map((e) => e.requestId)).size).toBe(7); // 7 requests
    await byok.close();
  });

  it("uses the request's X-Request-Id through the router and req.ai, and a UUID for a malformed one", async () => {
    const events: ByokEvent[] = [];
    const byok = make((e) => void events.push(e));
    const a = app(byok);
    await request(a)
      .post("/byok/keys")
      .set("X-Request-Id", "req-1")
      .send({ provider: "gemini", apiKey: CANARY_KEY })
      .expect(201);
    await request(a).post("/byok/chat").set("X-Request-Id", "trace 42/abc").send({ prompt: "hi" }).expect(200);
    await request(a).post("/app/ask").set("X-Request-Id", "from-app").send({}).expect(200);
    await request(a).post("/app/ask").set("X-Request-Id", "x".repeat(129)).send({}).expect(200);
    await request(a).post("/app/ask").set("X-Request-Id", "caf\u00e9").send({}).expect(200);
    await request(a).post("/app/ask").set("X-Request-Id", "tab\there").send({}).expect(200);
    expect(events.map((e) => e.requestId.length <= 128 && e.requestId)).toEqual([
      "req-1",
      "trace 42/abc",
      "from-app",
      expect.stringMatching(UUID),
      expect.stringMatching(UUID),
      expect.stringMatching(UUID),
    ]);
    await byok.close();
  });

  it("gives each operation outside the router its own request id and its duration", async () => {
    const events: ByokEvent[] = [];
    const byok = make((e) => void events.push(e));
    await byok.registerKey({ userId: "u2", provider: "gemini", apiKey: CANARY_KEY });
    fake.enqueue({ chunks: ["a ", "b ", "c"], chunkDelayMs: 150 });
    for await (const chunk of byok.use("u2").stream({ prompt: "slow" })) expect(chunk.text).toBeTruthy();
    await byok.deleteUser("u2");
    expect(events.map((e) => e.type)).toEqual(["key.registered", "chat.completed", "key.deleted"]);
    expect(new Set(events.map((e) => e.requestId)).size).toBe(3);
    expect(events[1]!.durationMs).toBeGreaterThanOrEqual(250); // two 150 ms gaps between three chunks
    await byok.close();
  });

  it.each([
    [
      "a throwing listener",
      () => {
        throw new Error(`listener broke ${CANARY_KEY}`);
      },
    ],
    [
      "a rejecting async listener",
      async () => {
        throw new Error("listener broke");
      },
    ],
  ])("keeps requests working with %s and warns once with BYOK_EVENT_LISTENER_FAILED", async (_name, listener) => {
    const warn = jest.spyOn(process, "emitWarning").mockImplementation(() => undefined);
    try {
      const byok = make(listener as ByokOptions["onEvent"]);
      const a = app(byok);
      await request(a).post("/byok/keys").send({ provider: "gemini", apiKey: CANARY_KEY }).expect(201);
      const chat = await request(a).post("/byok/chat").send({ prompt: "hi" });
      expect([chat.status, chat.body.text]).toEqual([200, "Echo: hi"]);
      await request(a).post("/byok/chat").send({ prompt: "hi", stream: true }).expect(200);
      await new Promise((r) => setImmediate(r)); // let rejections of async listeners land
      const ours = warn.mock.calls.filter(
        (c) => (c[1] as { code?: string } | undefined)?.code === "BYOK_EVENT_LISTENER_FAILED",
      );
      expect(ours).toHaveLength(1);
      expect(JSON.stringify(ours)).not.toContain(CANARY_KEY);
      await byok.close();
    } finally {
      warn.mockRestore();
    }
  });
});

describe("BYOK onEvent usage of streams that did not finish", () => {
  let fake: FakeUpstream;
  let byok: BYOK;
  let events: ByokEvent[];
  beforeAll(async () => void (fake = await startFakeAnthropic()));
  afterAll(() => fake.close());
  beforeEach(async () => {
    events = [];
    byok = new BYOK({
      masterKey: TEST_MASTER_KEY,
      providers: { anthropic: { baseUrl: fake.url } },
      onEvent: (e) => void events.push(e),
    });
    await byok.registerKey({ userId: "u1", provider: "anthropic", apiKey: CANARY_KEY });
  });
  afterEach(() => byok.close());
  const failedEvent = () => events.find((e) => e.type === "chat.failed");
  // Anthropic's message_start reports the input tokens (4 words here) and a first output token.
  const REPORTED = { inputTokens: 4, outputTokens: 1, totalTokens: 5 };

  it("carries the usage reported before the stream broke, with the failure's code", async () => {
    fake.enqueue({ chunks: ["a ", "b ", "c"], errorAfterChunks: 2 });
    await expect(async () => {
      for await (const _ of byok.use("u1").stream({ prompt: "one two three four" }));
    }).rejects.toMatchObject({ code: "PROVIDER_ERROR" });
    expect(failedEvent()).toMatchObject({ code: "PROVIDER_ERROR", usage: REPORTED });
  });

  it("emits chat.failed ABORTED with the usage so far when the consumer stops early", async () => {
    fake.enqueue({ chunks: ["a ", "b ", "c"], chunkDelayMs: 50 });
    for await (const _ of byok.use("u1").stream({ prompt: "one two three four" })) break;
    expect(events.map((e) => e.type)).toEqual(["key.registered", "chat.failed"]);
    expect(failedEvent()).toMatchObject({ code: "ABORTED", usage: REPORTED });
  });

  it("emits chat.failed ABORTED with the usage so far when the caller's signal aborts", async () => {
    fake.enqueue({ chunks: ["a ", "b ", "c"], chunkDelayMs: 300 });
    const controller = new AbortController();
    await expect(async () => {
      for await (const _ of byok.use("u1").stream({ prompt: "one two three four", signal: controller.signal }))
        controller.abort();
    }).rejects.toMatchObject({ name: "AbortError" });
    expect(failedEvent()).toMatchObject({ code: "ABORTED", usage: REPORTED });
  });

  it("emits chat.failed ABORTED with the usage so far when the browser leaves an SSE chat", async () => {
    const a = express();
    a.use((req, _res, next) => (((req as unknown as { user: { id: string } }).user = { id: "u1" }), next()));
    a.use(byokRouter({ byok, rateLimit: false }));
    const server = await listen(a as unknown as Parameters<typeof listen>[0]);
    try {
      fake.enqueue({ chunks: ["a ", "b ", "c ", "d"], chunkDelayMs: 300 });
      const req = httpRequest(`${server.url}/byok/chat`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "text/event-stream", "x-request-id": "gone-1" },
      });
      req.on("response", (res) => res.once("data", () => req.destroy()));
      req.on("error", () => undefined);
      req.end(JSON.stringify({ prompt: "one two three four" }));
      await waitFor(() => failedEvent() !== undefined, "chat.failed");
      expect(failedEvent()).toMatchObject({ code: "ABORTED", usage: REPORTED, requestId: "gone-1" });
    } finally {
      await server.close();
    }
  });
});
