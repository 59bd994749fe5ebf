// byokRouter mounted in a plain Connect app (no Express request/response helpers, no req.query): every route per contract.
import connect from "connect";
import type { IncomingMessage, ServerResponse } from "node:http";
import request from "supertest";
import { BYOK, byokErrorHandler, byokRouter } from "../../lib";
import { type FakeUpstream, startFakeGemini, startFakeProviders } from "../../lib/testing";
import { CANARY_KEY, TEST_MASTER_KEY } from "../helpers/canary";
import { waitFor } from "../helpers/wait-for";

describe("byokRouter in a plain Connect app", () => {
  let fake: FakeUpstream;
  let byok: BYOK;
  let app: connect.Server;

  beforeEach(async () => {
    fake = await startFakeGemini();
    byok = new BYOK({
      masterKey: TEST_MASTER_KEY,
      providers: { gemini: { baseUrl: fake.url }, openai: false, anthropic: false },
    });
    app = connect();
    app.use((req: IncomingMessage, _res: ServerResponse, next: () => void) => {
      const user = req.headers["x-user"];
      if (typeof user === "string") (req as IncomingMessage & { user?: { id: string } }).user = { id: user };
      next();
    });
    app.use(byokRouter({ byok }) as unknown as connect.NextHandleFunction);
    app.use("/app/ask", (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => {
      (req as unknown as Express.Request).ai.chat({ prompt: "from the app" }).then((answer) => {
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ text: answer.text }));
      }, next);
    });
    app.use(byokErrorHandler() as unknown as connect.ErrorHandleFunction);
  });

  afterEach(async () => {
    await byok.close();
    await fake.close();
  });

  const as = (user: string) => ({ "x-user": user });

  it("registers, lists, checks, lists models, chats, streams, reads usage and deletes a key", async () => {
    const created = await request(app)
      .post("/byok/keys")
      .set(as("u1"))
      .send({ provider: "gemini", apiKey: CANARY_KEY });
    expect([created.status, created.body.hint]).toEqual([201, "\u2026XYZW"]);
    const replaced = await request(app)
      .post("/byok/keys")
      .set(as("u1"))
      .send({ provider: "gemini", apiKey: CANARY_KEY });
    expect(replaced.status).toBe(200);
    expect((await request(app).get("/byok/keys").set(as("u1"))).body.keys).toHaveLength(1);
    const checked = await request(app).post("/byok/keys/check").set(as("u1")).send({ provider: "gemini" });
    expect([checked.status, checked.body.status]).toEqual([200, "ok"]);
    const models = await request(app).get("/byok/models?provider=gemini").set(as("u1"));
    expect(models.status).toBe(200);
    expect(models.body.models.length).toBeGreaterThan(0);
    const chat = await request(app).post("/byok/chat").set(as("u1")).send({ prompt: "Hi there" });
    expect([chat.status, chat.body.text]).toEqual([200, "Echo: Hi there"]);
    const stream = await request(app).post("/byok/chat").set(as("u1")).send({ prompt: "a b", stream: true });
    expect([stream.status, stream.headers["content-type"]]).toEqual([200, "text/event-stream; charset=utf-8"]);
    expect(stream.text).toContain("event: done");
    const ask = await request(app).post("/app/ask").set(as("u1"));
    expect([ask.status, ask.body.text]).toEqual([200, "Echo: from the app"]);
    // Three chats (the stream and the app's own included), counted in the background; ?from= read without req.query.
    const today = new Date().toISOString().slice(0, 10);
    let requests = 0;
    await waitFor(async () => {
      const usage = await request(app).get(`/byok/usage?from=${today}`).set(as("u1"));
      expect([usage.status, usage.headers["cache-control"]]).toEqual([200, "no-store"]);
      requests = (usage.body.usage as { requests: number }[]).reduce((sum, row) => sum + row.requests, 0);
      return requests === 3;
    }, "three chats in GET /byok/usage");
    const noTeam = await request(app).get("/byok/usage?team=1").set(as("u1"));
    expect([noTeam.status, noTeam.body.error.code]).toEqual([404, "NO_TEAM"]);
    expect((await request(app).delete("/byok/keys?provider=gemini").set(as("u1"))).status).toBe(204);
    const gone = await request(app).delete("/byok/keys").set(as("u1")).send({ provider: "gemini" });
    expect([gone.status, gone.body.error.code]).toEqual([404, "KEY_NOT_FOUND"]);
  });

  it("answers bad input with the contract's error shape, not 500", async () => {
    const cases = [
      [request(app).post("/byok/keys").set(as("u1")).set("content-type", "text/plain").send("x"), 400],
      [request(app).post("/byok/keys").set(as("u1")).set("content-type", "application/json").send("{"), 400],
      [request(app).post("/byok/chat").set(as("u1")).send({ prompt: 5 }), 400],
      [
        request(app)
          .post("/byok/chat")
          .set(as("u1"))
          .send({ prompt: "x".repeat(20_000) }),
        413,
      ],
      [request(app).delete("/byok/keys?provider=a&provider=b").set(as("u1")), 400],
      [request(app).get("/byok/models?provider=a&provider=b").set(as("u1")), 400],
      [request(app).get("/byok/usage?from=2026-02-30").set(as("u1")), 400],
      [request(app).get("/byok/usage?to=a&to=b").set(as("u1")), 400],
      [request(app).get("/byok/usage"), 401],
      [request(app).post("/byok/chat").send({ prompt: "x" }), 401],
      [request(app).post("/byok/chat").set(as("u1")).send({ prompt: "x" }), 404],
    ] as const;
    for (const [pending, status] of cases) {
      const res = await pending;
      expect([res.status, typeof res.body.error?.code]).toEqual([status, "string"]);
      expect(res.headers["cache-control"]).toBe("no-store");
    }
  });
});

describe("Connect OpenRouter in a plain Connect app", () => {
  it("runs the whole flow mounted under a path, with no req.protocol or req.query", async () => {
    const fakes = await startFakeProviders();
    const byok = new BYOK({ masterKey: TEST_MASTER_KEY, providers: fakes.providers });
    const app = connect();
    app.use((req: IncomingMessage, _res: ServerResponse, next: () => void) => {
      (req as IncomingMessage & { user?: { id: string } }).user = { id: "u1" };
      next();
    });
    app.use("/api", byokRouter({ byok, connect: { openrouter: true } }) as unknown as connect.NextHandleFunction);
    try {
      const started = await request(app).get("/api/byok/connect/openrouter?returnTo=/settings");
      expect(started.status).toBe(302);
      const back = new URL(new URL(started.headers.location!).searchParams.get("callback_url")!);
      expect([back.protocol, back.pathname]).toEqual(["http:", "/api/byok/connect/openrouter/callback"]);
      const page = await fetch(started.headers.location!, { redirect: "manual" });
      const returned = new URL(page.headers.get("location")!);
      const done = await request(app).get(returned.pathname + returned.search);
      expect([done.status, done.headers.location]).toEqual([303, "/settings"]);
      expect((await byok.listKeys("u1")).map((k) => k.provider)).toEqual(["openrouter"]);
    } finally {
      await byok.close();
      await fakes.close();
    }
  });
});
