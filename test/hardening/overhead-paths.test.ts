// helmet's headers on the byok routes (its defaults without Strict-Transport-Security), and lastUsedAt written at most once a minute.
import express from "express";
import helmet, { type HelmetOptions } from "helmet";
import request from "supertest";
import { BYOK, byokRouter, MemoryStore } from "../../lib";
import { needsTouch, TOUCH_INTERVAL_MS } from "../../lib/core/key-choice";
import { startFakeGemini, type FakeUpstream } from "../../lib/testing";
import { TEST_MASTER_KEY } from "../helpers/canary";

const KEY = "AIza-overhead-key-0000";

describe("byokRouter helmet headers", () => {
  const pick = (h: Record<string, unknown>) =>
    Object.fromEntries(
      Object.entries(h).filter(
        ([k]) =>
          !["date", "content-length", "content-type", "etag", "cache-control", "connection", "keep-alive"].includes(k),
      ),
    );

  it.each([
    ["default options", true, { strictTransportSecurity: false }],
    [
      "custom options",
      { frameguard: { action: "sameorigin" as const } },
      { frameguard: { action: "sameorigin" as const }, strictTransportSecurity: false },
    ],
    ["options that set HSTS", { strictTransportSecurity: { maxAge: 60 } }, { strictTransportSecurity: { maxAge: 60 } }],
    ["the legacy hsts alias", { hsts: { maxAge: 60 } }, { hsts: { maxAge: 60 } }],
  ] as [string, true | HelmetOptions, HelmetOptions][])(
    "sets the headers helmet sets, with %s",
    async (_name, ours, theirs) => {
      const byok = new BYOK({ masterKey: TEST_MASTER_KEY });
      const withByok = express().use(byokRouter({ byok, helmet: ours, getUserId: () => undefined }));
      const withHelmet = express().get("/byok/keys", helmet(theirs), (_req, res) => void res.status(401).end());
      const a = await request(withByok).get("/byok/keys");
      const b = await request(withHelmet).get("/byok/keys");
      expect(pick(a.headers)).toEqual(pick(b.headers));
      expect(a.headers["x-powered-by"]).toBeUndefined();
    },
  );

  it("leaves out Strict-Transport-Security by default and sets no helmet header with helmet: false", async () => {
    const byok = new BYOK({ masterKey: TEST_MASTER_KEY });
    const defaults = await request(express().use(byokRouter({ byok, getUserId: () => undefined }))).get("/byok/keys");
    expect(defaults.headers["strict-transport-security"]).toBeUndefined();
    expect(defaults.headers["x-content-type-options"]).toBe("nosniff");
    const off = await request(express().use(byokRouter({ byok, helmet: false, getUserId: () => undefined }))).get(
      "/byok/keys",
    );
    expect(off.headers["x-content-type-options"]).toBeUndefined();
    expect(off.headers["content-security-policy"]).toBeUndefined();
    expect(off.headers["cache-control"]).toBe("no-store");
  });

  it("runs helmet on each request, so options holding a function (e.g. a CSP nonce) work", async () => {
    const byok = new BYOK({ masterKey: TEST_MASTER_KEY });
    let calls = 0;
    const csp = { contentSecurityPolicy: { directives: { scriptSrc: ["'self'", () => `'nonce-${++calls}'`] } } };
    const app = express().use(byokRouter({ byok, helmet: csp, getUserId: () => undefined }));
    const first = await request(app).get("/byok/keys");
    const second = await request(app).get("/byok/keys");
    expect(first.headers["content-security-policy"]).toContain("'nonce-1'");
    expect(second.headers["content-security-policy"]).toContain("'nonce-2'");
  });
});

describe("lastUsedAt", () => {
  let fake: FakeUpstream;
  beforeAll(async () => void (fake = await startFakeGemini()));
  afterAll(() => fake.close());

  it("is written on first use and then at most once a minute per key", async () => {
    const store = new MemoryStore();
    const touch = jest.spyOn(store, "touch");
    const byok = new BYOK({ masterKey: TEST_MASTER_KEY, store, providers: { gemini: { baseUrl: fake.url } } });
    await byok.registerKey({ userId: "u1", provider: "gemini", apiKey: KEY });
    for (let i = 0; i < 5; i++) await byok.use("u1").chat({ prompt: "hi" });
    expect(touch).toHaveBeenCalledTimes(1);
    expect((await byok.listKeys("u1"))[0]!.lastUsedAt).toEqual(expect.any(String));
    const old = new Date(Date.now() - TOUCH_INTERVAL_MS - 1000).toISOString();
    await store.touch("u1", "gemini", old);
    touch.mockClear();
    await byok.use("u1").chat({ prompt: "hi" });
    expect(touch).toHaveBeenCalledTimes(1);
    expect((await byok.listKeys("u1"))[0]!.lastUsedAt).not.toBe(old);
  });

  it.each([
    [undefined, true],
    ["not a date", true],
    [new Date(Date.now() - TOUCH_INTERVAL_MS).toISOString(), true],
    [new Date(Date.now() - 1000).toISOString(), false],
  ])("needsTouch(%s) is %s", (lastUsedAt, expected) => {
    expect(needsTouch(lastUsedAt, Date.now())).toBe(expected);
  });
});
