// Jest globalSetup, before any test file runs: builds dist/ once (the example, CLI and package tests use the built
// package, and no test may build, emptying dist/, while others run), and starts the suite's own Redis and
// PostgreSQL on free ports. Their URLs go to the workers as REDIS_URL and DATABASE_URL; the machine's own servers
// (6379, 5432) and whatever they hold are never touched. test/global-teardown.ts stops both and removes their data.
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startPostgresServer } from "./helpers/postgres-server";
import { freePort, startRedisServer } from "./helpers/redis-server";
import { SERVICES, type Services } from "./helpers/suite-services";

/** The one line a contributor without Redis sees, before any test runs. */
const NO_REDIS =
  "npm test starts its own redis-server, and none is installed: install Redis " +
  "(Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) and run npm test again.";

function redisInstalled(): boolean {
  return ["redis-server", "redis-cli"].every((tool) => spawnSync(tool, ["--version"]).status === 0);
}

async function startServices(): Promise<Services> {
  const dir = mkdtempSync(join(tmpdir(), "byok-redis-"));
  const [redis, postgres] = await Promise.allSettled([
    freePort().then((port) => startRedisServer(port, ["--save", "", "--appendonly", "no", "--dir", dir])),
    startPostgresServer(),
  ]);
  const services: Services = {
    redis: redis.status === "fulfilled" ? redis.value : undefined,
    redisDir: dir,
    postgres: postgres.status === "fulfilled" ? postgres.value : undefined,
  };
  const failed = [redis, postgres].find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) {
    await SERVICES.stop(services);
    throw failed.reason;
  }
  return services;
}

export default async function globalSetup(): Promise<void> {
  if (!redisInstalled()) {
    const error = new Error(NO_REDIS);
    error.stack = NO_REDIS; // jest prints the stack: keep it to the one line that says what to do
    throw error;
  }
  const starting = startServices();
  // The servers start while tsup builds (synchronously); a rejection is awaited below.
  starting.catch(() => undefined);
  try {
    const { ensureBuilt } = await import("../scripts/ensure-built.mjs");
    ensureBuilt(join(__dirname, ".."), { types: true });
  } catch (error) {
    // jest runs no globalTeardown after a failed globalSetup: stop the servers here.
    await starting.then((services) => SERVICES.stop(services)).catch(() => undefined);
    throw error;
  }
  const services = await starting;
  SERVICES.set(services);
  process.env.REDIS_URL = `redis://127.0.0.1:${services.redis!.port}`;
  process.env.DATABASE_URL = services.postgres!.url;
}
