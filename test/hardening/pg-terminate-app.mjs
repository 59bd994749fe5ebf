// A plain app for the PostgreSQL-termination test: a PostgresStore behind byokRouter, made from connectionString or,
// with APP_POOL=1, from the app's own pg Pool with the one listener the docs ask for. No
// process.on("uncaughtException"): an unheard pg "error" event would end it. Prints "ready <port>".
import express from "express";
import pg from "pg";
import byokAi from "../../dist/index.cjs";
import testing from "../../dist/testing.cjs";

const { BYOK, byokRouter, PostgresStore } = byokAi;
const { startFakeProviders } = testing;

function appPool() {
  const pool = new pg.Pool({ connectionString: process.env.PG_URL });
  // docs/stores-timeouts.md: a pool the app passes in is the app's to listen to (pg emits "error" when an idle connection dies).
  pool.on("error", (error) => console.error("idle PostgreSQL connection failed:", error.code));
  return pool;
}

const table = process.env.PG_TABLE;
const store = new PostgresStore(
  process.env.APP_POOL ? { pool: appPool(), table } : { connectionString: process.env.PG_URL, table },
);
await store.migrate();
const fakes = await startFakeProviders();
const byok = new BYOK({
  masterKey: process.env.MASTER_KEY,
  store,
  providers: { gemini: { baseUrl: fakes.gemini.url, timeoutMs: 10_000 } },
});
const app = express();
app.use((req, _res, next) => ((req.user = { id: "u1" }), next()));
app.use(byokRouter({ byok, rateLimit: false }));
const server = app.listen(0, "127.0.0.1", () => console.log(`ready ${server.address().port}`));
