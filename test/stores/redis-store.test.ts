import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { RedisStore } from "../../lib";
import { userKey } from "../../lib/stores/redis-layout";
import { CANARY_KEY } from "../helpers/canary";
import { failure, thrownBy } from "../helpers/errors";
import { geminiFixture } from "../helpers/gemini-fixture";
import { freePort, startRedisServer } from "../helpers/redis-server";
import { REDIS_URL, uniqueName, whenReady } from "../helpers/services";

describe("new RedisStore", () => {
  it.each([
    [
      "both client and url",
      () => ({ client: new Redis({ lazyConnect: true }), url: REDIS_URL }),
      "pass client or url, not both",
    ],
    ["neither client nor url", () => ({}), "pass client"],
    ["a url that is not redis://", () => ({ url: "http://localhost:1" }), "redis:// or rediss://"],
    ["a client that is not ioredis", () => ({ client: { get: () => undefined } }), "ioredis Redis or Cluster"],
    ["a prefix with braces", () => ({ url: REDIS_URL, prefix: "a{b}:" }), "no braces"],
    ["a prefix with a glob", () => ({ url: REDIS_URL, prefix: "byok*" }), "glob"],
    ["a misspelt option", () => ({ url: REDIS_URL, prefx: "x:" }), "Did you mean `prefix`?"],
  ])("throws CONFIG_INVALID for %s, naming the fix", (_name, options, fix) => {
    expect(thrownBy(() => new RedisStore(options() as never))).toMatchObject({
      code: "CONFIG_INVALID",
      message: expect.stringContaining(fix),
    });
  });
});

describe("RedisStore", () => {
  it("exposes its own client only once connected, and close() quits it", async () => {
    const store = new RedisStore({ url: REDIS_URL, prefix: `${uniqueName("own")}:` });
    expect(store.client).toBeUndefined();
    const client = (await store.connect()) as Redis;
    expect(store.client).toBe(client);
    expect(await client.ping()).toBe("PONG");
    const ended = new Promise((resolve) => client.once("end", resolve));
    await store.close();
    await ended;
    await expect(store.list("u1")).rejects.toMatchObject({ code: "STORE_UNAVAILABLE" });
  });

  it.each([
    ["NUL", "a\u0000b"],
    ["a lone surrogate", "a\ud800b"],
  ])("rejects INVALID_REQUEST for a user id with %s, which UTF-8 cannot keep apart", async (_name, userId) => {
    const store = new RedisStore({ url: REDIS_URL, prefix: `${uniqueName("odd")}:` });
    try {
      await expect(
        store.put({
          userId,
          provider: "gemini",
          ciphertext: "v1.a.b.c.d",
          hint: "\u2026abcd",
          createdAt: "",
          updatedAt: "",
        }),
      ).rejects.toMatchObject({ code: "INVALID_REQUEST" });
      await expect(store.list(userId)).rejects.toMatchObject({ code: "INVALID_REQUEST" });
    } finally {
      await store.close();
    }
  });

  it("leaves a given client open on close()", async () => {
    const client = new Redis(REDIS_URL);
    try {
      const store = new RedisStore({ client, prefix: `${uniqueName("given")}:` });
      expect(await store.list("u1")).toEqual([]);
      await store.close();
      expect(await client.ping()).toBe("PONG");
    } finally {
      await client.quit();
    }
  });

  it("rejects STORE_UNAVAILABLE fast even with a given client that queues commands while offline", async () => {
    const client = new Redis("redis://127.0.0.1:1", { retryStrategy: () => 50 });
    client.on("error", () => undefined);
    try {
      await new Promise((resolve) => client.once("reconnecting", resolve));
      const store = new RedisStore({ client });
      const { code, ms } = await failure(store.get("u1", "gemini"));
      expect(code).toBe("STORE_UNAVAILABLE");
      expect(ms).toBeLessThan(2000); // 4× the store's 500 ms limit
    } finally {
      client.disconnect();
    }
  });

  it("scans more users than one read script takes, yielding every record once, a __proto__ field included", async () => {
    const prefix = `${uniqueName("scan")}:`;
    const store = new RedisStore({ url: REDIS_URL, prefix });
    const writer = new Redis(REDIS_URL);
    const json = (i: number) =>
      JSON.stringify({ ciphertext: `v1.c${i}`, hint: "\u2026abcd", createdAt: "t", updatedAt: "t" });
    try {
      const users = Array.from({ length: 600 }, (_, i) => `scan-user-${i}`);
      await writer.pipeline(users.map((userId, i) => ["hset", userKey(prefix, userId), "openai", json(i)])).exec();
      await writer.hset(userKey(prefix, users[0]!), "__proto__", json(-1));
      const seen: string[] = [];
      for await (const batch of store.scan({ batchSize: 1000 }))
        for (const r of batch) seen.push(`${r.userId}/${r.provider}/${r.ciphertext}`);
      const expected = [...users.map((userId, i) => `${userId}/openai/v1.c${i}`), `${users[0]}/__proto__/v1.c-1`];
      expect(seen.sort()).toEqual(expected.sort());
    } finally {
      const keys = await writer.keys(`${prefix}*`);
      if (keys.length) await writer.del(...keys);
      await writer.quit();
      await store.close();
    }
  });

  it("keeps only ciphertext and metadata in Redis: the plaintext key appears nowhere", async () => {
    const prefix = `${uniqueName("leak")}:`;
    const f = await geminiFixture({ store: new RedisStore({ url: REDIS_URL, prefix }) });
    const reader = new Redis(REDIS_URL);
    try {
      await f.byok.registerKey({ userId: "leak-user", provider: "gemini", apiKey: CANARY_KEY });
      const keys: string[] = [];
      for await (const page of reader.scanStream({ match: `${prefix}*` })) keys.push(...(page as string[]));
      expect(keys).toEqual([`${prefix}{${Buffer.from("leak-user").toString("base64url")}}`]);
      const hash = await reader.hgetall(keys[0]!);
      expect(Object.keys(hash)).toEqual(["gemini"]);
      const value = JSON.parse(hash.gemini!) as Record<string, string>;
      expect(Object.keys(value).sort()).toEqual(["ciphertext", "createdAt", "hint", "updatedAt"]);
      expect(value.ciphertext).toMatch(/^v1\./);
      const everything = keys.join() + JSON.stringify(hash);
      expect(everything).not.toContain(CANARY_KEY);
      expect(everything).not.toContain(CANARY_KEY.slice(0, -4));
    } finally {
      await f.byok.deleteUser("leak-user");
      await reader.quit();
      await f.close();
    }
  });

  it("fails fast with STORE_UNAVAILABLE while Redis is down and recovers with no key lost when it returns", async () => {
    const dir = mkdtempSync(join(tmpdir(), "byok-redis-"));
    const port = await freePort();
    const durable = ["--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir", dir];
    let server = await startRedisServer(port, durable);
    const store = new RedisStore({ url: `redis://127.0.0.1:${port}` });
    const f = await geminiFixture({ store });
    try {
      await f.byok.registerKey({ userId: "outage", provider: "gemini", apiKey: CANARY_KEY, validate: false });
      const before = await f.byok.listKeys("outage");

      await server.kill();
      const chat = await failure(f.byok.use("outage").chat({ prompt: "hi" }));
      const list = await failure(f.byok.listKeys("outage"));
      expect([chat.code, list.code]).toEqual(["STORE_UNAVAILABLE", "STORE_UNAVAILABLE"]);
      expect(Math.max(chat.ms, list.ms)).toBeLessThan(2000); // 4× the store's 500 ms limit

      server = await startRedisServer(port, durable);
      await whenReady(store.client!);
      expect(await f.byok.listKeys("outage")).toEqual(before);
      expect((await f.byok.use("outage").chat({ prompt: "hi" })).provider).toBe("gemini");
    } finally {
      await f.close();
      await server.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
