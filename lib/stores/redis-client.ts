// Small helpers on an ioredis client for RedisStore: wait until it is ready, read many hashes at once.
import type { Cluster, Redis } from "ioredis";

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
    const listeners: [string, (e?: Error) => void][] = [["ready", () => done()], ["error", (e) => done(e ?? new Error("error"))], ["end", () => done(new Error("end"))]];
    for (const [event, fn] of listeners) client.on(event, fn);
    const timer = setTimeout(() => done(Object.assign(new Error("not ready"), { code: "NOT_READY" })), ms);
  });
}

/** HGETALL of many keys: one pipeline on a single node; on a Cluster, per key (ioredis routes each to its slot). */
export async function hgetallMany(client: Client, keys: string[]): Promise<Record<string, string>[]> {
  if (client.isCluster) return Promise.all(keys.map((key) => client.hgetall(key)));
  const replies = (await (client as Redis).pipeline(keys.map((key) => ["hgetall", key])).exec()) ?? [];
  return keys.map((_, i) => {
    const [error, hash] = replies[i] ?? [new Error("no reply")];
    if (error) throw error;
    return hash as Record<string, string>;
  });
}
