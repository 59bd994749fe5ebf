// The shortcuts taken for speed keep their promises: helmet's exact headers, lastUsedAt at most once a minute, the fast body check no looser than the chains.
import express from "express";
import helmet, { type HelmetOptions } from "helmet";
import request from "supertest";
import { BYOK, byokRouter, MemoryStore } from "../../lib";
import { isValidChatBody } from "../../lib/router/validation";
import { needsTouch, TOUCH_INTERVAL_MS } from "../../lib/core/ai-client";
import { startFakeGemini, type FakeUpstream } from "../../lib/testing";
import { TEST_MASTER_KEY } from "../helpers/canary";

const KEY = "AIza-overhead-key-0000";

describe("byokRouter helmet headers", () => {
  it.each([
    ["default options", {}],
    ["custom options", { frameguard: { action: "sameorigin" as const }, hsts: false }],
  ] as [string, HelmetOptions][])("sets exactly the headers helmet sets, with %s", async (_name, options) => {
    const byok = new BYOK({ masterKey: TEST_MASTER_KEY });
    const ours = express().use(byokRouter({ byok, helmet: options, getUserId: () => undefined }));
    const theirs = express().get("/byok/keys", helmet(options), (_req, res) => void res.status(401).end());
    const a = await request(ours).get("/byok/keys");
    const b = await request(theirs).get("/byok/keys");
    const pick = (h: Record<string, unknown>) =>
      Object.fromEntries(
        Object.entries(h).filter(
          ([k]) =>
            !["date", "content-length", "content-type", "etag", "cache-control", "connection", "keep-alive"].includes(
              k,
            ),
        ),
      );
    expect(pick(a.headers)).toEqual(pick(b.headers));
    expect(a.headers["x-powered-by"]).toBeUndefined();
  });

  it("runs helmet itself when its options hold a function (e.g. a CSP nonce)", async () => {
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

describe("isValidChatBody", () => {
  it.each([
    [{ prompt: "hi" }, true],
    [
      {
        messages: [{ role: "user", content: "hi" }],
        provider: "gemini",
        model: "m-1",
        temperature: 0.5,
        maxTokens: 10,
        stream: true,
        system: "s",
      },
      true,
    ],
    [{ prompt: "" }, false],
    [{ prompt: "a", extra: 1 }, false],
    [{ messages: [] }, false],
    [{ messages: [{ role: "user", content: "a", name: "x" }] }, false],
    [{ messages: [{ role: "admin", content: "a" }] }, false],
    [JSON.parse('{"messages":[{"role":"user","__proto__":{"content":"a"}}]}'), false],
    [JSON.parse('{"__proto__":{"x":1},"prompt":"a"}'), false],
    [{ prompt: "a", temperature: 3 }, false],
    [{ prompt: "a", maxTokens: 1.5 }, false],
    [{ prompt: "a", model: "../x" }, false],
    [{ prompt: "a", stream: "yes" }, false],
    [Object.assign(Object.create({ prompt: "inherited" }), {}), false],
  ])("accepts only bodies the validation chains accept (%#)", (body, expected) => {
    expect(isValidChatBody(body)).toBe(expected);
  });
});
