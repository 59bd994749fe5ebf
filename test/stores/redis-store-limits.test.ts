// RedisStore's time limit (callTimeoutMs), command(), no listeners on a given client, no late writes after a 503, and a scan that holds one page.
import { Redis } from "ioredis";
import { RedisStore as RateLimitRedisStore, type RedisReply } from "rate-limit-redis";
import { ByokError, RedisStore } from "../../lib";
import type { KeyRecord } from "../../lib/extend";
import { userKey } from "../../lib/stores/redis-layout";
import { failure, thrownBy } from "../helpers/errors";
import { freePort, type RedisProcess, startRedisServer } from "../helpers/redis-server";
import { scanReadAhead } from "../helpers/scan-ahead";
import { REDIS_URL, uniqueName, whenReady } from "../helpers/services";
import { waitFor } from "../helpers/wait-for";

jest.setTimeout(60_000);

const record = (userId: string, provider = "gemini"): KeyRecord => {
  const at = new Date().toISOString();
  return { userId, provider, ciphertext: `v1.limits.${userId}`, hint: "\u2026abcd", createdAt: at, updatedAt: at };
};

/** Every event's listener count on `client`. */
const listeners = (client: Redis) => Object.fromEntries(client.eventNames().map((e) => [e, client.listenerCount(e)]));

/** Resolves once `call` resolves, retrying for at most `ms` (e.g. until a reconnecting store answers). */
async function eventually(call: () => Promise<unknown>, what: string, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      await call();
      return;
    } catch (error) {
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}: ${String(error)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

describe("new RedisStore({ callTimeoutMs })", () => {
  it("defaults to 500 ms and exposes the configured value", () => {
    expect(new RedisStore({ url: REDIS_URL }).callTimeoutMs).toBe(500);
    expect(new RedisStore({ url: REDIS_URL, callTimeoutMs: 1500 }).callTimeoutMs).toBe(1500);
  });

  it.each([0, -1, 2.5, 60_001, "500", Number.NaN])(
    "throws CONFIG_INVALID for callTimeoutMs %p, naming the accepted range",
    (callTimeoutMs) => {
      expect(thrownBy(() => new RedisStore({ url: REDIS_URL, callTimeoutMs: callTimeoutMs as number }))).toMatchObject({
        code: "CONFIG_INVALID",
        message: expect.stringContaining(
          "RedisStore: callTimeoutMs must be a whole number of milliseconds from 1 to 60000",
        ),
      });
    },
  );

  it("rejects STORE_UNAVAILABLE once a call has taken callTimeoutMs, not before", async () => {
    const client = new Redis(REDIS_URL);
    const store = new RedisStore({ client, prefix: `${uniqueName("limit")}:`, callTimeoutMs: 1000 });
    try {
      // BLPOP on an empty list answers after 8 s: only the store's limit can end the call sooner.
      const { code, ms } = await failure(store.command("BLPOP", uniqueName("empty"), 8));
      expect(code).toBe("STORE_UNAVAILABLE");
      expect(ms).toBeGreaterThanOrEqual(990);
      expect(ms).toBeLessThan(6000);
    } finally {
      client.disconnect();
    }
  });
});

describe("RedisStore.prefix and RedisStore.command", () => {
  it("exposes the configured prefix", () => {
    expect(new RedisStore({ url: REDIS_URL }).prefix).toBe("byok:");
    expect(new RedisStore({ url: REDIS_URL, prefix: "app:keys:" }).prefix).toBe("app:keys:");
  });

  it("runs a raw command on the store's connection and resolves Redis's reply", async () => {
    const store = new RedisStore({ url: REDIS_URL, prefix: `${uniqueName("cmd")}:` });
    const key = uniqueName("counter");
    try {
      expect(await store.command("PING")).toBe("PONG");
      expect(await store.command("INCRBY", key, 5)).toBe(5);
      expect(await store.command("GET", key)).toBe("5");
      expect(await store.command("DEL", key)).toBe(1);
    } finally {
      await store.close();
    }
  });

  it("rejects with Redis's own error, not STORE_UNAVAILABLE, when Redis answers an error", async () => {
    const store = new RedisStore({ url: REDIS_URL });
    try {
      const noscript = await store.command("EVALSHA", "0".repeat(40), 0).catch((e: unknown) => e);
      expect(ByokError.is(noscript)).toBe(false);
      expect((noscript as Error).message).toMatch(/^NOSCRIPT/);
      const unknown = await store.command("NO-SUCH-COMMAND").catch((e: unknown) => e);
      expect(ByokError.is(unknown)).toBe(false);
      expect((unknown as Error).message).toMatch(/^ERR unknown command/);
    } finally {
      await store.close();
    }
  });

  it("rejects STORE_UNAVAILABLE fast when Redis cannot be reached, and INVALID_REQUEST for an empty name", async () => {
    const store = new RedisStore({ url: "redis://127.0.0.1:1" });
    try {
      const { code, ms } = await failure(store.command("PING"));
      expect(code).toBe("STORE_UNAVAILABLE");
      expect(ms).toBeLessThan(1000);
      await expect(store.command("")).rejects.toMatchObject({ code: "INVALID_REQUEST" });
    } finally {
      await store.close();
    }
  });

  describe("as rate-limit-redis's sendCommand", () => {
    let server: RedisProcess;
    beforeAll(async () => {
      server = await startRedisServer(await freePort());
    });
    afterAll(() => server.kill());

    it("counts hits, and after Redis lost its scripts (SCRIPT FLUSH) the next hit still counts", async () => {
      const url = `redis://127.0.0.1:${server.port}`;
      const store = new RedisStore({ url, prefix: "app:" });
      const admin = new Redis(url);
      try {
        const limiter = new RateLimitRedisStore({
          sendCommand: (...args: string[]) => store.command(...(args as [string, ...string[]])) as Promise<RedisReply>,
          prefix: `rl:${store.prefix}`,
        });
        limiter.init({ windowMs: 60_000 } as Parameters<typeof limiter.init>[0]);
        expect((await limiter.increment("u1")).totalHits).toBe(1);
        expect((await limiter.increment("u1")).totalHits).toBe(2);
        await admin.script("FLUSH");
        expect((await limiter.increment("u1")).totalHits).toBe(3);
      } finally {
        await admin.quit();
        await store.close();
      }
    });
  });
});

describe("RedisStore with a client the app passed in", () => {
  it("adds no listener to it, whether it is lazy, still connecting or ready", async () => {
    const prefix = `${uniqueName("listen")}:`;
    const lazy = new Redis(REDIS_URL, { lazyConnect: true });
    const connecting = new Redis(REDIS_URL);
    try {
      for (const client of [lazy, connecting]) {
        const before = listeners(client);
        const store = new RedisStore({ client, prefix });
        const pending = store.list("u1");
        // While the store waits for the connection: no "error" or "end" listener of its own.
        await new Promise((r) => setImmediate(r));
        expect([client.listenerCount("error"), client.listenerCount("end")]).toEqual([
          before.error ?? 0,
          before.end ?? 0,
        ]);
        expect(await pending).toEqual([]);
        await store.put(record("u1"));
        await store.get("u1", "gemini");
        for await (const batch of store.scan({ batchSize: 10 })) expect(batch.length).toBeLessThanOrEqual(10);
        await store.command("PING");
        expect(await store.deleteUser("u1")).toBe(1);
        await store.close();
        expect(listeners(client)).toEqual(before);
      }
    } finally {
      lazy.disconnect();
      connecting.disconnect();
    }
  });
});

describe("RedisStore: a write answered 503 does not land later", () => {
  let server: RedisProcess;
  let port: number;
  beforeAll(async () => {
    port = await freePort();
    server = await startRedisServer(port);
  });
  afterAll(() => server.kill());

  it("never leaves a call in a given client's offline queue while it reconnects", async () => {
    const prefix = `${uniqueName("offline")}:`;
    // Reconnects 2 s after a drop: a call made meanwhile would wait in ioredis's offline queue.
    const client = new Redis(`redis://127.0.0.1:${port}`, { retryStrategy: () => 2000 });
    client.on("error", () => undefined);
    const admin = new Redis(`redis://127.0.0.1:${port}`);
    const store = new RedisStore({ client, prefix });
    try {
      await store.put(record("u0"));
      await admin.call("CLIENT", "KILL", "ID", String(await client.call("CLIENT", "ID")));
      await waitFor(() => client.status === "reconnecting", "the client to reconnect");
      const { code, ms } = await failure(store.put(record("u1")));
      expect([code, ms < 500]).toEqual(["STORE_UNAVAILABLE", true]);
      await whenReady(client);
      // Whatever ioredis queued while offline was sent when it became ready, before this read.
      expect(await client.hgetall(userKey(prefix, "u1"))).toEqual({});
      expect(await store.deleteUser("u0")).toBe(1);
    } finally {
      await admin.quit();
      client.disconnect();
    }
  });

  it("does not re-send, after a reconnect, a write its own connection lost unanswered", async () => {
    const prefix = `${uniqueName("resend")}:`;
    const admin = new Redis(`redis://127.0.0.1:${port}`);
    const store = new RedisStore({ url: `redis://127.0.0.1:${port}`, prefix });
    try {
      const id = await store.command("CLIENT", "ID");
      // Redis holds every script call (the store's writes) until UNPAUSE; reads still run.
      await admin.call("CLIENT", "PAUSE", "60000", "WRITE");
      const { code } = await failure(store.put(record("u1")));
      expect(code).toBe("STORE_UNAVAILABLE");
      // The connection drops with the write unanswered (and never run), and the store reconnects.
      await admin.call("CLIENT", "KILL", "ID", String(id));
      await eventually(async () => expect(await store.command("CLIENT", "ID")).not.toEqual(id), "a new connection");
      await admin.call("CLIENT", "UNPAUSE");
      // A re-sent write would have gone out on the new connection before this read.
      expect(await store.get("u1", "gemini")).toBeUndefined();
    } finally {
      await admin.call("CLIENT", "UNPAUSE");
      await admin.quit();
      await store.close();
    }
  });
});

describe("RedisStore.scan", () => {
  it("holds one page of records at a time, however many users there are", async () => {
    const prefix = `${uniqueName("flat")}:`;
    const client = new Redis(REDIS_URL);
    const users = Array.from({ length: 3000 }, (_, i) => `flat-user-${i}`);
    const json = JSON.stringify({ ciphertext: "v1.c", hint: "\u2026abcd", createdAt: "t", updatedAt: "t" });
    await client.pipeline(users.map((userId) => ["hset", userKey(prefix, userId), "openai", json])).exec();
    // Counts the records the store has read from Redis (its scan reads hashes with one script per page).
    let read = 0;
    const counting = new Proxy(client, {
      get(target, prop, receiver) {
        if (prop === "evalsha") {
          return async (...args: Parameters<Redis["evalsha"]>) => {
            const reply = await target.evalsha(...args);
            for (const hash of reply as string[][]) read += hash.length / 2;
            return reply;
          };
        }
        const value: unknown = Reflect.get(target, prop, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const store = new RedisStore({ client: counting, prefix });
    try {
      const batchSize = 100;
      const { yielded, mostAhead } = await scanReadAhead(store, batchSize, () => read);
      expect([yielded, read]).toEqual([users.length, users.length]);
      // One SCAN page (about batchSize hashes) plus what is left of the last batch: never a walk's worth.
      expect(mostAhead).toBeLessThanOrEqual(3 * batchSize);
    } finally {
      for (let at = 0; at < users.length; at += 500)
        await client.del(...users.slice(at, at + 500).map((u) => userKey(prefix, u)));
      await client.quit();
    }
  });
});
