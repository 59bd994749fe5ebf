import request from "supertest";
import type { ByokEvent } from "../../lib";
import { CANARY_KEY } from "../helpers/canary";
import { type AppFixture, EXPRESS_VERSIONS, appFixture, loadKit } from "../helpers/router-harness";
import { waitFor } from "../helpers/wait-for";

// Status writes after a chat are not awaited by the request: the tests poll for them with waitFor.

describe.each(EXPRESS_VERSIONS)("key status on %s", (version) => {
  const kit = loadKit(version);
  let f: AppFixture;
  let events: ByokEvent[];
  beforeEach(async () => {
    events = [];
    f = await appFixture(kit, { byok: { onEvent: (e) => void events.push(e) } });
    const res = await request(f.app)
      .post("/byok/keys")
      .set("x-user", "u1")
      .send({ provider: "gemini", apiKey: CANARY_KEY });
    expect(res.status).toBe(201);
    f.fake.reset();
  });
  afterEach(() => f.close());

  const listed = async (user = "u1") =>
    (await request(f.app).get("/byok/keys").set("x-user", user)).body.keys as { provider: string; status: string }[];
  const statusIs = (status: string) => async () => (await listed())[0]?.status === status;
  const chat = (body: object = { prompt: "x" }) => request(f.app).post("/byok/chat").set("x-user", "u1").send(body);
  const check = (body: unknown, user = "u1") =>
    request(f.app)
      .post("/byok/keys/check")
      .set("x-user", user)
      .send(body as object);

  describe("GET /byok/keys", () => {
    it("shows a new key as ok", async () => {
      expect(await listed()).toEqual([expect.objectContaining({ provider: "gemini", status: "ok" })]);
    });

    it("shows a key as invalid once the provider refused it on a chat, and ok again once a chat worked", async () => {
      f.fake.enqueue({ status: 401 });
      const refused = await chat();
      expect([refused.status, refused.body.error.code]).toEqual([422, "KEY_REJECTED"]);
      await waitFor(statusIs("invalid"), "status invalid");
      expect((await chat()).status).toBe(200);
      await waitFor(statusIs("ok"), "status ok");
    });

    it("shows a key as invalid once the provider refused it on a stream", async () => {
      f.fake.enqueue({ status: 403 });
      const res = await chat({ prompt: "x", stream: true });
      expect(res.text).toContain("KEY_REJECTED");
      await waitFor(statusIs("invalid"), "status invalid");
    });

    it("shows a key as unreadable when it does not decrypt", async () => {
      const [record] = await f.snapshot();
      await f.store.compareAndSwap("u1", "gemini", record!.ciphertext, `${record!.ciphertext}A`);
      expect(await listed()).toEqual([expect.objectContaining({ provider: "gemini", status: "unreadable" })]);
    });

    it("shows a replacement key as ok", async () => {
      f.fake.enqueue({ status: 401 });
      await chat();
      await waitFor(statusIs("invalid"), "status invalid");
      const res = await request(f.app)
        .post("/byok/keys")
        .set("x-user", "u1")
        .send({ provider: "gemini", apiKey: "AIza-replacement-0001" });
      expect([res.status, res.body.status]).toEqual([200, "ok"]);
      expect(await listed()).toEqual([expect.objectContaining({ status: "ok", hint: "\u20260001" })]);
    });
  });

  describe("POST /byok/keys/check", () => {
    it("answers 200 KeyInfo with status ok after the provider accepted the stored key", async () => {
      const res = await check({ provider: "gemini" });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        provider: "gemini",
        owner: "user",
        label: "default",
        priority: 0,
        hint: "\u2026XYZW",
        status: "ok",
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      });
      expect(res.headers["cache-control"]).toBe("no-store");
      expect(f.fake.requests.map((r) => [r.op, r.apiKey])).toEqual([["validate", CANARY_KEY]]);
      expect(events.at(-1)).toMatchObject({
        type: "key.checked",
        userId: "u1",
        provider: "gemini",
        hint: "\u2026XYZW",
      });
    });

    it("answers status invalid when the provider refuses the key, stores it, and ok again once it accepts it", async () => {
      f.fake.enqueue({ status: 401 });
      const res = await check({ provider: "gemini" });
      expect([res.status, res.body.status]).toEqual([200, "invalid"]);
      expect(await listed()).toEqual([expect.objectContaining({ status: "invalid" })]);
      expect(events.at(-1)).toMatchObject({ type: "key.checked", status: "invalid" });
      expect((await check({ provider: "gemini" })).body.status).toBe("ok");
      expect(await listed()).toEqual([expect.objectContaining({ status: "ok" })]);
    });

    it("answers status unreadable for a key that does not decrypt, without calling the provider", async () => {
      const [record] = await f.snapshot();
      await f.store.compareAndSwap("u1", "gemini", record!.ciphertext, "v1.tampered");
      const res = await check({ provider: "gemini" });
      expect([res.status, res.body.status]).toEqual([200, "unreadable"]);
      expect(f.fake.requests).toEqual([]);
    });

    it("answers 502 PROVIDER_ERROR when the provider fails, leaving the status as it was", async () => {
      f.fake.enqueue({ status: 503 });
      const res = await check({ provider: "gemini" });
      expect([res.status, res.body.error.code]).toEqual([502, "PROVIDER_ERROR"]);
      expect(await listed()).toEqual([expect.objectContaining({ status: "ok" })]);
    });

    it("answers 404 KEY_NOT_FOUND when the user has no key for the provider", async () => {
      const res = await check({ provider: "gemini" }, "nobody");
      expect([res.status, res.body.error.code]).toEqual([404, "KEY_NOT_FOUND"]);
    });

    it.each([
      ["no body", undefined],
      ["no provider", {}],
      ["a provider that is not an id", { provider: "Not An Id" }],
      ["a provider that is not a string", { provider: 7 }],
      ["an unknown field", { provider: "gemini", apiKey: CANARY_KEY }],
    ])("answers 400 INVALID_REQUEST for %s, naming the field", async (_what, body) => {
      const res = await check(body);
      expect([res.status, res.body.error.code]).toEqual([400, "INVALID_REQUEST"]);
      expect(res.body.error.details.fields.length).toBeGreaterThan(0);
      expect(res.text).not.toContain(CANARY_KEY);
      expect(f.fake.requests).toEqual([]);
    });

    it("answers 400 UNKNOWN_PROVIDER for a provider that is not configured", async () => {
      const res = await check({ provider: "mistral" });
      expect([res.status, res.body.error.code]).toEqual([400, "UNKNOWN_PROVIDER"]);
    });

    it("answers 401 UNAUTHENTICATED without a user", async () => {
      const res = await request(f.app).post("/byok/keys/check").send({ provider: "gemini" });
      expect([res.status, res.body.error.code]).toEqual([401, "UNAUTHENTICATED"]);
    });
  });

  describe("req.ai.checkKey", () => {
    it("re-validates the key from the app's own route", async () => {
      f.app.post("/app/check", (req, res, next) => {
        req.ai.checkKey("gemini").then((info) => res.json(info), next);
      });
      // The app's error handler is already mounted; a route added later still answers before it for this path.
      const res = await request(f.app).post("/app/check").set("x-user", "u1");
      expect([res.status, res.body.status]).toEqual([200, "ok"]);
      expect(f.fake.requests.map((r) => r.op)).toEqual(["validate"]);
    });
  });
});
