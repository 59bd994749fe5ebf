// Mixed stores: durable keys and usage rows in PostgreSQL, budgets, connect state and rate-limit counters in Redis,
// as two app instances sharing both; construction without a capability the options need is CONFIG_INVALID; and a
// 0.1-style KeyStore still gives its capabilities.
import { Client } from "pg";
import { BYOK, byokRouter, MemoryStore, PostgresStore, RedisStore } from "../../lib";
import type { ByokStores, KeyStore } from "../../lib/extend";
import { type FakeProviders, startFakeProviders } from "../../lib/testing";
import { TEST_MASTER_KEY } from "../helpers/canary";
import { concurrentChats } from "../helpers/concurrent-chats";
import { DATABASE_URL, REDIS_URL, uniqueName } from "../helpers/services";
import { waitFor } from "../helpers/wait-for";

const KEY = "sk-mixed-test-key-0001";

let fakes: FakeProviders;
let admin: Client;
beforeAll(async () => {
  fakes = await startFakeProviders();
  admin = new Client({ connectionString: DATABASE_URL });
  await admin.connect();
});
afterAll(async () => {
  await fakes.close();
  await admin.end();
});
beforeEach(() => fakes.openai.reset());

/** The chats the fake OpenAI answered (validation calls left out). */
const served = () => fakes.openai.requests.filter((r) => r.op === "chat" || r.op === "stream");

describe("keys and usage in PostgresStore, budgets, once and rateLimits in RedisStore", () => {
  let table: string;
  let opened: (RedisStore | PostgresStore)[] = [];
  beforeEach(() => (table = uniqueName("mixed")));
  afterEach(async () => {
    for (const store of opened) await store.close();
    opened = [];
    await admin.query(`DROP TABLE IF EXISTS "${table}", "${table}_usage", "${table}_budget", "${table}_once"`);
  });

  /** One app instance's stores: its own PostgresStore and RedisStore over the shared backends, mixed. */
  const instance = async (): Promise<ByokStores> => {
    // Limits for 200 concurrent calls queueing on one connection and one pool (fast failure is tested elsewhere).
    const pg = new PostgresStore({ connectionString: DATABASE_URL, table, queryTimeoutMs: 10_000 });
    const redis = new RedisStore({ url: REDIS_URL, prefix: `${table}:`, callTimeoutMs: 5000 });
    opened.push(pg, redis);
    await pg.migrate();
    return { keys: pg.keys, usage: pg.usage, budgets: redis.budgets, once: redis.once, rateLimits: redis.rateLimits };
  };
  const byokOn = (store: ByokStores, tokensPerDay: number) =>
    new BYOK({
      masterKey: TEST_MASTER_KEY,
      store,
      providers: fakes.providers,
      defaultProvider: "openai",
      budgets: { user: { tokensPerDay } },
    });

  it("serves a chat, its usage row lands in PostgreSQL, and 200 concurrent chats spend exactly a budget that fits 20", async () => {
    const [a, b] = [byokOn(await instance(), 20 * 20 + 20), byokOn(await instance(), 20 * 20 + 20)];
    await a.registerKey({ userId: "ann", provider: "openai", apiKey: KEY, validate: false });
    // Each chat reserves ceil(2 / 3) + 8 + 11 = 20 tokens and the fake charges exactly that.
    fakes.openai.enqueue({ usage: { inputTokens: 9, outputTokens: 11 } });
    expect((await b.use("ann").chat({ prompt: "hi", maxTokens: 11 })).usage.totalTokens).toBe(20);
    await waitFor(async () => (await a.usage({ userId: "ann" })).length === 1, "ann's usage row");
    const { rows } = await admin.query(`SELECT owner_id, requests::int AS requests FROM "${table}_usage"`);
    expect(rows).toEqual([{ owner_id: "ann", requests: 1 }]);

    fakes.openai.enqueue(...Array.from({ length: 200 }, () => ({ usage: { inputTokens: 9, outputTokens: 11 } })));
    const outcomes = await concurrentChats([a, b], "ann");
    expect(outcomes.filter((o) => o === 20)).toHaveLength(20);
    expect(outcomes.filter((o) => o !== 20).every((o) => o === "BUDGET_EXCEEDED")).toBe(true);
    expect(served()).toHaveLength(21); // the first chat and 20 more: exactly the day's 420 tokens
    // The budget is spent in Redis for every instance: nothing more fits.
    await expect(a.use("ann").chat({ prompt: "hi", maxTokens: 11 })).rejects.toMatchObject({
      code: "BUDGET_EXCEEDED",
    });
  });

  it("is CONFIG_INVALID naming the capability that usage, budgets or connect need and the stores lack", async () => {
    const { keys, usage, budgets, once } = await instance();
    const options = { masterKey: TEST_MASTER_KEY, providers: fakes.providers, defaultProvider: "openai" };
    const refusal = (make: () => unknown) => {
      try {
        make();
      } catch (error) {
        return error;
      }
      return undefined;
    };
    expect(
      refusal(() => new BYOK({ ...options, store: { keys, budgets }, usage: { retentionDays: 7 } })),
    ).toMatchObject({
      code: "CONFIG_INVALID",
      message: expect.stringContaining("store.usage (usage capability)"),
    });
    expect(
      refusal(() => new BYOK({ ...options, store: { keys, usage }, budgets: { user: { tokensPerDay: 100 } } })),
    ).toMatchObject({ code: "CONFIG_INVALID", message: expect.stringContaining("store.budgets (budgets capability)") });
    const noOnce = new BYOK({ ...options, store: { keys, usage, budgets }, providers: { openrouter: {} } });
    expect(refusal(() => byokRouter({ byok: noOnce, connect: { openrouter: true } }))).toMatchObject({
      code: "CONFIG_INVALID",
      message: expect.stringContaining("store.once (the once capability)"),
    });
    const withOnce = new BYOK({ ...options, store: { keys, once }, providers: { openrouter: {} } });
    expect(refusal(() => byokRouter({ byok: withOnce, connect: { openrouter: true } }))).toBeUndefined();
    expect(refusal(() => new BYOK({ ...options, store: { keys, usage: {} as never } }))).toMatchObject({
      code: "CONFIG_INVALID",
      message: expect.stringContaining("store.usage must implement usage (missing: add, read, deleteOwner)"),
    });
  });

  it("byok.close() closes each store behind the capabilities once", async () => {
    const pg = new PostgresStore({ connectionString: DATABASE_URL, table });
    const redis = new RedisStore({ url: REDIS_URL, prefix: `${table}:` });
    const closes = [jest.spyOn(pg, "close"), jest.spyOn(redis, "close")];
    const store = { keys: pg, usage: pg.usage, budgets: redis.budgets, once: redis.once, rateLimits: redis.rateLimits };
    await new BYOK({ masterKey: TEST_MASTER_KEY, store }).close();
    expect(closes.map((close) => close.mock.calls.length)).toEqual([1, 1]);
  });
});

describe("a store written against the 0.1 KeyStore", () => {
  it("gives BYOK the capabilities its optional methods offer, connect state kept apart by owner", async () => {
    const memory = new MemoryStore();
    const once = new Map<string, string>();
    const counters = jest.fn();
    // Only methods, as a 0.1 store has: no keys, usage, budgets or once members.
    const legacy: KeyStore = {
      get: (u, p) => memory.get(u, p),
      list: (u) => memory.list(u),
      put: (r) => memory.put(r),
      delete: (u, p) => memory.delete(u, p),
      deleteUser: (u) => memory.deleteUser(u),
      scan: (o) => memory.scan(o),
      compareAndSwap: (u, p, e, c) => memory.compareAndSwap(u, p, e, c),
      addUsage: (owners, row, days) => memory.usage.add(owners, row, days),
      readUsage: (owner, from, to) => memory.usage.read(owner, from, to),
      reserve: (owner, id, tokens, c, ttl) => memory.budgets.reserve(owner, id, tokens, c, ttl),
      settle: (owner, id, tokens, c) => memory.budgets.settle(owner, id, tokens, c),
      putOnce: async (key, value) => void once.set(key, value),
      takeOnce: async (key) => once.get(key),
      rateLimits: counters,
    };
    const byok = new BYOK({ masterKey: TEST_MASTER_KEY, store: legacy, budgets: { user: { tokensPerDay: 100 } } });
    const { stores } = byok;
    expect(stores.keys).toBe(legacy);
    expect([stores.usage, stores.budgets, stores.once, stores.rateLimits].every(Boolean)).toBe(true);
    await stores.once!.put("u1", "state", "v", 60_000);
    expect([...once.keys()]).toEqual(["{dTE}:state"]);
    expect(await stores.once!.take("u2", "state")).toBeUndefined();
    stores.rateLimits!("chat");
    expect(counters).toHaveBeenCalledWith("chat");
    const { putOnce, takeOnce, addUsage, readUsage, reserve, settle, rateLimits, ...keysOnly } = legacy;
    void [putOnce, takeOnce, addUsage, readUsage, reserve, settle, rateLimits];
    expect(Object.keys(new BYOK({ masterKey: TEST_MASTER_KEY, store: keysOnly }).stores)).toEqual(["keys"]);
  });
});
