// Where the shared test services are, and unique names so parallel test files never touch each other's data.
import { randomUUID } from "node:crypto";
import type { Cluster } from "ioredis";

export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
export const DATABASE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** A short unique lower-case identifier, usable as a Redis prefix part or a PostgreSQL table name. */
export const uniqueName = (what: string): string => `byok_test_${what}_${randomUUID().replace(/-/g, "").slice(0, 10)}`;

/** Resolves once an ioredis client (or cluster) is ready. */
export function whenReady(
  client: Cluster | { status: string; once(event: string, fn: () => void): unknown },
): Promise<void> {
  return client.status === "ready"
    ? Promise.resolve()
    : new Promise((resolve) => void client.once("ready", () => resolve()));
}
