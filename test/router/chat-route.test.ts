import { request as httpRequest } from "node:http";
import request from "supertest";
import { CANARY_KEY, captureConsole } from "../helpers/canary";
import { type AppFixture, EXPRESS_VERSIONS, appFixture, listen, loadKit } from "../helpers/router-harness";
import { waitFor } from "../helpers/wait-for";
import { flipBit } from "../helpers/tamper";

describe.each(EXPRESS_VERSIONS)("POST /byok/chat on %s", (version) => {
  const kit = loadKit(version);
  let f: AppFixture;
  beforeEach(async () => {
    f = await appFixture(kit, { gemini: { timeoutMs: 300 } });
  });
  afterEach(() => f.close());

  const withKey = async (user = "u1") => {
    const res = await request(f.app)
      .post("/byok/keys")
      .set("x-user", user)
      .send({ provider: "gemini", apiKey: CANARY_KEY });
    expect(res.status).toBe(201);
    f.fake.reset();
  };
  const chat = (body: object, user = "u1") => request(f.app).post("/byok/chat").set("x-user", user).send(body);

  it("answers 200 ChatResponse with the user's key", async () => {
    await withKey();
    const res = await chat({ prompt: "Hello there", temperature: 0.5, maxTokens: 20 });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      text: "Echo: Hello there",
      provider: "gemini",
      model: "gemini-2.5-flash",
      finishReason: "stop",
      usage: { inputTokens: 2, outputTokens: 3, totalTokens: 5, costUsd: 0.000008 },
      key: { owner: "user", label: "default", hint: "\u2026XYZW" },
    });
    expect(f.fake.requests[0]).toMatchObject({ op: "chat", apiKey: CANARY_KEY });
    expect(res.headers["cache-control"]).toBe("no-store");
  });

  it("answers 200 for messages with a system turn and an explicit provider and model", async () => {
    await withKey();
    const res = await chat({
      provider: "gemini",
      model: "gemini-2.0-flash",
      messages: [
        { role: "system", content: "Be brief" },
        { role: "user", content: "Hi" },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.model).toBe("gemini-2.0-flash");
  });

  it("answers 404 KEY_NOT_FOUND when the user has no key", async () => {
    const res = await chat({ prompt: "Hi" });
    expect([res.status, res.body.error.code]).toEqual([404, "KEY_NOT_FOUND"]);
    expect(f.fake.requests).toHaveLength(0);
  });

  it("answers 400 UNKNOWN_PROVIDER for a provider that is not configured", async () => {
    await withKey();
    const res = await chat({ prompt: "Hi", provider: "nope" });
    expect([res.status, res.body.error.code]).toEqual([400, "UNKNOWN_PROVIDER"]);
  });

  it("answers 422 KEY_REJECTED when the provider refuses the stored key", async () => {
    await request(f.app).post("/byok/keys").set("x-user", "u1").send({ provider: "gemini", apiKey: CANARY_KEY });
    await f.byok.registerKey({ userId: "u1", provider: "gemini", apiKey: "bad-revoked-key-1", validate: false });
    const res = await chat({ prompt: "Hi" });
    expect([res.status, res.body.error.code]).toEqual([422, "KEY_REJECTED"]);
  });

  it("answers 429 PROVIDER_RATE_LIMITED with Retry-After passed through", async () => {
    await withKey();
    f.fake.enqueue({ status: 429, retryAfter: 3 });
    const res = await chat({ prompt: "Hi" });
    expect([res.status, res.body.error.code, res.headers["retry-after"]]).toEqual([429, "PROVIDER_RATE_LIMITED", "3"]);
  });

  it("answers 400 PROVIDER_BAD_REQUEST when the provider refuses the request", async () => {
    await withKey();
    f.fake.enqueue({ status: 400, message: "Unknown model" });
    const res = await chat({ prompt: "Hi" });
    expect([res.status, res.body.error.code]).toEqual([400, "PROVIDER_BAD_REQUEST"]);
  });

  it.each([
    ["an upstream 500", { status: 500 }],
    ["a malformed reply", { garbage: true }],
    ["a dropped connection", { reset: true }],
  ])("answers 502 PROVIDER_ERROR for %s", async (_name, reply) => {
    await withKey();
    f.fake.enqueue(reply);
    const res = await chat({ prompt: "Hi" });
    expect([res.status, res.body.error.code]).toEqual([502, "PROVIDER_ERROR"]);
  });

  it("answers 504 PROVIDER_TIMEOUT when the provider exceeds timeoutMs", async () => {
    await withKey();
    f.fake.enqueue({ hang: true });
    const res = await chat({ prompt: "Hi" });
    expect([res.status, res.body.error.code]).toEqual([504, "PROVIDER_TIMEOUT"]);
  });

  it("answers 500 KEY_UNREADABLE for a tampered record and sends nothing upstream", async () => {
    await withKey();
    const [record] = await f.snapshot();
    const tampered = flipBit(record!.ciphertext);
    expect(await f.store.compareAndSwap("u1", "gemini", record!.ciphertext, tampered)).toBe(true);
    const res = await chat({ prompt: "Hi" });
    expect([res.status, res.body.error.code]).toEqual([500, "KEY_UNREADABLE"]);
    expect(f.fake.requests).toHaveLength(0);
  });

  it("answers 401 UNAUTHENTICATED without a user", async () => {
    const res = await request(f.app).post("/byok/chat").send({ prompt: "Hi" });
    expect([res.status, res.body.error.code]).toEqual([401, "UNAUTHENTICATED"]);
  });

  it("answers JSON for stream: false even with Accept: text/event-stream", async () => {
    await withKey();
    const res = await request(f.app)
      .post("/byok/chat")
      .set("x-user", "u1")
      .set("accept", "text/event-stream, application/json")
      .send({ prompt: "Hi", stream: false });
    expect(res.status).toBe(200);
  });

  /** POSTs a chat as u1 and disconnects once the fake provider has received it. */
  async function leaveOnceUpstream(url: string, body: object): Promise<void> {
    const req = httpRequest(`${url}/byok/chat`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-user": "u1" },
    });
    req.on("error", () => undefined);
    req.end(JSON.stringify(body));
    await waitFor(() => f.fake.requests.some((r) => r.op === "chat"), "the upstream call");
    req.destroy();
  }

  it("aborts the upstream call when the client disconnects", async () => {
    await withKey();
    f.fake.enqueue({ hang: true });
    const server = await listen(f.app);
    try {
      await leaveOnceUpstream(server.url, { prompt: "Hi" });
      await waitFor(() => f.fake.requests.find((r) => r.op === "chat")!.aborted, "the upstream abort");
    } finally {
      await server.close();
    }
  });

  it("counts a chat the client left after the provider received it from its reservation, and keeps it in the budget", async () => {
    await f.close();
    f = await appFixture(kit, { byok: { budgets: { user: { tokensPerDay: 200 } } } }); // no 300 ms limit racing the abort
    await withKey();
    f.fake.enqueue({ hang: true });
    const server = await listen(f.app);
    try {
      await leaveOnceUpstream(server.url, { prompt: "Hi", maxTokens: 100 }); // reserves ceil(2 / 3) + 8 + 100 = 109 of 200
      await waitFor(async () => (await f.byok.usage({ userId: "u1" })).length === 1, "the usage row");
      expect(await f.byok.usage({ userId: "u1" })).toEqual([
        expect.objectContaining({ requests: 1, inputTokens: 9, outputTokens: 100, estimated: true }),
      ]);
      const refused = await chat({ prompt: "Hi", maxTokens: 100 });
      expect([refused.status, refused.body.error.code]).toEqual([429, "BUDGET_EXCEEDED"]);
      expect(f.fake.requests.filter((r) => r.op === "chat")).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it("does not call the provider at all when the client left while the key was being looked up", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let lookups = 0;
    let armed = false; // from the chat on: registering reads the list too
    class SlowListStore extends kit.lib.MemoryStore {
      override async list(userId: string) {
        if (!armed) return super.list(userId);
        lookups++;
        await gate;
        return super.list(userId);
      }
    }
    await f.close();
    const failures: string[] = [];
    f = await appFixture(kit, {
      store: new SlowListStore(),
      byok: { onEvent: (e) => void (e.type === "chat.failed" && failures.push(String(e.code))) },
    });
    await f.byok.registerKey({ userId: "u1", provider: "gemini", apiKey: CANARY_KEY, validate: false });
    armed = true;
    const server = await listen(f.app);
    let serverSawClose = false;
    server.server.on("request", (_req, res) => res.on("close", () => (serverSawClose = true)));
    try {
      const req = httpRequest(`${server.url}/byok/chat`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-user": "u1" },
      });
      req.on("error", () => undefined);
      req.end(JSON.stringify({ prompt: "Hi", provider: "gemini" }));
      await waitFor(() => lookups === 1, "the key lookup");
      req.destroy();
      await waitFor(() => serverSawClose, "the server to see the close");
      release();
      await waitFor(() => failures.length === 1, "the chat to settle"); // chat.failed: the call is over
      expect(failures).toEqual(["ABORTED"]);
      expect(f.fake.requests.filter((r) => r.op === "chat")).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it("never shows the key in a response or in console output, whatever fails", async () => {
    const { result, output } = await captureConsole(async () => {
      await withKey();
      f.fake.enqueue({ status: 500 }, { status: 429, retryAfter: 1 }, { garbage: true });
      const responses = [
        await chat({ prompt: "a" }),
        await chat({ prompt: "b" }),
        await chat({ prompt: "c" }),
        await chat({ prompt: "d" }),
      ];
      await f.byok.registerKey({ userId: "u1", provider: "gemini", apiKey: "bad-" + CANARY_KEY, validate: false });
      responses.push(await chat({ prompt: "e" }), await request(f.app).get("/byok/keys").set("x-user", "u1"));
      return responses.map((r) => JSON.stringify(r.headers) + r.text).join("\n");
    });
    expect(result).toContain("PROVIDER_ERROR");
    expect(result + output).not.toContain(CANARY_KEY);
  });
});
