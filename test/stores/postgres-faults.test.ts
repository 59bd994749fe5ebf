// PostgresStore faults on a private PostgreSQL: stopped or hung → 503 fast; back → works again, without a restart, nothing lost.
import express from "express";
import request from "supertest";
import { BYOK, byokRouter, PostgresStore } from "../../lib";
import { type FakeProviders, startFakeProviders } from "../../lib/testing";
import { TEST_MASTER_KEY } from "../helpers/canary";
import { type PostgresProcess, startPostgresServer } from "../helpers/postgres-server";
import { waitFor } from "../helpers/wait-for";

jest.setTimeout(120_000);

const KEYS = { gemini: "AIza-outage-gemini-key-0001", openai: "sk-outage-openai-key-0002" };
/** The promise is about 1 s; the bound leaves room for a loaded machine. */
const FAST_MS = 3000;

let server: PostgresProcess;
let fakes: FakeProviders;
let store: PostgresStore;
let byok: BYOK;
let app: express.Express;

beforeAll(async () => {
  server = await startPostgresServer();
  fakes = await startFakeProviders();
  store = new PostgresStore({ connectionString: server.url, table: "byok_keys" });
  await store.migrate();
  byok = new BYOK({ masterKey: TEST_MASTER_KEY, store, providers: fakes.providers });
  app = express();
  app.use((req, _res, next) => {
    (req as unknown as { user: { id: string } }).user = { id: String(req.headers["x-user"]) };
    next();
  });
  app.use(byokRouter({ byok }));
});
afterAll(async () => {
  await byok?.close();
  await fakes?.close();
  await server?.destroy();
});

const call = (method: "get" | "post", path: string, body?: object) =>
  request(app)[method](`/byok${path}`).set("x-user", "u1").send(body);

/** Every byok route while the database is unreachable: 503 STORE_UNAVAILABLE, each within FAST_MS. */
async function expectFast503s(): Promise<void> {
  const attempts = [
    () => call("get", "/keys"),
    () => call("post", "/chat", { prompt: "x" }),
    () => call("post", "/chat", { provider: "openai", prompt: "x" }),
    () => call("post", "/keys", { provider: "anthropic", apiKey: "sk-ant-outage-key-0003" }),
    () => call("post", "/keys/check", { provider: "gemini" }),
  ];
  for (const attempt of attempts) {
    const started = performance.now();
    const res = await attempt();
    const ms = performance.now() - started;
    expect([res.status, res.body.error?.code, ms < FAST_MS ? "fast" : `${Math.round(ms)} ms`]).toEqual([
      503,
      "STORE_UNAVAILABLE",
      "fast",
    ]);
  }
  const started = performance.now();
  await expect(byok.listKeys("u1")).rejects.toMatchObject({ code: "STORE_UNAVAILABLE" });
  expect(performance.now() - started).toBeLessThan(FAST_MS);
}

/** Waits until the keys route answers 200 again (the same BYOK, no restart), then proves every key still decrypts. */
async function expectRecovered(): Promise<void> {
  let res: Awaited<ReturnType<typeof call>> | undefined;
  await waitFor(async () => (res = await call("get", "/keys")).status === 200, "GET /keys to answer 200", 15_000, 100);
  expect(res!.body.keys.map((k: { provider: string; status: string }) => [k.provider, k.status])).toEqual([
    ["gemini", "ok"],
    ["openai", "ok"],
  ]);
  for (const provider of ["gemini", "openai"]) {
    const chat = await call("post", "/chat", { provider, prompt: "still here" });
    expect([chat.status, chat.body.text]).toEqual([200, "Echo: still here"]);
  }
}

describe("PostgresStore when PostgreSQL fails", () => {
  it("answers keys registered before the outage from the start", async () => {
    for (const [provider, apiKey] of Object.entries(KEYS))
      expect((await call("post", "/keys", { provider, apiKey })).status).toBe(201);
    await expectRecovered();
  });

  it("answers 503 STORE_UNAVAILABLE fast while the server is stopped, then works again once it is back, nothing lost", async () => {
    await server.stop();
    await expectFast503s();
    await server.start();
    await expectRecovered();
  });

  it("answers 503 STORE_UNAVAILABLE fast while the server hangs (SIGSTOP), then works again once it answers", async () => {
    await server.pause();
    try {
      await expectFast503s();
    } finally {
      await server.resume();
    }
    await expectRecovered();
  });
});
