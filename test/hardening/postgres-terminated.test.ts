// Issue: PostgreSQL terminating a PostgresStore's connections (failover, restart, pg_terminate_backend) made pg emit
// an unheard "error" event, and Node ended the app. The app runs as a child process with no uncaughtException
// handler, as a real one does; its backends are terminated while chats are in flight and while the pool is idle.
import { Client } from "pg";
import { TEST_MASTER_KEY } from "../helpers/canary";
import { startNode, type NodeProcess } from "../helpers/node-process";
import { DATABASE_URL, uniqueName } from "../helpers/services";

const ROUNDS = 25;

describe.each([
  ["made from connectionString", {}],
  ["on the app's own pool, with the listener the docs show", { APP_POOL: "1" }],
])("an app whose PostgreSQL terminates the store's connections (a store %s)", (_, env) => {
  const appName = uniqueName("terminated");
  const table = uniqueName("terminated");
  let admin: Client;
  let app: NodeProcess;
  let base: string;

  beforeAll(async () => {
    admin = new Client({ connectionString: DATABASE_URL });
    await admin.connect();
    const url = new URL(DATABASE_URL);
    url.searchParams.set("application_name", appName);
    app = startNode("test/hardening/pg-terminate-app.mjs", [], {
      PG_URL: url.toString(),
      PG_TABLE: table,
      MASTER_KEY: TEST_MASTER_KEY,
      ...env,
    });
    const [, port] = await app.waitFor(/ready (\d+)/, 60_000);
    base = `http://127.0.0.1:${port}/byok`;
  }, 90_000);

  afterAll(async () => {
    await app?.stop();
    await admin?.query(`DROP TABLE IF EXISTS ${table}, ${table}_once`).catch(() => undefined);
    await admin?.end();
  });

  const chat = async () => (await fetch(`${base}/chat`, post({ prompt: "hi" }))).status;
  const terminate = () =>
    admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [appName]);

  it("lives on: calls in the outage answer 503 STORE_UNAVAILABLE, the next call succeeds", async () => {
    expect((await fetch(`${base}/keys`, post({ provider: "gemini", apiKey: "AIza-terminated-0000" }))).status).toBe(
      201,
    );
    const seen = new Set<number>();
    for (let round = 0; round < ROUNDS; round++) {
      // Mid-query: three chats in flight while every backend of the store is terminated.
      const inFlight = [chat(), chat(), chat()];
      await terminate();
      for (const status of await Promise.all(inFlight)) seen.add(status);
      // While idle: the pool's connections die with nothing checked out.
      expect(await chat()).toBe(200);
      await terminate();
      expect(await chat()).toBe(200);
    }
    expect([...seen].every((s) => s === 200 || s === 503)).toBe(true);
    expect(app.child.exitCode).toBeNull();
    expect(app.output()).not.toMatch(/Unhandled|error event|uncaught/i);
  }, 120_000);

  it("answers a call cut mid-query with STORE_UNAVAILABLE's error shape", async () => {
    const statuses: Response[] = [];
    for (let round = 0; round < ROUNDS && !statuses.some((r) => r.status === 503); round++) {
      const inFlight = [chat2(), chat2(), chat2()];
      await terminate();
      statuses.push(...(await Promise.all(inFlight)));
    }
    const refused = statuses.find((r) => r.status === 503);
    if (refused) expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("STORE_UNAVAILABLE");
    expect(app.child.exitCode).toBeNull();
  }, 120_000);

  const chat2 = () => fetch(`${base}/chat`, post({ prompt: "hi" }));
});

function post(body: unknown): RequestInit {
  return { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
}
