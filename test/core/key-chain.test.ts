// Several keys per provider through the public API, on every store: chain order, skips, failover, shared cooldowns.
import { BYOK, ByokError, type Budgets, type ByokEvent, MemoryStore } from "../../lib";
import type { KeyStore } from "../../lib/extend";
import { type FakeProviders, startFakeProviders } from "../../lib/testing";
import { TEST_MASTER_KEY } from "../helpers/canary";
import { uniqueName } from "../helpers/services";
import { storeKinds } from "../helpers/store-kinds";
import { waitFor } from "../helpers/wait-for";

const FIRST = "sk-chain-first-0001";
const SECOND = "sk-chain-second-002";
const THIRD = "sk-chain-third-0003";
const TEAM = "sk-chain-team-00004";

let fakes: FakeProviders<"openai">;
beforeAll(async () => (fakes = await startFakeProviders({ only: ["openai"] })));
afterAll(() => fakes.close());
beforeEach(() => fakes.openai.reset());

/** The keys the fake OpenAI saw for chats and streams, in order (validation calls left out). */
const keysSent = () => fakes.openai.requests.filter((r) => r.op !== "validate").map((r) => r.apiKey);

describe.each(storeKinds())("the key chain on $name", ({ make }) => {
  let stores: KeyStore[] = [];
  let name = "";
  beforeEach(() => (name = uniqueName("chain")));
  const open = async (): Promise<KeyStore> => {
    const store = await make(name);
    stores.push(store);
    return store;
  };
  let made: BYOK[] = [];
  afterEach(async () => {
    await Promise.all(made.map((b) => b.close()));
    await Promise.all(stores.map((s) => s.close?.()));
    [stores, made] = [[], []];
  });
  const byokOn = (
    store: KeyStore,
    options: { events?: ByokEvent[]; budgets?: Budgets; failover?: { maxAttempts: number } } = {},
  ) => {
    const byok = new BYOK({
      masterKey: TEST_MASTER_KEY,
      store,
      providers: fakes.providers,
      defaultProvider: "openai",
      onEvent: (e) => options.events?.push(e),
      ...(options.budgets ? { budgets: options.budgets } : {}),
      ...(options.failover ? { failover: options.failover } : {}),
    });
    made.push(byok);
    return byok;
  };
  /** Three keys of u1 (labels b, a, c with priorities 0, 0, 5) and one of team t1. */
  const threeKeys = async (byok: BYOK) => {
    const base = { userId: "u1", provider: "openai", validate: false } as const;
    await byok.registerKey({ ...base, apiKey: SECOND, label: "b" });
    await byok.registerKey({ ...base, apiKey: FIRST, label: "a" });
    await byok.registerKey({ ...base, apiKey: THIRD, label: "c", priority: 5 });
    await byok.registerKey({ teamId: "t1", provider: "openai", apiKey: TEAM, validate: false });
  };

  it("keeps several keys per provider, lists them in chain order, and deletes one label or all", async () => {
    const byok = byokOn(await open());
    await threeKeys(byok);
    expect((await byok.listKeys("u1")).map((k) => [k.label, k.priority, k.hint])).toEqual([
      ["a", 0, "\u20260001"],
      ["b", 0, "\u2026-002"],
      ["c", 5, "\u20260003"],
    ]);
    const replaced = await byok.registerKey({ userId: "u1", provider: "openai", apiKey: FIRST, label: "a" });
    expect(replaced.replaced).toBe(true);
    expect(await byok.deleteKey({ userId: "u1", provider: "openai", label: "b" })).toBe(true);
    expect((await byok.listKeys("u1")).map((k) => k.label)).toEqual(["a", "c"]);
    expect(await byok.deleteKey({ userId: "u1", provider: "openai" })).toBe(true);
    expect(await byok.listKeys("u1")).toEqual([]);
    expect(await byok.deleteKey({ userId: "u1", provider: "openai" })).toBe(false);
  });

  it("serves with the first key of the chain and names it in the response", async () => {
    const byok = byokOn(await open());
    await threeKeys(byok);
    const response = await byok.use("u1", { teamId: "t1" }).chat({ prompt: "hi" });
    expect(response.key).toEqual({ owner: "user", label: "a", hint: "\u20260001" });
    expect(keysSent()).toEqual([FIRST]);
  });

  it("fails over within one call when the provider refuses the key itself (401, quota, 429), then to the team's", async () => {
    const events: ByokEvent[] = [];
    const byok = byokOn(await open(), { events, failover: { maxAttempts: 4 } });
    await threeKeys(byok);
    fakes.openai.enqueue({ refuse: "invalid" }, { refuse: "quota" }, { refuse: "rate_limit", retryAfter: 30 }, {});
    const response = await byok.use("u1", { teamId: "t1" }).chat({ prompt: "hi" });
    expect(keysSent()).toEqual([FIRST, SECOND, THIRD, TEAM]);
    expect(response.key).toEqual({ owner: "team", label: "default", hint: "\u20260004" });
    const failovers = events.filter((e) => e.type === "key.failover");
    expect(failovers.map((e) => e.type === "key.failover" && [e.label, e.code])).toEqual([
      ["a", "KEY_REJECTED"],
      ["b", expect.any(String)],
      ["c", "PROVIDER_RATE_LIMITED"],
    ]);
    expect(JSON.stringify(events)).not.toContain(FIRST);
    // Each refusal is the key's status now, shared through the store: the next call skips all three.
    await waitFor(
      async () => (await byok.listKeys("u1")).every((k) => k.status !== "ok"),
      "the refused keys' statuses to be stored",
    );
    expect((await byok.listKeys("u1")).map((k) => k.status)).toEqual(["invalid", "quota_exhausted", "rate_limited"]);
    fakes.openai.reset();
    await byok.use("u1", { teamId: "t1" }).chat({ prompt: "again" });
    expect(keysSent()).toEqual([TEAM]);
  });

  it("does not fail over for a failure that is not the key's (5xx), and stops at failover.maxAttempts", async () => {
    const byok = byokOn(await open(), { failover: { maxAttempts: 2 } });
    await threeKeys(byok);
    fakes.openai.enqueue({ status: 500 });
    await expect(byok.use("u1").chat({ prompt: "hi" })).rejects.toMatchObject({ code: "PROVIDER_ERROR" });
    expect(keysSent()).toEqual([FIRST]);
    fakes.openai.reset();
    fakes.openai.enqueue({ refuse: "rate_limit" }, { refuse: "rate_limit" }, {});
    await expect(byok.use("u1").chat({ prompt: "hi" })).rejects.toMatchObject({ code: "PROVIDER_RATE_LIMITED" });
    expect(keysSent()).toEqual([FIRST, SECOND]);
  });

  it("fails a stream over before its first chunk, and never after", async () => {
    const byok = byokOn(await open());
    await threeKeys(byok);
    fakes.openai.enqueue({ refuse: "rate_limit" }, { chunks: ["one ", "two"] });
    const stream = byok.use("u1").stream({ prompt: "hi" });
    const seen: string[] = [];
    for await (const part of stream) seen.push(part.text);
    expect(seen).toEqual(["one ", "two"]);
    expect((await stream.response).key.label).toBe("b");
    expect(keysSent()).toEqual([FIRST, SECOND]);
    fakes.openai.reset();
    fakes.openai.enqueue({ chunks: ["a ", "b ", "c"], errorAfterChunks: 1, errorType: "rate_limit_exceeded" });
    const cut = byok.use("u1").stream({ prompt: "hi" });
    const error = await (async () => {
      for await (const _part of cut) void _part;
    })().catch((e: unknown) => e);
    expect(ByokError.is(error)).toBe(true);
    expect(keysSent()).toHaveLength(1); // the caller had its first chunk: the stream is not tried again
  });

  it("skips a key past its expiresAt or limited to other models, with no upstream call", async () => {
    const store = await open();
    const byok = byokOn(store);
    const base = { userId: "u1", provider: "openai", validate: false } as const;
    await byok.registerKey({ ...base, apiKey: FIRST, label: "a", models: ["gpt-4o"] });
    await byok.registerKey({
      ...base,
      apiKey: SECOND,
      label: "b",
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
    });
    await byok.registerKey({ ...base, apiKey: THIRD, label: "c", priority: 9 });
    await expect(
      byok.registerKey({ ...base, apiKey: THIRD, label: "d", expiresAt: "2001-01-01T00:00:00Z" }),
    ).rejects.toMatchObject({ code: "INVALID_REQUEST", details: { fields: ["expiresAt"] } });
    // Key b expires: its record says so (as time passing would).
    const b = (await store.get("u1", "openai", "b"))!;
    await store.put({ ...b, expiresAt: new Date(Date.now() - 1000).toISOString() });
    expect((await byok.listKeys("u1")).map((k) => [k.label, k.status])).toEqual([
      ["a", "ok"],
      ["b", "expired"],
      ["c", "ok"],
    ]);
    await byok.use("u1").chat({ prompt: "hi", model: "gpt-4o" });
    await byok.use("u1").chat({ prompt: "hi", model: "gpt-4o-mini" });
    expect(keysSent()).toEqual([FIRST, THIRD]);
    await byok.deleteKey({ userId: "u1", provider: "openai", label: "c" });
    await expect(byok.use("u1").chat({ prompt: "hi", model: "o3" })).rejects.toMatchObject({ code: "KEY_NOT_FOUND" });
    expect(keysSent()).toHaveLength(2);
  });

  it("still tries the first key that rests for its status when no other may serve, as a lone key always was", async () => {
    const byok = byokOn(await open());
    const base = { userId: "u1", provider: "openai", validate: false } as const;
    await byok.registerKey({ ...base, apiKey: FIRST, label: "a" });
    await byok.registerKey({ ...base, apiKey: SECOND, label: "b" });
    fakes.openai.enqueue({ refuse: "invalid" }, { refuse: "invalid" });
    await expect(byok.use("u1").chat({ prompt: "hi" })).rejects.toMatchObject({ code: "KEY_REJECTED" });
    await waitFor(
      async () => (await byok.listKeys("u1")).every((k) => k.status === "invalid"),
      "both keys to be stored invalid",
    );
    fakes.openai.reset();
    await byok.use("u1").chat({ prompt: "fixed billing" });
    expect(keysSent()).toEqual([FIRST]);
  });

  it("shares a rate-limited key's rest between two instances until its statusUntil", async () => {
    const [one, two] = [byokOn(await open()), byokOn(await open())];
    await threeKeys(one);
    fakes.openai.enqueue({ refuse: "rate_limit", retryAfter: 120 }, {});
    await one.use("u1").chat({ prompt: "hi" });
    await waitFor(async () => (await two.listKeys("u1"))[0]!.status === "rate_limited", "the rest to be stored");
    fakes.openai.reset();
    expect((await two.use("u1").chat({ prompt: "hi" })).key.label).toBe("b");
    expect(keysSent()).toEqual([SECOND]);
  });

  it("reserves a budget once per key's turn: a failover releases the refused key's reservation", async () => {
    // Room for one reservation (the prompt's estimate plus maxTokens), not two.
    const byok = byokOn(await open(), { budgets: { user: { tokensPerDay: 150 } } });
    await threeKeys(byok);
    fakes.openai.enqueue({ refuse: "rate_limit" }, {});
    const response = await byok.use("u1").chat({ prompt: "hi", maxTokens: 100 });
    expect(response.key.label).toBe("b");
  });

  it("byok.close() waits for the writes a call left running, so a shutdown loses none of them", async () => {
    const byok = byokOn(await open());
    await threeKeys(byok);
    fakes.openai.enqueue({ refuse: "rate_limit" }, {});
    await byok.use("u1").chat({ prompt: "hi" });
    await byok.close(); // at once: the usage row, the touch and the refused key's status are still being written
    const after = byokOn(await open());
    const keys = await after.listKeys("u1");
    expect(keys.map((k) => [k.label, k.status, k.lastUsedAt !== undefined])).toEqual([
      ["a", "rate_limited", false],
      ["b", "ok", true],
      ["c", "ok", false],
    ]);
    expect((await after.usage({ userId: "u1" })).map((r) => r.requests)).toEqual([1]);
  });

  it("keeps at most 10 keys per provider", async () => {
    const byok = byokOn(await open());
    const base = { userId: "u1", provider: "openai", validate: false } as const;
    for (let i = 0; i < 10; i++) await byok.registerKey({ ...base, apiKey: `${FIRST}-${i}`, label: `k${i}` });
    await expect(byok.registerKey({ ...base, apiKey: SECOND, label: "k10" })).rejects.toMatchObject({
      code: "INVALID_REQUEST",
      details: { fields: ["label"] },
    });
    await byok.registerKey({ ...base, apiKey: SECOND, label: "k3" }); // replacing one is fine
    await expect(byok.registerKey({ ...base, apiKey: SECOND, label: "bad/label" })).rejects.toMatchObject({
      code: "INVALID_REQUEST",
      details: { fields: ["label"] },
    });
  });
});

describe("a store that keeps one key per provider (no labels)", () => {
  it("refuses any label but default, and serves the one key", async () => {
    const memory = new MemoryStore();
    // A 0.1-style store: the required methods, no `labels` (and no other capability).
    const store: KeyStore = {
      get: (userId, provider) => memory.get(userId, provider),
      list: (userId) => memory.list(userId),
      put: (record) => memory.put(record),
      delete: (userId, provider) => memory.delete(userId, provider),
      deleteUser: (userId) => memory.deleteUser(userId),
      scan: (options) => memory.scan(options),
      compareAndSwap: (userId, provider, expected, next) => memory.compareAndSwap(userId, provider, expected, next),
    };
    const byok = new BYOK({ masterKey: TEST_MASTER_KEY, store, providers: fakes.providers, defaultProvider: "openai" });
    await expect(
      byok.registerKey({ userId: "u1", provider: "openai", apiKey: FIRST, label: "work", validate: false }),
    ).rejects.toMatchObject({ code: "INVALID_REQUEST", details: { fields: ["label"] } });
    await byok.registerKey({ userId: "u1", provider: "openai", apiKey: FIRST, validate: false });
    expect((await byok.use("u1").chat({ prompt: "hi" })).key.label).toBe("default");
    await byok.close();
  });
});

describe("platform keys: the app's own key as the chain's last link", () => {
  const PLATFORM = "sk-platform-key-0099";
  const made: BYOK[] = [];
  afterAll(() => Promise.all(made.map((b) => b.close())));
  const byokWith = (options: { budgets?: Budgets; events?: ByokEvent[] } = {}) => {
    const byok = new BYOK({
      masterKey: TEST_MASTER_KEY,
      store: new MemoryStore(),
      providers: fakes.providers,
      defaultProvider: "openai",
      platformKeys: { openai: PLATFORM },
      onEvent: (e) => options.events?.push(e),
      ...(options.budgets ? { budgets: options.budgets } : {}),
    });
    made.push(byok);
    return byok;
  };

  it("serves only where use(…, { platform: true }) allows, after the user's own keys, and is never listed", async () => {
    const events: ByokEvent[] = [];
    const byok = byokWith({ events });
    await expect(byok.use("u1").chat({ prompt: "hi" })).rejects.toMatchObject({ code: "KEY_NOT_FOUND" });
    const free = await byok.use("u1", { platform: true }).chat({ prompt: "hi" });
    expect(free.key).toEqual({ owner: "platform", label: "platform", hint: "" });
    expect(await byok.use("u1", { platform: true }).has("openai")).toBe(true);
    expect(await byok.use("u1", { platform: true }).keys()).toEqual([]);
    await byok.registerKey({ userId: "u1", provider: "openai", apiKey: FIRST, validate: false });
    expect((await byok.use("u1", { platform: true }).chat({ prompt: "own" })).key.owner).toBe("user");
    // The user's key refused: the call fails over to the app's.
    fakes.openai.enqueue({ refuse: "quota" }, {});
    expect((await byok.use("u1", { platform: true }).chat({ prompt: "again" })).key.owner).toBe("platform");
    expect(keysSent()).toEqual([PLATFORM, FIRST, FIRST, PLATFORM]);
    const served = events.filter((e) => e.type === "chat.completed");
    expect(served.map((e) => e.type === "chat.completed" && e.keyOwner)).toEqual(["platform", "user", "platform"]);
    expect(JSON.stringify(events)).not.toContain(PLATFORM);
    expect(JSON.stringify(byok)).not.toContain(PLATFORM);
  });

  it("caps each user's use of the app's key with budgets.platform, apart from their own keys", async () => {
    const byok = byokWith({ budgets: { platform: { tokensPerDay: 200 } } });
    const ai = byok.use("u1", { platform: true });
    fakes.openai.enqueue({ usage: { inputTokens: 40, outputTokens: 60, totalTokens: 100 } });
    await ai.chat({ prompt: "hi", maxTokens: 100 }); // reserves about 110, spends 100: the next 110 does not fit
    await expect(ai.chat({ prompt: "hi", maxTokens: 100 })).rejects.toMatchObject({
      code: "BUDGET_EXCEEDED",
      details: { scope: "platform" },
    });
    // Another user has their own share; a user's own key is not capped by it.
    await byok.use("u2", { platform: true }).chat({ prompt: "hi", maxTokens: 100 });
    await byok.registerKey({ userId: "u1", provider: "openai", apiKey: FIRST, validate: false });
    await ai.chat({ prompt: "hi", maxTokens: 100 });
  });

  it("refuses platformKeys for a provider that is not configured, naming it and never the key", () => {
    let error: unknown;
    try {
      new BYOK({ masterKey: TEST_MASTER_KEY, platformKeys: { nope: PLATFORM } });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: "CONFIG_INVALID" });
    expect(String((error as Error).message)).toContain("platformKeys.nope");
    expect(String((error as Error).message)).not.toContain(PLATFORM);
  });
});
