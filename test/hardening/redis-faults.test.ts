// A hung Redis (SIGSTOP) and a Redis that starts after the app, behind byokRouter with its default rate limiting, on a private redis-server.
import express from "express";
import Redis from "ioredis";
import request from "supertest";
import { BYOK, byokRouter, RedisStore, type RouterOptions } from "../../lib";
import { startFakeGemini, type FakeUpstream } from "../../lib/testing";
import { TEST_MASTER_KEY } from "../helpers/canary";
import { freePort, type RedisProcess, startRedisServer } from "../helpers/redis-server";
import { uniqueName } from "../helpers/services";
import { waitFor } from "../helpers/wait-for";

const KEY = "AIza-redis-fault-key-0000";

function appFor(port: number, fake: FakeUpstream, router: Partial<RouterOptions> = {}) {
  const store = new RedisStore({ url: `redis://127.0.0.1:${port}`, prefix: `${uniqueName("rfault")}:` });
  const byok = new BYOK({ masterKey: TEST_MASTER_KEY, store, providers: { gemini: { baseUrl: fake.url } } });
  const app = express();
  app.use((req, _res, next) => {
    (req as unknown as { user: { id: string } }).user = { id: "u1" };
    next();
  });
  app.use(byokRouter({ byok, ...router }));
  return { app, byok };
}

/** Each byok route once: [name, send]. */
const ROUTES: [string, (app: express.Express) => request.Test][] = [
  ["POST /byok/keys", (app) => request(app).post("/byok/keys").send({ provider: "gemini", apiKey: KEY })],
  ["GET /byok/keys", (app) => request(app).get("/byok/keys")],
  ["DELETE /byok/keys", (app) => request(app).delete("/byok/keys?provider=openai")],
  ["POST /byok/chat", (app) => request(app).post("/byok/chat").send({ prompt: "hi" })],
];

/** Retries `send` (every 100 ms, for at most `ms`) until it answers `status`; resolves to how long that took. */
const until = (send: () => request.Test, status: number, ms: number): Promise<number> =>
  waitFor(async () => (await send()).status === status, `an answer ${status}`, ms, 100);

describe("byokRouter with RedisStore when Redis hangs (SIGSTOP)", () => {
  let fake: FakeUpstream;
  let redis: RedisProcess;
  beforeAll(async () => {
    fake = await startFakeGemini();
    redis = await startRedisServer(await freePort());
  });
  afterAll(async () => {
    redis.signal("SIGCONT");
    await redis.kill();
    await fake.close();
  });

  it.each([
    ["default rate limiting (the counter is in Redis)", {}],
    ["rateLimit: false (only the keys are in Redis)", { rateLimit: false as const }],
  ])(
    "answers 503 STORE_UNAVAILABLE on every byok route within the store's limit, and recovers after SIGCONT, with %s",
    async (_name, router) => {
      const { app, byok } = appFor(redis.port, fake, router);
      try {
        await request(app).post("/byok/keys").send({ provider: "gemini", apiKey: KEY }).expect(201);
        redis.signal("SIGSTOP");
        try {
          for (const [name, send] of ROUTES) {
            const started = Date.now();
            const res = await send(app);
            expect([name, res.status, res.body.error?.code]).toEqual([name, 503, "STORE_UNAVAILABLE"]);
            expect(Date.now() - started).toBeLessThan(2000); // the promise is ~0.5 s; generous for a loaded box
          }
        } finally {
          redis.signal("SIGCONT");
        }
        await until(() => request(app).post("/byok/chat").send({ prompt: "hi" }), 200, 5000);
        expect((await request(app).get("/byok/keys")).body.keys.map((k: { provider: string }) => k.provider)).toEqual([
          "gemini",
        ]);
      } finally {
        await byok.deleteUser("u1").catch(() => undefined);
        await byok.close();
      }
    },
  );
});

describe("byokRouter with RedisStore when Redis starts after the app", () => {
  it("answers 503 while Redis is down, works within seconds of it starting, without a restart, and prints nothing", async () => {
    const fake = await startFakeGemini();
    const port = await freePort();
    const printed: unknown[][] = [];
    const spies = [
      jest.spyOn(console, "error").mockImplementation((...args) => void printed.push(args)),
      jest.spyOn(console, "warn").mockImplementation((...args) => void printed.push(args)),
      jest.spyOn(console, "log").mockImplementation((...args) => void printed.push(args)),
      jest.spyOn(process.stderr, "write").mockImplementation((chunk) => (printed.push([chunk]), true)),
    ];
    let redis: RedisProcess | undefined;
    const { app, byok } = appFor(port, fake);
    try {
      for (const [name, send] of ROUTES) {
        const res = await send(app);
        expect([name, res.status, res.body.error?.code]).toEqual([name, 503, "STORE_UNAVAILABLE"]);
      }
      redis = await startRedisServer(port);
      const tookMs = await until(
        () => request(app).post("/byok/keys").send({ provider: "gemini", apiKey: KEY }),
        201,
        10_000,
      );
      expect(tookMs).toBeLessThan(10_000);
      for (const [name, send] of ROUTES.slice(1)) expect([name, (await send(app)).status]).not.toEqual([name, 503]);
      expect((await request(app).post("/byok/chat").send({ prompt: "hi" })).status).toBe(200);
      expect(printed).toEqual([]);
    } finally {
      for (const spy of spies) spy.mockRestore();
      await byok.deleteUser("u1").catch(() => undefined);
      await byok.close();
      await redis?.kill();
      await fake.close();
    }
  });
});

describe("byokRouter with RedisStore after Redis loses its scripts (SCRIPT FLUSH, restart, failover)", () => {
  it("answers every one of 100 concurrent requests after a flush: the limiter reloads its script, never a 503", async () => {
    const fake = await startFakeGemini();
    const redis = await startRedisServer(await freePort());
    const { app, byok } = appFor(redis.port, fake, { rateLimit: { keys: { limit: 10_000 } } });
    const admin = new Redis(redis.port, "127.0.0.1");
    try {
      expect((await request(app).get("/byok/keys")).status).toBe(200); // the limiter's script is loaded now
      for (let round = 0; round < 3; round++) {
        expect(await admin.script("FLUSH")).toBe("OK");
        const statuses = await Promise.all(
          Array.from({ length: 100 }, async () => (await request(app).get("/byok/keys")).status),
        );
        expect(statuses.filter((s) => s !== 200)).toEqual([]);
      }
    } finally {
      await admin.quit();
      await byok.close();
      await redis.kill();
      await fake.close();
    }
  });
});
