// The Lua scripts that make RedisStore's read-modify-write operations atomic, and how to run them (EVALSHA, then EVAL).
import { createHash } from "node:crypto";
import type { Cluster, Redis } from "ioredis";

/** A Lua script with its SHA1, for EVALSHA. */
export interface RedisScript {
  readonly source: string;
  readonly sha: string;
}

const script = (source: string): RedisScript => ({ source, sha: createHash("sha1").update(source).digest("hex") });

/**
 * KEYS[1] user hash, ARGV[1] provider, ARGV[2] record JSON. Keeps an existing createdAt (and drops
 * lastUsedAt, which the new JSON never has); returns the kept createdAt, or nil when it created the record.
 */
export const PUT = script(`
local old = redis.call('HGET', KEYS[1], ARGV[1])
local rec = cjson.decode(ARGV[2])
if old then rec['createdAt'] = cjson.decode(old)['createdAt'] end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(rec))
if old then return rec['createdAt'] end
return false`);

/** KEYS[1] user hash, ARGV[1] provider, ARGV[2] lastUsedAt. Never creates a record; returns 1 if it touched one. */
export const TOUCH = script(`
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then return 0 end
local rec = cjson.decode(old)
rec['lastUsedAt'] = ARGV[2]
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(rec))
return 1`);

/** KEYS[1] user hash, ARGV[1] provider, ARGV[2] expected ciphertext, ARGV[3] new ciphertext. Returns 1 if swapped. */
export const COMPARE_AND_SWAP = script(`
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then return 0 end
local rec = cjson.decode(old)
if rec['ciphertext'] ~= ARGV[2] then return 0 end
rec['ciphertext'] = ARGV[3]
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(rec))
return 1`);

/** KEYS[1] user hash. Deletes it and returns how many providers it held, in one step. */
export const DELETE_USER = script(`
local n = redis.call('HLEN', KEYS[1])
redis.call('DEL', KEYS[1])
return n`);

/** Runs a script by SHA, loading it with EVAL when the server does not know it yet (NOSCRIPT). */
export async function runScript(client: Redis | Cluster, s: RedisScript, key: string, ...args: string[]): Promise<unknown> {
  try {
    return await client.evalsha(s.sha, 1, key, ...args);
  } catch (error) {
    if (!String((error as Error | undefined)?.message).startsWith("NOSCRIPT")) throw error;
    return client.eval(s.source, 1, key, ...args);
  }
}

/**
 * Runs one script for many keys in a single pipeline (EVALSHA; calls the server does not know the
 * script for yet are sent again with EVAL). Resolves the results in order.
 * @throws the first error other than NOSCRIPT
 */
export async function runScriptPipelined(client: Redis, s: RedisScript, calls: readonly (readonly [key: string, ...args: string[]])[]): Promise<unknown[]> {
  const replies = (await client.pipeline(calls.map(([key, ...args]) => ["evalsha", s.sha, "1", key, ...args])).exec()) ?? [];
  const unknown = calls.map((_, i) => i).filter((i) => String(replies[i]?.[0]?.message).startsWith("NOSCRIPT"));
  if (unknown.length) {
    const again = (await client.pipeline(unknown.map((i) => ["eval", s.source, "1", ...calls[i]!])).exec()) ?? [];
    unknown.forEach((i, j) => (replies[i] = again[j]!));
  }
  return calls.map((_, i) => {
    const [error, result] = replies[i] ?? [new Error("no reply")];
    if (error) throw error;
    return result;
  });
}
