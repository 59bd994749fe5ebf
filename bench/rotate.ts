// Rotation throughput: byok.rotate() over 100k Redis records vs the same number of raw pipelined HGET+HSET round trips, same run.
import { randomBytes, randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { BYOK, RedisStore } from "../lib";
import { type RecordJson, userKey } from "../lib/stores/redis-layout";
import { Vault } from "../lib/vault/vault";

const N = Number(process.env.BENCH_ROTATE_KEYS ?? 100_000);
const BATCH = Number(process.env.BENCH_ROTATE_BATCH ?? 1000);
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = `byok_bench_rotate_${randomUUID().slice(0, 8)}:`;
const [OLD, NEW] = [randomBytes(32), randomBytes(32)];
const CHUNK = 5_000;

const userOf = (i: number) => `bench-user-${i}`;
const rate = (n: number, ms: number) => Math.round((n / ms) * 1000);
const fmt = (n: number) => n.toLocaleString("en-US");

/** Records built exactly as RedisStore lays them out, sealed under OLD, written with pipelined HSETs. */
async function seed(redis: Redis): Promise<void> {
  const vault = new Vault([OLD]);
  const at = new Date().toISOString();
  for (let start = 0; start < N; start += CHUNK) {
    const pipeline = redis.pipeline();
    for (let i = start; i < Math.min(N, start + CHUNK); i++) {
      const userId = userOf(i);
      const value: RecordJson = {
        ciphertext: vault.seal(`sk-bench-${i}-${"x".repeat(40)}`, { userId, provider: "openai" }),
        hint: "\u2026xxxx",
        createdAt: at,
        updatedAt: at,
      };
      pipeline.hset(userKey(prefix, userId), "openai", JSON.stringify(value));
    }
    await pipeline.exec();
  }
}

/** The floor: one HGET and one HSET per record, pipelined per batch, no crypto, no scan. */
async function baseline(redis: Redis): Promise<number> {
  const started = performance.now();
  for (let start = 0; start < N; start += BATCH) {
    const keys = Array.from({ length: Math.min(BATCH, N - start) }, (_, j) => userKey(prefix, userOf(start + j)));
    const read = redis.pipeline();
    for (const key of keys) read.hget(key, "openai");
    const values = (await read.exec())!.map(([, v]) => v as string);
    const write = redis.pipeline();
    keys.forEach((key, j) => write.hset(key, "openai", values[j]!));
    await write.exec();
  }
  return performance.now() - started;
}

async function cleanup(redis: Redis): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 5000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== "0");
}

async function main(): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    console.log(`rotate: ${fmt(N)} records in Redis (prefix ${prefix}), batchSize ${BATCH}`);
    let t = performance.now();
    await seed(redis);
    console.log(`seeded in ${Math.round(performance.now() - t)} ms`);

    const byok = new BYOK({
      masterKey: NEW,
      previousMasterKeys: [OLD],
      store: new RedisStore({ url: REDIS_URL, prefix }),
    });
    t = performance.now();
    const cpu = process.cpuUsage();
    const result = await byok.rotate({ batchSize: BATCH });
    const rotateMs = performance.now() - t;
    const { user, system } = process.cpuUsage(cpu);
    await byok.close();
    if (result.scanned !== N || result.rotated !== N)
      throw new Error(`rotate saw ${JSON.stringify(result)}, expected ${N} rotated`);

    const rawMs = await baseline(redis);
    const ours = rate(N, rotateMs);
    const raw = rate(N, rawMs);
    console.log(`byok.rotate()                      ${fmt(ours).padStart(9)} keys/s  (${Math.round(rotateMs)} ms)`);
    console.log(
      `rotate's CPU in this process: ${((user + system) / N).toFixed(1)} µs per key (less sensitive to a busy machine than keys/s)`,
    );
    console.log(`raw pipelined HGET+HSET per key    ${fmt(raw).padStart(9)} keys/s  (${Math.round(rawMs)} ms)`);
    console.log(
      `ratio rotate/raw: ${(ours / raw).toFixed(3)}  (rotate also scans, decrypts, re-encrypts and compare-and-sets)`,
    );
  } finally {
    await cleanup(redis);
    await redis.quit();
  }
}

void main();
