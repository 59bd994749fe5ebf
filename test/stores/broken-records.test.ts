// A record that is not the store's format, on real Redis and PostgreSQL: it is listed as unreadable and blocks nothing else.
import express from "express";
import { Redis } from "ioredis";
import { Pool } from "pg";
import request from "supertest";
import { BYOK, byokRouter, PostgresStore, RedisStore } from "../../lib";
import type { KeyStore } from "../../lib/extend";
import { type FakeProviders, startFakeProviders } from "../../lib/testing";
import { TEST_MASTER_KEY } from "../helpers/canary";
import { DATABASE_URL, REDIS_URL, uniqueName } from "../helpers/services";

const KEYS = { gemini: "AIza-good-gemini-key-0001", openai: "sk-good-openai-key-0002" };

interface Backend {
  store: KeyStore;
  /** Writes a record for (user, provider) that is not the store's format, with the backend's own client. */
  writeBroken(userId: string, provider: string): Promise<void>;
  close(): Promise<void>;
}

/** Each backend with each kind of damage it can hold. */
const BACKENDS: [string, () => Promise<Backend>][] = [
  ...["not json", "42", JSON.stringify({ hint: "\u2026abcd", createdAt: "t" }), JSON.stringify({ ciphertext: 7 })].map(
    (value): [string, () => Promise<Backend>] => [
      `RedisStore, a field holding ${value}`,
      async () => {
        const prefix = `${uniqueName("broken")}:`;
        const client = new Redis(REDIS_URL);
        return {
          store: new RedisStore({ url: REDIS_URL, prefix }),
          writeBroken: async (userId, provider) =>
            void (await client.hset(`${prefix}{${Buffer.from(userId).toString("base64url")}}`, provider, value)),
          close: async () => {
            const keys = await client.keys(`${prefix}*`);
            if (keys.length) await client.del(...keys);
            await client.quit();
          },
        };
      },
    ],
  ),
  ...[
    ["NULL ciphertext, hint and created_at", "NULL, NULL, NULL"],
    ["a ciphertext that is not one", "'not a ciphertext', '\u2026abcd', now()"],
  ].map(([what, values]): [string, () => Promise<Backend>] => [
    `PostgresStore, a row with ${what}`,
    async () => {
      const table = uniqueName("broken");
      const pool = new Pool({ connectionString: DATABASE_URL });
      const store = new PostgresStore({ pool, table });
      await store.migrate();
      await pool.query(
        `ALTER TABLE "${table}" ALTER COLUMN ciphertext DROP NOT NULL, ALTER COLUMN hint DROP NOT NULL, ALTER COLUMN created_at DROP NOT NULL`,
      );
      return {
        store,
        writeBroken: async (userId, provider) =>
          void (await pool.query(
            `INSERT INTO "${table}" (user_id, provider, ciphertext, hint, created_at, updated_at) VALUES ($1, $2, ${values}, now())`,
            [userId, provider],
          )),
        close: async () => {
          await pool.query(`DROP TABLE IF EXISTS "${table}"`);
          await pool.end();
        },
      };
    },
  ]),
];

describe.each(BACKENDS)("a broken record (%s)", (_name, open) => {
  let backend: Backend;
  let fakes: FakeProviders;
  let byok: BYOK;
  let app: express.Express;
  beforeEach(async () => {
    backend = await open();
    fakes = await startFakeProviders();
    byok = new BYOK({ masterKey: TEST_MASTER_KEY, store: backend.store, providers: fakes.providers });
    app = express();
    app.use((req, _res, next) => {
      (req as unknown as { user: { id: string } }).user = { id: String(req.headers["x-user"]) };
      next();
    });
    app.use(byokRouter({ byok, rateLimit: false }));
    // u1: a broken gemini record (the default provider) beside a good openai key.
    await byok.registerKey({ userId: "u1", provider: "openai", apiKey: KEYS.openai });
    await backend.writeBroken("u1", "gemini");
  });
  afterEach(async () => {
    await byok.close();
    await backend.close();
    await fakes.close();
  });

  const call = (method: "get" | "post", path: string, body?: object, user = "u1") =>
    request(app)[method](`/byok${path}`).set("x-user", user).send(body);

  it("GET /byok/keys answers 200 and lists that key as unreadable beside the good one", async () => {
    const res = await call("get", "/keys");
    expect(res.status).toBe(200);
    expect(res.body.keys).toEqual([
      expect.objectContaining({ provider: "gemini", status: "unreadable", hint: expect.any(String) }),
      expect.objectContaining({ provider: "openai", status: "ok", hint: "\u20260002" }),
    ]);
    expect(await byok.listKeys("u1")).toEqual(res.body.keys);
  });

  it("a chat with that provider answers 500 KEY_UNREADABLE and sends nothing upstream", async () => {
    for (const body of [{ provider: "gemini", prompt: "x" }, { prompt: "x" }]) {
      const res = await call("post", "/chat", body);
      expect([res.status, res.body.error.code]).toEqual([500, "KEY_UNREADABLE"]);
    }
    expect(fakes.gemini.requests).toEqual([]);
  });

  it("a chat with another provider works, and so does a provider-less chat of a user whose broken key is not the default", async () => {
    expect((await call("post", "/chat", { provider: "openai", prompt: "x" })).status).toBe(200);
    await byok.registerKey({ userId: "u2", provider: "gemini", apiKey: KEYS.gemini });
    await backend.writeBroken("u2", "anthropic");
    const res = await call("post", "/chat", { prompt: "x" }, "u2");
    expect([res.status, res.body.provider]).toEqual([200, "gemini"]);
    expect((await call("get", "/keys", undefined, "u2")).body.keys.map((k: { status: string }) => k.status)).toEqual([
      "unreadable",
      "ok",
    ]);
  });

  it("registering a key over it repairs it: 200, listed as ok, and chats work", async () => {
    const res = await call("post", "/keys", { provider: "gemini", apiKey: KEYS.gemini });
    expect([res.status, res.body.status, res.body.hint]).toEqual([200, "ok", "\u20260001"]);
    expect(Date.parse(res.body.createdAt)).toBeGreaterThan(Date.now() - 60_000);
    expect((await call("get", "/keys")).body.keys.map((k: { status: string }) => k.status)).toEqual(["ok", "ok"]);
    expect((await call("post", "/chat", { prompt: "x" })).body.provider).toBe("gemini");
  });

  it("byok.rotate() counts it as failed instead of stopping at it", async () => {
    expect(await byok.rotate()).toMatchObject({ failed: 1 });
  });
});
