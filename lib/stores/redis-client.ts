// Small helpers on an ioredis client for RedisStore: wait until it is ready, read many hashes at once.
import type { Cluster, Redis } from "ioredis";
import { HGETALL_MANY, runScriptOnKeys } from "./redis-scripts.js";

type Client = Redis | Cluster;

/** Resolves once `client` is ready; rejects on "error"/"end" or after `ms` (code NOT_READY). */
export function waitUntilReady(client: Client, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      clearTimeout(timer);
      for (const [event, fn] of listeners) client.off(event, fn);
      if (error) reject(error);
      else resolve();
    };
    const listeners: [string, (e?: Error) => void][] = [
      ["ready", () => done()],
      ["error", (e) => done(e ?? new Error("error"))],
      ["end", () => done(new Error("end"))],
    ];
    for (const [event, fn] of listeners) client.on(event, fn);
    const timer = setTimeout(() => done(Object.assign(new Error("not ready"), { code: "NOT_READY" })), ms);
  });
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
