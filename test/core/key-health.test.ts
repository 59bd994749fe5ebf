// Key health learned from every call: each provider's documented refusals through chat, stream, models, checkKey
// and connection(), one key.status_changed per change, on every store.
import { createOpenAI } from "@ai-sdk/openai";
import { generateText } from "ai";
import {
  BYOK,
  type ByokEvent,
  type KeyInfo,
  type KeyStatusChangedEvent,
  MemoryStore,
  PostgresStore,
  RedisStore,
} from "../../lib";
import type { KeyStore } from "../../lib/extend";
import { type FakeProviders, type FakeReply, startFakeProviders } from "../../lib/testing";
import { TEST_MASTER_KEY } from "../helpers/canary";
import { DATABASE_URL, REDIS_URL, uniqueName } from "../helpers/services";
import { waitFor } from "../helpers/wait-for";

const IDS = ["openai", "anthropic", "gemini", "openrouter", "azure-openai"] as const;
type Id = (typeof IDS)[number];
const KEYS: Record<Id, string> = {
  openai: "sk-health-openai-key-0001",
  anthropic: "sk-ant-health-anthropic-0001",
  gemini: "AIza-health-gemini-key-0001",
  openrouter: "sk-or-v1-health-openrouter-0001",
  "azure-openai": "azure-health-key-0000000000000001",
};
/** The code each provider's quota refusal surfaces as: its HTTP mapping (OpenAI and Gemini answer 429, the others 400/402). */
const QUOTA_CODE: Record<Id, string> = {
  openai: "PROVIDER_RATE_LIMITED",
  anthropic: "PROVIDER_BAD_REQUEST",
  gemini: "PROVIDER_RATE_LIMITED",
  openrouter: "PROVIDER_BAD_REQUEST",
  "azure-openai": "PROVIDER_RATE_LIMITED",
};

let fakes: FakeProviders;
beforeAll(async () => {
  fakes = await startFakeProviders();
});
afterAll(() => fakes.close());
beforeEach(() => IDS.forEach((id) => fakes[id].reset()));

/** A BYOK on `store` with `id`'s key registered for `owner` (unvalidated: no upstream call), and its events. */
async function setup(id: Id, store: KeyStore = new MemoryStore(), owner: { userId: string } | { teamId: string }) {
  const events: ByokEvent[] = [];
  const byok = new BYOK({
    masterKey: TEST_MASTER_KEY,
    store,
    providers: fakes.providers,
    onEvent: (e) => events.push(e),
  });
  await byok.registerKey({
    ...owner,
    provider: id,
    apiKey: KEYS[id],
    validate: false,
    ...(id === "azure-openai" ? { endpoint: fakes[id].url } : {}),
  });
  const changes = () => events.filter((e): e is KeyStatusChangedEvent => e.type === "key.status_changed");
  return { byok, events, changes };
}

/** Reads a stream to its end (Node 20 has no Array.fromAsync). */
async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of stream);
}

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => "ok",
    (e: { code?: string }) => e.code ?? e,
  );

/** The one key `ai` lists, once its status is `status` (writes are not awaited by the call). */
async function keyWith(ai: { keys(): Promise<KeyInfo[]> }, status: KeyInfo["status"]): Promise<KeyInfo> {
  let key: KeyInfo | undefined;
  await waitFor(async () => ((key = (await ai.keys())[0]), key?.status === status), `status ${status}`);
  return key!;
}

describe.each(IDS)("key health through AiClient.chat: %s", (id) => {
  const refuse = (...replies: FakeReply[]) => fakes[id].enqueue(...replies);

  it("a quota refusal sets quota_exhausted with one key.status_changed; a repeat emits none; a success sets ok", async () => {
    const { byok, changes } = await setup(id, undefined, { userId: "u1" });
    const ai = byok.use("u1");
    refuse({ refuse: "quota" });
    expect(await codeOf(ai.chat({ provider: id, prompt: "hi" }))).toBe(QUOTA_CODE[id]);
    const key = await keyWith(ai, "quota_exhausted");
    expect(key.statusUntil).toBeUndefined();
    expect(changes()).toEqual([
      expect.objectContaining({
        userId: "u1",
        provider: id,
        hint: key.hint,
        status: "quota_exhausted",
        previousStatus: "ok",
      }),
    ]);
    expect(changes()[0]).not.toHaveProperty("statusUntil");
    refuse({ refuse: "quota" });
    expect(await codeOf(ai.chat({ provider: id, prompt: "hi" }))).toBe(QUOTA_CODE[id]);
    expect(changes()).toHaveLength(1);
    expect(await codeOf(ai.chat({ provider: id, prompt: "hi" }))).toBe("ok");
    await keyWith(ai, "ok");
    expect(changes().map((e) => [e.previousStatus, e.status])).toEqual([
      ["ok", "quota_exhausted"],
      ["quota_exhausted", "ok"],
    ]);
  });

  it("a rate limit sets rate_limited until the provider's retry hint; a refused key then sets invalid", async () => {
    const { byok, changes } = await setup(id, undefined, { userId: "u1" });
    const ai = byok.use("u1");
    refuse({ refuse: "rate_limit", retryAfter: 120 });
    const before = Date.now();
    const error = await ai.chat({ provider: id, prompt: "hi" }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "PROVIDER_RATE_LIMITED", retryAfter: 120 });
    const key = await keyWith(ai, "rate_limited");
    const until = Date.parse(key.statusUntil!);
    expect(until).toBeGreaterThanOrEqual(before + 120_000);
    expect(until).toBeLessThanOrEqual(Date.now() + 120_000);
    expect(changes()).toEqual([
      expect.objectContaining({ status: "rate_limited", previousStatus: "ok", statusUntil: key.statusUntil }),
    ]);
    refuse({ refuse: "rate_limit", retryAfter: 120 });
    await codeOf(ai.chat({ provider: id, prompt: "hi" }));
    expect(changes()).toHaveLength(1);
    refuse({ refuse: "invalid" });
    expect(await codeOf(ai.chat({ provider: id, prompt: "hi" }))).toBe("KEY_REJECTED");
    expect((await keyWith(ai, "invalid")).statusUntil).toBeUndefined();
    expect(changes().map((e) => [e.previousStatus, e.status])).toEqual([
      ["ok", "rate_limited"],
      ["rate_limited", "invalid"],
    ]);
  });

  it("a rate limit whose statusUntil passed, then a success, sets ok with one key.status_changed", async () => {
    const store = new MemoryStore();
    const { byok, changes } = await setup(id, store, { userId: "u1" });
    const record = (await store.get("u1", id))!;
    const passed = new Date(Date.now() - 1_000).toISOString();
    await store.setStatus("u1", id, record.ciphertext, "rate_limited", passed);
    const ai = byok.use("u1");
    expect(await codeOf(ai.chat({ provider: id, prompt: "hi" }))).toBe("ok");
    await waitFor(async () => (await store.get("u1", id))?.status !== "rate_limited", "the stored status ok");
    expect(changes()).toEqual([expect.objectContaining({ status: "ok", previousStatus: "rate_limited" })]);
    expect(changes()[0]).not.toHaveProperty("statusUntil");
    expect(await codeOf(ai.chat({ provider: id, prompt: "hi" }))).toBe("ok");
    expect(changes()).toHaveLength(1);
  });

  it("a stream and a model listing learn the same way; a server error changes nothing", async () => {
    const { byok, changes } = await setup(id, undefined, { userId: "u1" });
    const ai = byok.use("u1");
    refuse({ refuse: "invalid" });
    const stream = ai.stream({ provider: id, prompt: "hi" });
    expect(await codeOf(drain(stream))).toBe("KEY_REJECTED");
    await keyWith(ai, "invalid");
    refuse({ status: 500 });
    expect(await codeOf(ai.chat({ provider: id, prompt: "hi" }))).toBe("PROVIDER_ERROR");
    expect(changes()).toHaveLength(1);
    await drain(ai.stream({ provider: id, prompt: "hi" }));
    await keyWith(ai, "ok");
    if (id === "azure-openai") return; // Azure lists no models: nothing goes upstream to refuse
    refuse({ refuse: "quota" });
    expect(await codeOf(ai.models(id))).toBe(QUOTA_CODE[id]);
    await keyWith(ai, "quota_exhausted");
    await ai.models(id);
    await keyWith(ai, "ok");
    expect(changes().map((e) => e.status)).toEqual(["invalid", "ok", "quota_exhausted", "ok"]);
  });

  it("checkKey answers and stores quota_exhausted or invalid, then ok, each change with its event", async () => {
    const { byok, events, changes } = await setup(id, undefined, { userId: "u1" });
    const ai = byok.use("u1");
    refuse({ refuse: "quota" });
    expect((await ai.checkKey(id)).status).toBe("quota_exhausted");
    expect((await ai.keys())[0]!.status).toBe("quota_exhausted");
    refuse({ refuse: "invalid" });
    expect((await ai.checkKey(id)).status).toBe("invalid");
    expect((await ai.checkKey(id)).status).toBe("ok");
    expect((await ai.keys())[0]!.status).toBe("ok");
    // A rate-limited check cannot tell: it throws, and records the rate limit as any call does.
    refuse({ refuse: "rate_limit", retryAfter: 20 });
    expect(await codeOf(ai.checkKey(id))).toBe("PROVIDER_RATE_LIMITED");
    await keyWith(ai, "rate_limited");
    expect(changes().map((e) => [e.previousStatus, e.status])).toEqual([
      ["ok", "quota_exhausted"],
      ["quota_exhausted", "invalid"],
      ["invalid", "ok"],
      ["ok", "rate_limited"],
    ]);
    expect(events.filter((e) => e.type === "key.checked").map((e) => e.type === "key.checked" && e.status)).toEqual([
      "quota_exhausted",
      "invalid",
      "ok",
    ]);
  });
});

describe("key health through ai.connection()", () => {
  it("learns each refusal from the Vercel AI SDK's requests (OpenAI), and ok from a success", async () => {
    const { byok, changes } = await setup("openai", undefined, { userId: "u1" });
    const ai = byok.use("u1");
    const generate = async () =>
      codeOf(
        generateText({
          model: createOpenAI(await ai.connection("openai"))("gpt-4o-mini"),
          prompt: "hi",
          maxRetries: 0,
        }),
      );
    fakes.openai.enqueue({ refuse: "invalid" });
    await generate();
    await keyWith(ai, "invalid"); // today's bug: a 401 through connection() left the key ok
    fakes.openai.enqueue({ refuse: "quota" });
    await generate();
    await keyWith(ai, "quota_exhausted");
    fakes.openai.enqueue({ refuse: "rate_limit", retryAfter: 45 });
    await generate();
    const limited = await keyWith(ai, "rate_limited");
    expect(Date.parse(limited.statusUntil!) - Date.now()).toBeGreaterThan(30_000);
    expect(await generate()).toBe("ok");
    await keyWith(ai, "ok");
    expect(changes().map((e) => e.status)).toEqual(["invalid", "quota_exhausted", "rate_limited", "ok"]);
  });

  it("reads Anthropic's credit-balance 400 and Gemini's RetryInfo from a body the app still reads whole", async () => {
    const anthropic = await setup("anthropic", undefined, { userId: "u1" });
    const a = anthropic.byok.use("u1");
    const conn = await a.connection("anthropic");
    fakes.anthropic.enqueue({ refuse: "quota" });
    const res = await conn.fetch(`${conn.baseURL}/messages`, {
      method: "POST",
      body: JSON.stringify({ model: "m", messages: [] }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain("credit balance");
    await keyWith(a, "quota_exhausted");

    const gemini = await setup("gemini", undefined, { userId: "u1" });
    const g = gemini.byok.use("u1");
    const gconn = await g.connection("gemini");
    fakes.gemini.enqueue({ refuse: "rate_limit", retryAfter: 90 });
    const before = Date.now();
    const gres = await gconn.fetch(`${gconn.baseURL}/models/gemini-2.5-flash:generateContent`, {
      method: "POST",
      body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "hi" }] }] }),
    });
    expect([gres.status, gres.headers.get("retry-after")]).toEqual([429, null]);
    const key = await keyWith(g, "rate_limited");
    expect(Date.parse(key.statusUntil!)).toBeGreaterThanOrEqual(before + 90_000);
    fakes.gemini.enqueue({ refuse: "quota" });
    await gconn.fetch(`${gconn.baseURL}/models/gemini-2.5-flash:generateContent`, { method: "POST", body: "{}" });
    await keyWith(g, "quota_exhausted");
    expect(gemini.changes().map((e) => e.status)).toEqual(["rate_limited", "quota_exhausted"]);
  });
});

describe("key health from other documented refusals", () => {
  it.each([
    ["Anthropic's 402 billing_error", "anthropic", { status: 402, errorType: "billing_error" }, "quota_exhausted"],
    ["a per-minute Gemini 429", "gemini", { refuse: "rate_limit" }, "rate_limited"],
    ["a plain OpenAI 429", "openai", { status: 429 }, "rate_limited"],
    ["an Anthropic 400 about the request", "anthropic", { status: 400, message: "max_tokens: too large" }, "ok"],
  ] as const)("%s (%s, %j) sets %s", async (_name, id, reply, status) => {
    const { byok, changes } = await setup(id, undefined, { userId: "u1" });
    const ai = byok.use("u1");
    fakes[id].enqueue(reply);
    expect(await codeOf(ai.chat({ prompt: "hi" }))).not.toBe("ok");
    await keyWith(ai, status);
    expect(changes().map((e) => e.status)).toEqual(status === "ok" ? [] : [status]);
  });
});

describe("key health of team keys and expired rate limits", () => {
  it("a team key's key.status_changed names the team and the member who called", async () => {
    const { byok, changes } = await setup("gemini", undefined, { teamId: "acme" });
    const ai = byok.use("member", { teamId: "acme" });
    fakes.gemini.enqueue({ refuse: "quota" });
    await codeOf(ai.chat({ prompt: "hi" }));
    await keyWith(ai, "quota_exhausted");
    expect(changes()).toEqual([
      expect.objectContaining({ userId: "member", teamId: "acme", provider: "gemini", status: "quota_exhausted" }),
    ]);
    expect((await byok.listKeys({ teamId: "acme" }))[0]!.status).toBe("quota_exhausted");
  });

  it("lists a rate limit whose time has passed as ok, and a new 429 as a new change", async () => {
    const store = new MemoryStore();
    const { byok, changes } = await setup("openai", store, { userId: "u1" });
    const record = (await store.get("u1", "openai"))!;
    await store.setStatus(
      record.userId,
      "openai",
      record.ciphertext,
      "rate_limited",
      new Date(Date.now() - 1000).toISOString(),
    );
    const ai = byok.use("u1");
    expect(await ai.keys()).toEqual([expect.objectContaining({ status: "ok" })]);
    expect((await ai.keys())[0]).not.toHaveProperty("statusUntil");
    fakes.openai.enqueue({ refuse: "rate_limit" }); // no retry hint: a minute
    await codeOf(ai.chat({ prompt: "hi" }));
    const key = await keyWith(ai, "rate_limited");
    expect(Date.parse(key.statusUntil!) - Date.now()).toBeGreaterThan(50_000);
    expect(changes().map((e) => [e.previousStatus, e.status])).toEqual([["ok", "rate_limited"]]);
  });
});

describe.each([
  ["RedisStore", () => new RedisStore({ url: REDIS_URL, prefix: `${uniqueName("health")}:` })],
  [
    "PostgresStore",
    async () => {
      const store = new PostgresStore({ connectionString: DATABASE_URL, table: uniqueName("health") });
      await store.migrate();
      return store;
    },
  ],
] as const)("key health on %s", (_name, create) => {
  it("stores each status a call learns, with statusUntil, and clears it on success", async () => {
    const store = await create();
    try {
      const { byok, changes } = await setup("anthropic", store, { userId: "u1" });
      const ai = byok.use("u1");
      fakes.anthropic.enqueue({ refuse: "rate_limit", retryAfter: 30 }, { refuse: "quota" });
      await codeOf(ai.chat({ prompt: "hi" }));
      const limited = await keyWith(ai, "rate_limited");
      expect((await store.get("u1", "anthropic"))!.statusUntil).toBe(limited.statusUntil);
      await codeOf(ai.chat({ prompt: "hi" }));
      await keyWith(ai, "quota_exhausted");
      expect(await store.get("u1", "anthropic")).not.toHaveProperty("statusUntil");
      await ai.chat({ prompt: "hi" });
      await keyWith(ai, "ok");
      expect(await store.get("u1", "anthropic")).not.toHaveProperty("status");
      expect(changes().map((e) => e.status)).toEqual(["rate_limited", "quota_exhausted", "ok"]);
    } finally {
      await store.deleteUser("u1");
      await store.close?.();
    }
  });
});
