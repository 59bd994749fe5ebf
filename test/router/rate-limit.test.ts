import { randomUUID } from "node:crypto";
import Redis from "ioredis";
import request from "supertest";
import { MemoryStore } from "../../lib";
import type { KeyStore } from "../../lib/extend";
import { type AppFixture, EXPRESS_VERSIONS, appFixture, loadKit } from "../helpers/router-harness";
import { Pool } from "pg";
import { DATABASE_URL, REDIS_URL, uniqueName } from "../helpers/services";

describe.each(EXPRESS_VERSIONS)("byokRouter rate limits on %s", (version) => {
  const kit = loadKit(version);
  let f: AppFixture;
  afterEach(() => f.close());

  it("answers 429 RATE_LIMITED with Retry-After once a user passes the keys limit, per user", async () => {
    f = await appFixture(kit, { router: { rateLimit: { keys: { windowMs: 60_000, limit: 2 } } } });
    expect((await request(f.app).get("/byok/keys").set("x-user", "u1")).status).toBe(200);
    expect((await request(f.app).delete("/byok/keys?provider=gemini").set("x-user", "u1")).status).toBe(404);
    const res = await request(f.app).get("/byok/keys").set("x-user", "u1");
    expect([res.status, res.body.error.code]).toEqual([429, "RATE_LIMITED"]);
    expect(Number(res.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(Number(res.headers["retry-after"])).toBeLessThanOrEqual(60);
    expect(res.headers["cache-control"]).toBe("no-store");
    expect((await request(f.app).get("/byok/keys").set("x-user", "u2")).status).toBe(200);
  });

  it("counts chat separately from the keys routes, with its own limit", async () => {
    f = await appFixture(kit, { router: { rateLimit: { keys: { limit: 1 }, chat: { limit: 1 } } } });
    expect((await request(f.app).get("/byok/keys").set("x-user", "u1")).status).toBe(200);
    expect((await request(f.app).post("/byok/chat").set("x-user", "u1").send({ prompt: "a" })).status).toBe(404);
    const chat = await request(f.app).post("/byok/chat").set("x-user", "u1").send({ prompt: "b" });
    expect([chat.status, chat.body.error.code]).toEqual([429, "RATE_LIMITED"]);
  });

  it("answers a rate-limited request with one counter update and nothing else: no key-store read", async () => {
    const reads: string[] = [];
    const memory = new kit.lib.MemoryStore();
    const store = new Proxy(memory, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          if (prop === "get" || prop === "list") reads.push(String(prop));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    }) as KeyStore;
    f = await appFixture(kit, { store, router: { rateLimit: { chat: { limit: 1 } } } });
    await f.byok.registerKey({ userId: "u1", provider: "gemini", apiKey: "AIza-rl-key-0000", validate: false });
    reads.length = 0; // what registering read: only the chats' reads count
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push(
        (
          await request(f.app)
            .post("/byok/chat")
            .set("x-user", "u1")
            .send({ prompt: `p${i}` })
        ).status,
      );
    expect(statuses).toEqual([200, 429, 429, 429, 429]);
    expect(reads).toHaveLength(1);
    expect(f.fake.requests).toHaveLength(1);
  });

  it("counts in the app's own express-rate-limit store, one per limiter, with rateLimit.store", async () => {
    const { MemoryStore: CounterMemory } =
      jest.requireActual<typeof import("express-rate-limit")>("express-rate-limit");
    const made: { name: string; store: InstanceType<typeof CounterMemory> }[] = [];
    const storeFor = (name: "keys" | "chat") => {
      const store = new CounterMemory();
      made.push({ name, store });
      return store;
    };
    f = await appFixture(kit, { router: { rateLimit: { keys: { limit: 1 }, store: storeFor } } });
    expect(made.map((m) => m.name)).toEqual(["keys", "chat"]);
    expect((await request(f.app).get("/byok/keys").set("x-user", "u1")).status).toBe(200);
    expect((await request(f.app).get("/byok/keys").set("x-user", "u1")).status).toBe(429);
    const counted = await made[0]!.store.get("{dTE}"); // u1, hash-tagged base64url as in RedisStore
    expect(counted?.totalHits).toBe(2);
  });

  it("counts in the key store's rateLimits capability when the router names no store", async () => {
    const { MemoryStore: CounterMemory } =
      jest.requireActual<typeof import("express-rate-limit")>("express-rate-limit");
    const asked: string[] = [];
    const counters = new CounterMemory();
    // Stores of the app's own making: the router goes by what they offer.
    const store = {
      keys: new kit.lib.MemoryStore(),
      rateLimits(limiter: "keys" | "chat") {
        asked.push(limiter);
        return limiter === "keys" ? counters : new CounterMemory();
      },
    };
    f = await appFixture(kit, { store, router: { rateLimit: { keys: { limit: 1 } } } });
    expect(asked).toEqual(["keys", "chat"]);
    expect((await request(f.app).get("/byok/keys").set("x-user", "u1")).status).toBe(200);
    expect((await request(f.app).get("/byok/keys").set("x-user", "u1")).status).toBe(429);
    expect((await counters.get("{dTE}"))?.totalHits).toBe(2);
  });

  it("refuses a rateLimit.store that is not a function with CONFIG_INVALID naming the fix", () => {
    const byok = new kit.lib.BYOK({ masterKey: Buffer.alloc(32, 1) });
    expect(() => kit.lib.byokRouter({ byok, rateLimit: { store: {} as unknown as () => never } })).toThrow(
      /rateLimit.store must be a function \(limiter: "keys" \| "chat"\) => Store/,
    );
  });

  it("never calls the provider for a rate-limited chat", async () => {
    f = await appFixture(kit, { router: { rateLimit: { chat: { limit: 1 } } } });
    await request(f.app)
      .post("/byok/keys")
      .set("x-user", "u1")
      .send({ provider: "gemini", apiKey: "AIza-rl-key-0000" });
    f.fake.reset();
    expect((await request(f.app).post("/byok/chat").set("x-user", "u1").send({ prompt: "a" })).status).toBe(200);
    const limited = await request(f.app).post("/byok/chat").set("x-user", "u1").send({ prompt: "b" });
    expect([limited.status, limited.body.error.code]).toEqual([429, "RATE_LIMITED"]);
    expect(f.fake.requests).toHaveLength(1);
  });

  it("answers 401 before counting anything for requests without a user", async () => {
    f = await appFixture(kit, { router: { rateLimit: { keys: { limit: 1 } } } });
    for (let i = 0; i < 3; i++) expect((await request(f.app).get("/byok/keys")).status).toBe(401);
  });

  it("is off with rateLimit: false", async () => {
    f = await appFixture(kit, { router: { rateLimit: false } });
    for (let i = 0; i < 35; i++) expect((await request(f.app).get("/byok/keys").set("x-user", "u1")).status).toBe(200);
  });

  it("defaults to 30 requests per user on the keys routes", async () => {
    f = await appFixture(kit);
    const res = await request(f.app).get("/byok/keys").set("x-user", "u1");
    expect(res.headers["ratelimit-policy"]).toBe("30;w=600");
    const chat = await request(f.app).post("/byok/chat").set("x-user", "u1").send({ prompt: "a" });
    expect(chat.headers["ratelimit-policy"]).toBe("60;w=60");
  });
});

describe("byokRouter rate limits with a Redis-backed key store", () => {
  const kit = loadKit("express5");
  // The suite's private Redis: its counters go when the run ends, so nothing here deletes keys.
  let client: Redis;
  let prefix: string;
  beforeAll(() => {
    client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    await client.quit();
  });

  it("counts in Redis through a RedisStore's client, so every instance shares the limit, under the store's user-id encoding", async () => {
    prefix = `byok-router-test-${randomUUID()}:`;
    const store = new kit.lib.RedisStore({ client, prefix });
    const first = await appFixture(kit, { store, router: { rateLimit: { keys: { limit: 2 } } } });
    const second = await appFixture(kit, { store, router: { rateLimit: { keys: { limit: 2 } } } });
    try {
      expect((await request(first.app).get("/byok/keys").set("x-user", "u1")).status).toBe(200);
      expect((await request(second.app).get("/byok/keys").set("x-user", "u1")).status).toBe(200);
      const res = await request(first.app).get("/byok/keys").set("x-user", "u1");
      expect([res.status, res.body.error.code]).toEqual([429, "RATE_LIMITED"]);
      const encoded = Buffer.from("u1", "utf8").toString("base64url");
      expect(await client.keys(`byok-rl:${prefix}keys:*`)).toEqual([`byok-rl:${prefix}keys:{${encoded}}`]);
    } finally {
      await first.close();
      await second.close();
    }
  });

  it("counts in process memory for a store without RedisStore's brand, whatever properties it has", async () => {
    prefix = `byok-router-unbranded-${randomUUID()}:`;
    // Looks like a Redis-backed store (an ioredis client, a prefix, connect()), but is not byok-ai's RedisStore.
    const store = Object.assign(new MemoryStore(), { client, prefix, connect: async () => client }) as KeyStore;
    const first = await appFixture(kit, { store, router: { rateLimit: { keys: { limit: 1 } } } });
    const second = await appFixture(kit, { store, router: { rateLimit: { keys: { limit: 1 } } } });
    try {
      expect((await request(first.app).get("/byok/keys").set("x-user", "u1")).status).toBe(200);
      expect((await request(second.app).get("/byok/keys").set("x-user", "u1")).status).toBe(200);
      expect((await request(first.app).get("/byok/keys").set("x-user", "u1")).status).toBe(429);
      expect(await client.keys(`byok-rl:${prefix}*`)).toEqual([]);
    } finally {
      await first.close();
      await second.close();
    }
  });

  it("counts in the Redis of a RedisStore opened from a url, shared by two instances", async () => {
    prefix = `byok-router-url-${randomUUID()}:`;
    const stores = [
      new kit.lib.RedisStore({ url: REDIS_URL, prefix }),
      new kit.lib.RedisStore({ url: REDIS_URL, prefix }),
    ];
    const [first, second] = await Promise.all(
      stores.map((store) => appFixture(kit, { store, router: { rateLimit: { chat: { limit: 1 } } } })),
    );
    try {
      expect((await request(first!.app).post("/byok/chat").set("x-user", "u1").send({ prompt: "x" })).status).toBe(404);
      const res = await request(second!.app).post("/byok/chat").set("x-user", "u1").send({ prompt: "x" });
      expect([res.status, res.body.error.code]).toEqual([429, "RATE_LIMITED"]);
      expect(await client.keys(`byok-rl:${prefix}chat:*`)).toHaveLength(1);
    } finally {
      await first!.close();
      await second!.close();
    }
  });
});

describe("byokRouter rate limits with a PostgresStore", () => {
  const kit = loadKit("express5");
  let pool: Pool;
  beforeAll(() => {
    pool = new Pool({ connectionString: DATABASE_URL, max: 4 });
    pool.on("error", () => undefined);
  });
  afterAll(async () => {
    await pool.end();
  });

  it("counts in the store's <table>_rate through its rateLimits capability, shared by two instances", async () => {
    const table = uniqueName("rl");
    const stores = [new kit.lib.PostgresStore({ pool, table }), new kit.lib.PostgresStore({ pool, table })];
    await stores[0]!.migrate();
    const [first, second] = await Promise.all(
      stores.map((store) => appFixture(kit, { store, router: { rateLimit: { keys: { limit: 2 } } } })),
    );
    try {
      expect((await request(first!.app).get("/byok/keys").set("x-user", "u1")).status).toBe(200);
      expect((await request(second!.app).get("/byok/keys").set("x-user", "u1")).status).toBe(200);
      const res = await request(first!.app).get("/byok/keys").set("x-user", "u1");
      expect([res.status, res.body.error.code]).toEqual([429, "RATE_LIMITED"]);
      expect(Number(res.headers["retry-after"])).toBeGreaterThan(0);
      // Another user, and the chat limiter, count apart.
      expect((await request(second!.app).get("/byok/keys").set("x-user", "u2")).status).toBe(200);
      const { rows } = await pool.query(`SELECT key, hits FROM "${table}_rate" ORDER BY key`);
      expect(rows).toEqual([
        { key: "keys:{dTE}", hits: 3 },
        { key: "keys:{dTI}", hits: 1 },
      ]);
    } finally {
      await first!.close();
      await second!.close();
    }
  });

  it("starts a new window once the old one ended, and decrement and resetKey act on one key", async () => {
    const table = uniqueName("rlw");
    const store = new kit.lib.PostgresStore({ pool, table });
    await store.migrate();
    const counters = store.rateLimits("chat");
    counters.init?.({ windowMs: 60_000 } as never);
    expect((await counters.increment("a")).totalHits).toBe(1);
    const second = await counters.increment("a");
    expect(second.totalHits).toBe(2);
    expect(second.resetTime!.getTime()).toBeGreaterThan(Date.now());
    await counters.decrement("a");
    expect((await counters.get!("a"))?.totalHits).toBe(1);
    // The window ends (moved into the past, as time would): the next increment starts a new one.
    await pool.query(`UPDATE "${table}_rate" SET reset_at = now() - interval '1 second'`);
    expect(await counters.get!("a")).toBeUndefined();
    expect((await counters.increment("a")).totalHits).toBe(1);
    await counters.resetKey("a");
    expect(await counters.get!("a")).toBeUndefined();
  });
});
