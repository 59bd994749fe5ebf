import request from "supertest";
import type { KeyRecord, KeyStore } from "../../lib/extend";
import { CANARY_KEY } from "../helpers/canary";
import { type AppFixture, EXPRESS_VERSIONS, appFixture, loadKit } from "../helpers/router-harness";

/** A store whose every method fails the way an unreachable backend does. */
function brokenStore(): KeyStore {
  const fail = async (): Promise<never> => {
    throw new Error("ECONNREFUSED 10.0.0.1:6379");
  };
  return {
    get: fail,
    list: fail,
    put: fail,
    delete: fail,
    deleteUser: fail,
    touch: fail,
    compareAndSwap: fail,
    scan: async function* (): AsyncIterable<KeyRecord[]> {
      yield await fail();
    },
  };
}

describe.each(EXPRESS_VERSIONS)("key routes on %s", (version) => {
  const kit = loadKit(version);
  let f: AppFixture;
  beforeEach(async () => {
    f = await appFixture(kit);
  });
  afterEach(() => f.close());

  const register = (apiKey: string, user = "u1") =>
    request(f.app).post("/byok/keys").set("x-user", user).send({ provider: "gemini", apiKey });

  describe("POST /byok/keys", () => {
    it("answers 201 KeyInfo after the provider accepted the key, and stores it encrypted", async () => {
      const res = await register(CANARY_KEY);
      expect(res.status).toBe(201);
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
      expect(f.fake.requests[0]).toMatchObject({ op: "validate", apiKey: CANARY_KEY });
      const [record] = await f.snapshot();
      expect(record).toMatchObject({ userId: "u1", provider: "gemini" });
      expect(record!.ciphertext).not.toContain(CANARY_KEY);
    });

    it("answers 200 KeyInfo when it replaced the user's key", async () => {
      await register("AIza-first-key-0001");
      const res = await register("AIza-second-key-0002");
      expect(res.status).toBe(200);
      expect(res.body.hint).toBe("\u20260002");
    });

    it("keeps keys of several labels, lists them, and deletes one by label or all of a provider", async () => {
      const add = (label: string, apiKey: string, extra: object = {}) =>
        request(f.app)
          .post("/byok/keys")
          .set("x-user", "u1")
          .send({ provider: "gemini", apiKey, label, ...extra });
      expect((await add("work", "AIza-work-key-0001", { priority: 1, models: ["gemini-2.5-pro"] })).status).toBe(201);
      expect((await add("home", "AIza-home-key-0002")).status).toBe(201);
      expect((await add("home", "AIza-home-key-0003")).status).toBe(200);
      const listed = await request(f.app).get("/byok/keys").set("x-user", "u1");
      expect(listed.body.keys.map((k: { label: string; priority: number }) => [k.label, k.priority])).toEqual([
        ["home", 0],
        ["work", 1],
      ]);
      expect(listed.body.keys[1].models).toEqual(["gemini-2.5-pro"]);
      const bad = await add("no/slash", "AIza-bad-label-0004");
      expect([bad.status, bad.body.error.code, bad.body.error.details]).toEqual([
        400,
        "INVALID_REQUEST",
        { fields: ["label"] },
      ]);
      const differ = await request(f.app)
        .delete("/byok/keys?provider=gemini&label=home")
        .set("x-user", "u1")
        .send({ label: "work" });
      expect([differ.status, differ.body.error.details]).toEqual([400, { fields: ["label"] }]);
      expect((await request(f.app).delete("/byok/keys?provider=gemini&label=home").set("x-user", "u1")).status).toBe(
        204,
      );
      const one = await request(f.app).get("/byok/keys").set("x-user", "u1");
      expect(one.body.keys.map((k: { label: string }) => k.label)).toEqual(["work"]);
      await add("home", "AIza-home-key-0005");
      expect((await request(f.app).delete("/byok/keys?provider=gemini").set("x-user", "u1")).status).toBe(204);
      expect((await request(f.app).get("/byok/keys").set("x-user", "u1")).body.keys).toEqual([]);
    });

    it("answers 422 KEY_REJECTED when the provider refuses the key, storing nothing", async () => {
      const res = await register("bad-key-1234567");
      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe("KEY_REJECTED");
      expect(await f.snapshot()).toEqual([]);
    });

    it("answers 429 PROVIDER_RATE_LIMITED with the upstream Retry-After", async () => {
      f.fake.enqueue({ status: 429, retryAfter: 3 });
      const res = await register(CANARY_KEY);
      expect(res.status).toBe(429);
      expect(res.body.error.code).toBe("PROVIDER_RATE_LIMITED");
      expect(res.headers["retry-after"]).toBe("3");
    });

    it("answers 502 PROVIDER_ERROR when the provider fails", async () => {
      f.fake.enqueue({ status: 503 });
      const res = await register(CANARY_KEY);
      expect([res.status, res.body.error.code]).toEqual([502, "PROVIDER_ERROR"]);
    });

    it("answers 400 UNKNOWN_PROVIDER for a provider that is not configured", async () => {
      const res = await request(f.app)
        .post("/byok/keys")
        .set("x-user", "u1")
        .send({ provider: "nope", apiKey: CANARY_KEY });
      expect([res.status, res.body.error.code]).toEqual([400, "UNKNOWN_PROVIDER"]);
      expect(res.body.error.details).toEqual({ fields: ["provider"] });
    });

    it("answers 401 UNAUTHENTICATED with no-store when nobody is signed in", async () => {
      const res = await request(f.app).post("/byok/keys").send({ provider: "gemini", apiKey: CANARY_KEY });
      expect([res.status, res.body.error.code]).toEqual([401, "UNAUTHENTICATED"]);
      expect(res.headers["cache-control"]).toBe("no-store");
      expect(f.fake.requests).toHaveLength(0);
    });

    it("answers 413 PAYLOAD_TOO_LARGE for a body over the limit", async () => {
      const res = await request(f.app)
        .post("/byok/keys")
        .set("x-user", "u1")
        .send({ provider: "gemini", apiKey: CANARY_KEY, pad: "x".repeat(20_000) });
      expect([res.status, res.body.error.code]).toEqual([413, "PAYLOAD_TOO_LARGE"]);
    });
  });

  describe("GET /byok/keys", () => {
    it("answers 200 { keys } with hints only, sorted by provider", async () => {
      await register(CANARY_KEY);
      const res = await request(f.app).get("/byok/keys").set("x-user", "u1");
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ keys: [expect.objectContaining({ provider: "gemini", hint: "\u2026XYZW" })] });
      expect(JSON.stringify(res.body)).not.toContain("ciphertext");
    });

    it("answers 200 { keys: [] } for a user without keys, never another user's keys", async () => {
      await register(CANARY_KEY, "u1");
      const res = await request(f.app).get("/byok/keys").set("x-user", "u2");
      expect([res.status, res.body]).toEqual([200, { keys: [] }]);
    });

    it("answers 401 UNAUTHENTICATED without a user", async () => {
      const res = await request(f.app).get("/byok/keys");
      expect([res.status, res.body.error.code]).toEqual([401, "UNAUTHENTICATED"]);
    });
  });

  describe("DELETE /byok/keys", () => {
    it("answers 204 for { provider } in the body and removes the key", async () => {
      await register(CANARY_KEY);
      const res = await request(f.app).delete("/byok/keys").set("x-user", "u1").send({ provider: "gemini" });
      expect(res.status).toBe(204);
      expect(res.text).toBe("");
      expect(await f.snapshot()).toEqual([]);
    });

    it("answers 204 for ?provider= and for both when they agree", async () => {
      await register(CANARY_KEY);
      expect((await request(f.app).delete("/byok/keys?provider=gemini").set("x-user", "u1")).status).toBe(204);
      await register(CANARY_KEY);
      expect(
        (await request(f.app).delete("/byok/keys?provider=gemini").set("x-user", "u1").send({ provider: "gemini" }))
          .status,
      ).toBe(204);
    });

    it("answers 404 KEY_NOT_FOUND when the user had no key", async () => {
      const res = await request(f.app).delete("/byok/keys?provider=gemini").set("x-user", "u1");
      expect([res.status, res.body.error.code]).toEqual([404, "KEY_NOT_FOUND"]);
    });

    it("answers 400 INVALID_REQUEST when no provider is named", async () => {
      const res = await request(f.app).delete("/byok/keys").set("x-user", "u1");
      expect([res.status, res.body.error.code, res.body.error.details]).toEqual([
        400,
        "INVALID_REQUEST",
        { fields: ["provider"] },
      ]);
    });
  });

  describe("byok responses", () => {
    it("carry Cache-Control: no-store and helmet's headers on success and on errors", async () => {
      for (const res of [
        await register(CANARY_KEY),
        await request(f.app).get("/byok/keys"),
        await request(f.app).delete("/byok/keys?provider=gemini").set("x-user", "u9"),
      ]) {
        expect(res.headers["cache-control"]).toBe("no-store");
        expect(res.headers["x-content-type-options"]).toBe("nosniff");
      }
    });

    it("never contain the key, in bodies or headers", async () => {
      const responses = [
        await register(CANARY_KEY),
        await register(CANARY_KEY),
        await request(f.app).get("/byok/keys").set("x-user", "u1"),
      ];
      for (const res of responses) expect(JSON.stringify(res.headers) + res.text).not.toContain(CANARY_KEY);
    });
  });
});

describe.each(EXPRESS_VERSIONS)("key routes with a failing store on %s", (version) => {
  const kit = loadKit(version);
  let f: AppFixture;
  beforeEach(async () => {
    f = await appFixture(kit, { store: brokenStore() });
  });
  afterEach(() => f.close());

  it.each([
    [
      "POST",
      () => request(f.app).post("/byok/keys").set("x-user", "u1").send({ provider: "gemini", apiKey: CANARY_KEY }),
    ],
    ["GET", () => request(f.app).get("/byok/keys").set("x-user", "u1")],
    ["DELETE", () => request(f.app).delete("/byok/keys?provider=gemini").set("x-user", "u1")],
  ])("%s answers 503 STORE_UNAVAILABLE without internals", async (_method, send) => {
    const res = await send();
    expect([res.status, res.body.error.code]).toEqual([503, "STORE_UNAVAILABLE"]);
    expect(res.text).not.toMatch(/ECONNREFUSED|10\.0\.0\.1|CANARY/);
  });
});
