// Where the suite's Redis and PostgreSQL are, and unique names so parallel test files never touch each other's data.
import { randomUUID } from "node:crypto";

/** A URL jest's globalSetup (test/global-setup.ts) exported; there is no default, so a machine's own server is never used. */
function suiteUrl(name: "REDIS_URL" | "DATABASE_URL"): string {
  const url = process.env[name];
  if (!url)
    throw new Error(
      `${name} is not set: run the tests with jest (npm test), whose globalSetup starts a private server`,
    );
  return url;
}

/** The suite's private Redis (a free port on 127.0.0.1, never 6379). */
export const REDIS_URL = suiteUrl("REDIS_URL");
/** The suite's private PostgreSQL (a free port on 127.0.0.1, never 5432). */
export const DATABASE_URL = suiteUrl("DATABASE_URL");

/** A short unique lower-case identifier, usable as a Redis prefix part or a PostgreSQL table name. */
export const uniqueName = (what: string): string => `byok_test_${what}_${randomUUID().replace(/-/g, "").slice(0, 10)}`;

export { whenReady } from "./redis-server";
