// The Lua scripts that make RedisStore's read-modify-write operations atomic, and how to run them (EVALSHA, then EVAL).
import { createHash } from "node:crypto";
import type { Cluster, Redis } from "ioredis";
import type { CompareAndSwap } from "../core/types.js";
import { recordField } from "./store-support.js";

/** A Lua script with its SHA1, for EVALSHA. */
export interface RedisScript {
  readonly source: string;
  readonly sha: string;
}

const script = (source: string): RedisScript => ({ source, sha: createHash("sha1").update(source).digest("hex") });

/**
 * `record(json)`: the stored record, or nil for a value that is not RedisStore's format (not JSON, not
 * an object, a field missing or of the wrong type, as `toRecord` judges): such a record is broken, no
 * script may fail on it, and none but PUT changes it.
 */
const RECORD = `
local function record(json)
  if not json then return nil end
  local ok, rec = pcall(cjson.decode, json)
  if not ok or type(rec) ~= 'table' then return nil end
  for _, field in ipairs({'ciphertext', 'hint', 'createdAt', 'updatedAt'}) do
    if type(rec[field]) ~= 'string' then return nil end
  end
  return rec
end`;

/**
 * KEYS[1] user hash, ARGV[1] provider, ARGV[2] record JSON. Keeps an existing record's createdAt
 * (and drops lastUsedAt and status, which the new JSON never has); returns the createdAt stored when
 * it replaced a record (the new one when the old was broken), or nil when it created the record.
 */
export const PUT = script(`${RECORD}
local old = redis.call('HGET', KEYS[1], ARGV[1])
local rec = cjson.decode(ARGV[2])
local prev = record(old)
if prev then rec['createdAt'] = prev['createdAt'] end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(rec))
if old then return rec['createdAt'] end
return false`);

/** KEYS[1] user hash, ARGV[1] provider, ARGV[2] lastUsedAt. Never creates a record; returns 1 if it touched one. */
export const TOUCH = script(`${RECORD}
local rec = record(redis.call('HGET', KEYS[1], ARGV[1]))
if not rec then return 0 end
rec['lastUsedAt'] = ARGV[2]
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(rec))
return 1`);

/**
 * KEYS[1] user hash, ARGV[1] provider, ARGV[2] expected ciphertext, ARGV[3] a stored status or "ok",
 * ARGV[4] statusUntil or "". Sets `status` (and `statusUntil` when not empty, else removes it), or
 * removes both for "ok", only while the ciphertext is the expected one; returns 1 if it wrote.
 */
export const SET_STATUS = script(`${RECORD}
local rec = record(redis.call('HGET', KEYS[1], ARGV[1]))
if not rec or rec['ciphertext'] ~= ARGV[2] then return 0 end
rec['status'] = nil
rec['statusUntil'] = nil
if ARGV[3] ~= 'ok' then rec['status'] = ARGV[3] end
if ARGV[3] ~= 'ok' and ARGV[4] ~= '' then rec['statusUntil'] = ARGV[4] end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(rec))
return 1`);

/** KEYS[1] user hash, ARGV[1] provider, ARGV[2] expected ciphertext, ARGV[3] new ciphertext. Returns 1 if swapped. */
export const COMPARE_AND_SWAP = script(`${RECORD}
local rec = record(redis.call('HGET', KEYS[1], ARGV[1]))
if not rec or rec['ciphertext'] ~= ARGV[2] then return 0 end
rec['ciphertext'] = ARGV[3]
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(rec))
return 1`);

/**
 * COMPARE_AND_SWAP for many records in one call (one server round trip and one command to parse):
 * KEYS[i] user hash, ARGV[3i-2] provider, ARGV[3i-1] expected ciphertext, ARGV[3i] new ciphertext.
 * Returns a 1 (swapped) or 0 per key. Single node only: a Cluster refuses keys of several slots.
 */
export const COMPARE_AND_SWAP_MANY = script(`${RECORD}
local out = {}
for i = 1, #KEYS do
  local j = (i - 1) * 3
  local rec = record(redis.call('HGET', KEYS[i], ARGV[j + 1]))
  out[i] = 0
  if rec and rec['ciphertext'] == ARGV[j + 2] then
    rec['ciphertext'] = ARGV[j + 3]
    redis.call('HSET', KEYS[i], ARGV[j + 1], cjson.encode(rec))
    out[i] = 1
  end
end
return out`);

/**
 * HGETALL of every KEYS[i] in one call: a flat [field, value, …] array per key. One command and one
 * reply instead of one per hash, which is most of the client's work when scan reads thousands of
 * small hashes. Single node only (a Cluster refuses keys of several slots).
 */
export const HGETALL_MANY = script(`
local out = {}
for i = 1, #KEYS do out[i] = redis.call('HGETALL', KEYS[i]) end
return out`);

/** KEYS[1] user hash. Deletes it and returns how many providers it held, in one step. */
export const DELETE_USER = script(`
local n = redis.call('HLEN', KEYS[1])
redis.call('DEL', KEYS[1])
return n`);

/** Runs a script by SHA, loading it with EVAL when the server does not know it yet (NOSCRIPT). */
export function runScript(client: Redis | Cluster, s: RedisScript, key: string, ...args: string[]): Promise<unknown> {
  return runScriptOnKeys(client, s, [key], args);
}

/** {@link runScript} with any number of keys (all in one slot on a Cluster). */
export async function runScriptOnKeys(
  client: Redis | Cluster,
  s: RedisScript,
  keys: readonly string[],
  args: readonly string[],
): Promise<unknown> {
  try {
    return await client.evalsha(s.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!String((error as Error | undefined)?.message).startsWith("NOSCRIPT")) throw error;
    return client.eval(s.source, keys.length, ...keys, ...args);
  }
}

/** Records per COMPARE_AND_SWAP_MANY call: bounds how long one script holds the (single-threaded) server. */
const SWAPS_PER_SCRIPT = 250;

/**
 * Compare-and-sets many records, `keys[i]` being the hash of `swaps[i]`: on one node, one script call
 * per 250 records (sent together); on a Cluster, where a script cannot span slots, one per record.
 */
export async function compareAndSwapAll(
  client: Redis | Cluster,
  keys: readonly string[],
  swaps: readonly CompareAndSwap[],
): Promise<boolean[]> {
  if (client.isCluster) {
    return Promise.all(
      swaps.map(
        async (s, i) =>
          (await runScript(
            client,
            COMPARE_AND_SWAP,
            keys[i]!,
            recordField(s.provider, s.label),
            s.expectedCiphertext,
            s.ciphertext,
          )) === 1,
      ),
    );
  }
  const chunks: Promise<unknown>[] = [];
  for (let at = 0; at < swaps.length; at += SWAPS_PER_SCRIPT) {
    const args = swaps
      .slice(at, at + SWAPS_PER_SCRIPT)
      .flatMap((s) => [recordField(s.provider, s.label), s.expectedCiphertext, s.ciphertext]);
    chunks.push(runScriptOnKeys(client, COMPARE_AND_SWAP_MANY, keys.slice(at, at + SWAPS_PER_SCRIPT), args));
  }
  return (await Promise.all(chunks)).flatMap((replies) => (replies as unknown[]).map((reply) => reply === 1));
}
