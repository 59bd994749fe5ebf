// Small helpers on an ioredis client for RedisStore: wait until it is ready without listeners, read many hashes at once.
import type { Cluster, Redis } from "ioredis";
import { HGETALL_MANY, runScriptOnKeys } from "./redis-scripts.js";

type Client = Redis | Cluster;

/** Statuses from which a client becomes ready by itself soon, so a call may wait for it. */
const CONNECTING = new Set(["wait", "connecting", "connect"]);
/** How often {@link untilReady} looks at the status while the client connects. */
const POLL_MS = 5;

/**
 * Resolves once `client` is ready. It polls the status instead of listening for "ready": the client
 * may be the app's, and the store adds no listener to it. It starts a lazy client (status "wait"),
 * and rejects (code NOT_READY) at once while the client is reconnecting or closed, or when
 * `deadline` (a `performance.now()` time) passes. So the store writes a command only to a ready
 * connection and never leaves one in ioredis's offline queue, to run after the caller was answered.
 */
export async function untilReady(client: Client, deadline: number): Promise<void> {
  if (client.status === "wait") client.connect().catch(() => undefined);
  while (client.status !== "ready") {
    if (!CONNECTING.has(client.status) || performance.now() >= deadline)
      throw Object.assign(new Error("not ready"), { code: "NOT_READY" });
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** Hashes per HGETALL_MANY call: bounds how long one script holds the (single-threaded) server. */
const HASHES_PER_SCRIPT = 250;

/**
 * HGETALL of many keys: on one node, one HGETALL_MANY script call per 250 keys (sent together); on a
 * Cluster, per key (ioredis routes each to its slot).
 */
export async function hgetallMany(client: Client, keys: string[]): Promise<Record<string, string>[]> {
  if (client.isCluster) return Promise.all(keys.map((key) => client.hgetall(key)));
  const chunks: Promise<unknown>[] = [];
  for (let at = 0; at < keys.length; at += HASHES_PER_SCRIPT)
    chunks.push(runScriptOnKeys(client, HGETALL_MANY, keys.slice(at, at + HASHES_PER_SCRIPT), []));
  return (await Promise.all(chunks)).flatMap((replies) => (replies as string[][]).map(toHash));
}

/** A flat HGETALL reply `[field, value, …]` as an object. */
function toHash(flat: string[]): Record<string, string> {
  // No prototype: a field named "__proto__" stays a field.
  const hash: Record<string, string> = Object.create(null) as Record<string, string>;
  for (let i = 0; i + 1 < flat.length; i += 2) hash[flat[i]!] = flat[i + 1]!;
  return hash;
}
