// onEvent: every event type with exactly the documented fields, never a key; failing listeners never break a request.
import request from "supertest";
import express from "express";
import { BYOK, byokRouter, MemoryStore, type ByokEvent, type ByokOptions } from "../../lib";
import { startFakeGemini, type FakeUpstream } from "../../lib/testing";
import { CANARY_KEY, TEST_MASTER_KEY } from "../helpers/canary";

const ALLOWED = new Set(["type", "userId", "provider", "at", "hint", "model", "usage", "code"]);
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function app(byok: BYOK) {
  const a = express();
  a.use((req, _res, next) => (((req as unknown as { user: { id: string } }).user = { id: "u1" }), next()));
  a.use(byokRouter({ byok, rateLimit: false }));
  return a;
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
      "key.rejected",
      "chat.failed",
      "chat.failed",
      "key.deleted",
    ]);
    for (const e of events) {
      expect(Object.keys(e).filter((k) => !ALLOWED.has(k))).toEqual([]);
      expect([e.userId, e.provider, ISO.test(e.at)]).toEqual(["u1", "gemini", true]);
      expect(JSON.stringify(e)).not.toContain(CANARY_KEY);
    }
    const [rejectedAtRegistration, registered, chat, stream, rejectedAtChat, failedRejected, failed500, deleted] =
      events;
    expect(Object.keys(rejectedAtRegistration!).sort()).toEqual(["at", "hint", "provider", "type", "userId"]);
    expect(registered!.hint).toBe(`\u2026${CANARY_KEY.slice(-4)}`);
    expect(Object.keys(registered!).sort()).toEqual(["at", "hint", "provider", "type", "userId"]);
    expect(chat).toMatchObject({
      model: "gemini-2.5-flash",
      usage: { inputTokens: 3, outputTokens: 4, totalTokens: 7 },
    }); // "Echo: one two three": 4 chunks
    expect(Object.keys(chat!).sort()).toEqual(["at", "model", "provider", "type", "usage", "userId"]);
    expect(Object.keys(chat!.usage!).sort()).toEqual(["inputTokens", "outputTokens", "totalTokens"]);
    expect(stream!.usage!.totalTokens).toBeGreaterThan(0);
    expect(Object.keys(rejectedAtChat!).sort()).toEqual(["at", "provider", "type", "userId"]);
    expect(failedRejected).toMatchObject({ code: "KEY_REJECTED", model: "gemini-2.5-flash" });
    expect(Object.keys(failedRejected!).sort()).toEqual(["at", "code", "model", "provider", "type", "userId"]);
    expect(failed500!.code).toBe("PROVIDER_ERROR");
    expect(Object.keys(deleted!).sort()).toEqual(["at", "provider", "type", "userId"]);
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
