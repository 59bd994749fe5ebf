// Router overhead: the same autocannon load against (a) Express + @google/generative-ai directly, (b) byokRouter + MemoryStore, (c) byokRouter + RedisStore.
import { type ChildProcess, fork } from "node:child_process";
import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import autocannon from "autocannon";
import { bareGeminiApp, byokApp, BENCH_BODY, BENCH_KEY, BENCH_USER, type Variant } from "./support";
import { startFakeGemini } from "../lib/testing";

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const ROLES = (process.env.BENCH_VARIANTS ?? "bare,memory,redis").split(",") as ("bare" | Variant)[];
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

interface Figures {
  rps: number;
  /** CPU time the app process spent per request, in µs (steadier than req/s on a busy machine). */
  cpuUs: number;
  p50: number;
  p99: number;
  non2xx: number;
}

/** Child process roles: the fake upstream, or one app server; each reports its port over IPC. */
async function child(role: string): Promise<void> {
  if (role === "fake") {
    const fake = await startFakeGemini({ defaultReply: { text: "Hello from the fake.", usage: { inputTokens: 3, outputTokens: 4 } } });
    setInterval(() => fake.reset(), 1000).unref(); // the fake records every request; keep its memory flat
    process.send!({ url: fake.url });
    return;
  }
  const upstream = process.env.BENCH_UPSTREAM!;
  const app = role === "bare" ? bareGeminiApp(upstream) : await byokApp(role as Variant, upstream, process.env.BENCH_PREFIX!, REDIS_URL);
  const server = app.listen(0, "127.0.0.1", () => process.send!({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }));
  server.keepAliveTimeout = 60_000;
  let served = 0;
  server.on("request", () => served++);
  process.on("message", async (m) => {
    if (m === "cpu") {
      const { user, system } = process.cpuUsage();
      process.send!({ cpuUs: user + system, served });
    }
    if (m === "stop") {
      await app.locals.close?.();
      process.exit(0);
    }
  });
}

function start(role: string, env: Record<string, string> = {}): Promise<{ proc: ChildProcess; url: string }> {
  const proc = fork(__filename, [role], { env: { ...process.env, ...env }, execArgv: [] });
  return new Promise((resolve, reject) => {
    proc.once("message", (m) => resolve({ proc, url: (m as { url: string }).url }));
    proc.once("exit", (code) => reject(new Error(`${role} exited with ${code}`)));
  });
}

function cpu(proc: ChildProcess): Promise<{ cpuUs: number; served: number }> {
  return new Promise((resolve) => (proc.once("message", (m) => resolve(m as { cpuUs: number; served: number })), proc.send("cpu")));
}

function load(url: string, seconds: number): Promise<Figures> {
  return new Promise((resolve, reject) => {
    autocannon(
      { url: `${url}/byok/chat`, method: "POST", connections: CONNECTIONS, duration: seconds, headers: { "content-type": "application/json", "x-user": BENCH_USER }, body: BENCH_BODY },
      (error, r) => (error ? reject(error) : resolve({ cpuUs: 0, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx + r.errors + r.timeouts })),
    );
  });
}

async function measure(role: Variant | "bare", upstream: string): Promise<Figures> {
  const { proc, url } = await start(role, { BENCH_UPSTREAM: upstream, BENCH_PREFIX: `bench:${randomUUID().slice(0, 8)}:` });
  try {
    await load(url, WARMUP_S);
    const before = await cpu(proc);
    const figures = await load(url, DURATION_S);
    const after = await cpu(proc);
    return { ...figures, cpuUs: (after.cpuUs - before.cpuUs) / (after.served - before.served) };
  } finally {
    await new Promise<void>((resolve) => (proc.once("exit", () => resolve()), proc.send("stop")));
  }
}

async function main(): Promise<void> {
  console.log(`overhead: ${CONNECTIONS} connections, ${WARMUP_S} s warm-up + ${DURATION_S} s, ${ROUNDS} round(s), best round per variant; fake Gemini and each app in their own child process`);
  const fake = await start("fake");
  const best: Record<string, Figures> = {};
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const role of ROLES) {
        const f = await measure(role, fake.url);
        console.log(`  round ${round + 1} ${role.padEnd(6)} ${f.rps.toFixed(0).padStart(6)} req/s  p50 ${f.p50} ms  p99 ${f.p99} ms  cpu ${f.cpuUs.toFixed(0)} µs/req${f.non2xx ? `  (${f.non2xx} non-2xx/errors!)` : ""}`);
        if (!best[role] || f.rps > best[role].rps) best[role] = f;
      }
    }
  } finally {
    fake.proc.kill();
  }
  const a = best.bare!;
  const row = (name: string, f: Figures) => `${name.padEnd(34)} ${f.rps.toFixed(0).padStart(7)} ${String(f.p50).padStart(6)} ${String(f.p99).padStart(6)} ${f.cpuUs.toFixed(0).padStart(9)}`;
  console.log(`\n${"variant".padEnd(34)} ${"req/s".padStart(7)} ${"p50 ms".padStart(6)} ${"p99 ms".padStart(6)} ${"cpu µs/req".padStart(9)}`);
  console.log(row("(a) express + @google/generative-ai", a));
  for (const [label, key] of [["(b) byokRouter + MemoryStore", "memory"], ["(c) byokRouter + RedisStore", "redis"]] as const) {
    const f = best[key];
    if (!f) continue;
    console.log(`${row(label, f)}   ratio ${(f.rps / a.rps).toFixed(3)}  added p50 ${(f.p50 - a.p50).toFixed(2)} ms  p99 ${(f.p99 - a.p99).toFixed(2)} ms  added cpu ${(f.cpuUs - a.cpuUs).toFixed(0)} µs/req`);
  }
  console.log(`(key ${BENCH_KEY.slice(0, 4)}…, one user, rate limiting on with a limit that never triggers)`);
}

const role = process.argv[2];
(role ? child(role) : main()).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
