// The Redis and PostgreSQL servers jest's globalSetup started for the whole run, handed to its globalTeardown
// (both run in jest's main process, which is how jest lets them share state).
import { rmSync } from "node:fs";
import type { PostgresProcess } from "./postgres-server";
import type { RedisProcess } from "./redis-server";

/** The suite's servers; either may be missing when starting it failed. */
export interface Services {
  redis: RedisProcess | undefined;
  /** Redis's working directory (it keeps nothing on disk, but it is removed all the same). */
  redisDir: string;
  postgres: PostgresProcess | undefined;
}

const slot = Symbol.for("byok-ai.test.suite-services");
const store = globalThis as { [slot]?: Services };

export const SERVICES = {
  set(services: Services): void {
    store[slot] = services;
  },
  /** Stops the given servers (by default the ones {@link SERVICES.set} recorded) and removes their data directories. */
  async stop(services: Services | undefined = store[slot]): Promise<void> {
    if (!services) return;
    delete store[slot];
    await Promise.all([services.redis?.kill(), services.postgres?.destroy()]);
    rmSync(services.redisDir, { recursive: true, force: true });
  },
};
