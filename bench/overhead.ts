// Router overhead: the same autocannon load against (a) Express + @google/genai directly, (a1) the same plus one raw Redis GET, (a1') plus that GET and the rate-limit counter's script, (a2) the app's own route through byok.use().chat(), (b) byokRouter + MemoryStore, (c) byokRouter + RedisStore, (h) Hono + @google/genai directly, (d) byokHandler on Hono + MemoryStore, (e) byokHandler on Hono + RedisStore; plus the floor, one raw Redis round trip.
import { type ChildProcess, fork } from "node:child_process";
import { randomUUID } from "node:crypto";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import autocannon from "autocannon";
import type { Express } from "express";
import {
  bareGeminiApp,
  bareHonoApp,
  byokApp,
  byokHandlerApp,
  coreApp,
  floorApp,
  BENCH_BODY,
  BENCH_KEY,
  BENCH_USER,
  type FetchApp,
  type With,
  type Without,
} from "./support";
import { startFakeGemini } from "../lib/testing";

/** Throughput is measured at each of these connection counts (the issue's range is 10–20). */
const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? "10,20").split(",").map(Number);
const WARMUP_CONNECTIONS = Math.max(...CONNECTIONS);
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 5);
const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const LATENCY_ROUNDS = Number(process.env.BENCH_LATENCY_ROUNDS ?? 5);
/**
 * `bare` first. A router variant may name pieces to leave out, to price them in the same run:
 * `memory-helmet`, `redis-ratelimit`, `memory-helmet-ratelimit`; or `budget` to add a daily token budget
 * per user key that is never reached (`redis-budget`, `memory-budget`): each chat then reserves before it
 * is sent and settles after, as a budgeted app's chats do. The fetch handler's variants (`hmemory`, `hredis`, with the
 * same suffixes) are compared with `hbare`, the bare Hono app of the same round, when it runs before them.
 */
const ROLES = (
  process.env.BENCH_VARIANTS ?? "bare,floor,counter,core,memory,redis,redis-budget,hbare,hmemory,hredis"
).split(",");
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

type Role = string;
const LABELS: Record<string, string> = {
  bare: "(a) express + @google/genai",
  floor: "(a1) (a) + one raw Redis GET",
  counter: "(a1') (a1) + the counter's script",
  core: "(a2) express + byok.use().chat()",
  memory: "(b) byokRouter + MemoryStore",
  redis: "(c) byokRouter + RedisStore",
  hbare: "(h) hono + @google/genai",
  hmemory: "(d) byokHandler on Hono + MemoryStore",
  hredis: "(e) byokHandler on Hono + RedisStore",
};
/** The fetch handler's variants, served by Hono on @hono/node-server. */
const HANDLER_VARIANTS: Record<string, "memory" | "redis"> = { hmemory: "memory", hredis: "redis" };
/** What a router variant's name says: `redis-helmet-budget` is RedisStore, without helmet, with a budget. */
function parts(role: Role): { variant: string; without: Without[]; extras: With[] } {
  const [variant, ...rest] = role.split("-");
  const extras = rest.filter((p): p is With => p === "budget");
  return { variant: variant!, without: rest.filter((p) => p !== "budget") as Without[], extras };
}
const label = (role: Role): string => {
  const { variant, without, extras } = parts(role);
  return `${LABELS[variant] ?? variant}${without.map((w) => ` -${w}`).join("")}${extras.map((e) => ` +${e}`).join("")}`;
};

interface Figures {
  rps: number;
  /** For (c): one raw Redis GET round trip from the app process, p50 in ms, measured after the run. */
  floorMs?: number;
  /** CPU time the app process spent per request, in µs. */
  cpuUs: number;
  /** Latency percentiles in ms with µs precision, from every 2xx response. */
  p50: number;
  p99: number;
  non2xx: number;
}

/** Whether the variant keeps its keys in Redis (and so reports the Redis floor). */
const onRedis = (role: Role): boolean => ["redis", "hredis"].includes(parts(role).variant);
/** What a variant is compared with: the bare Hono app for the fetch handler's variants when it runs, else (a). */
const baselineOf = (role: Role): Role =>
  parts(role).variant in HANDLER_VARIANTS && ROLES.includes("hbare") ? "hbare" : "bare";

/**
 * A byokRouter app (`memory`, `redis`) or a byokHandler one (`hmemory`, `hredis`), then the pieces to leave out
 * (`-helmet`, `-ratelimit`) or add (`-budget`).
 */
function routerApp(role: Role, upstream: string): Promise<Express | FetchApp> {
  const { variant, without, extras } = parts(role);
  const prefix = process.env.BENCH_PREFIX!;
  const handler = HANDLER_VARIANTS[variant];
  if (handler) return byokHandlerApp(handler, upstream, prefix, REDIS_URL, without, extras);
  if (variant !== "memory" && variant !== "redis") throw new Error(`unknown variant "${role}"`);
  return byokApp(variant, upstream, prefix, REDIS_URL, without, extras);
}

/** Serves `app` on 127.0.0.1: an Express app as it is, a fetch-style one on @hono/node-server. */
function listen(app: Express | FetchApp, onListening: (url: string) => void): Server {
  const announce = () => onListening(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const server: Server =
    "fetch" in app
      ? (serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, announce) as Server)
      : app.listen(0, "127.0.0.1", announce);
  return server;
}

/** Child process roles: the fake upstream, or one app server; each reports its port over IPC. */
async function child(role: string): Promise<void> {
  if (role === "fake") {
    const fake = await startFakeGemini({
      defaultReply: { text: "Hello from the fake.", usage: { inputTokens: 3, outputTokens: 4 } },
    });
    setInterval(() => fake.reset(), 1000).unref(); // the fake records every request; keep its memory flat
    process.send!({ url: fake.url });
    return;
  }
  const upstream = process.env.BENCH_UPSTREAM!;
  const app =
    role === "bare"
      ? bareGeminiApp(upstream)
      : role === "hbare"
        ? bareHonoApp(upstream)
        : role === "floor" || role === "counter"
          ? await floorApp(upstream, process.env.BENCH_PREFIX!, REDIS_URL, role === "counter")
          : role === "core"
            ? await coreApp(upstream)
            : await routerApp(role, upstream);
  const server = listen(app, (url) => process.send!({ url }));
  server.keepAliveTimeout = 60_000;
  let served = 0;
  server.on("request", () => served++);
  process.on("message", async (m) => {
    if (m === "cpu") {
      const { user, system } = process.cpuUsage();
      process.send!({ cpuUs: user + system, served });
    }
    if (m === "floor") process.send!({ floorMs: await app.locals.redisFloorMs?.() });
    if (m === "stop") {
      // With BENCH_CPU_PROF, the requests the profile covers (warm-up included), to price functions per request.
      if (process.env.BENCH_CPU_PROF) console.error(`profiled ${role}: pid ${process.pid}, ${served} requests`);
      await app.locals.close?.();
      process.exit(0);
    }
  });
}

function start(role: string, env: Record<string, string> = {}): Promise<{ proc: ChildProcess; url: string }> {
  // BENCH_CPU_PROF=<dir>: each child writes a V8 CPU profile there, to find where a variant spends its time.
  const profile = process.env.BENCH_CPU_PROF ? ["--cpu-prof", "--cpu-prof-dir", process.env.BENCH_CPU_PROF] : [];
  const proc = fork(__filename, [role], { env: { ...process.env, ...env }, execArgv: profile });
  return new Promise((resolve, reject) => {
    proc.once("message", (m) => resolve({ proc, url: (m as { url: string }).url }));
    proc.once("exit", (code) => reject(new Error(`${role} exited with ${code}`)));
  });
}

function cpu(proc: ChildProcess): Promise<{ cpuUs: number; served: number }> {
  return new Promise(
    (resolve) => (proc.once("message", (m) => resolve(m as { cpuUs: number; served: number })), proc.send("cpu")),
  );
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! : NaN;
}

/** autocannon's own percentiles are whole milliseconds; each response's time (a float, in ms) is recorded here instead. */
function load(url: string, seconds: number, connections: number): Promise<Figures> {
  return new Promise((resolve, reject) => {
    const times: number[] = [];
    const instance = autocannon(
      {
        url: `${url}/byok/chat`,
        method: "POST",
        connections,
        duration: seconds,
        headers: { "content-type": "application/json", "x-user": BENCH_USER },
        body: BENCH_BODY,
      },
      (error, r) => {
        if (error) return reject(error);
        const sorted = Float64Array.from(times).sort();
        resolve({
          cpuUs: 0,
          rps: r.requests.average,
          p50: percentile(sorted, 0.5),
          p99: percentile(sorted, 0.99),
          non2xx: r.non2xx + r.errors + r.timeouts,
        });
      },
    );
    instance.on("response", (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status >= 200 && status < 300) times.push(ms);
    });
  });
}

/** One app process: warm-up at full load (so the JIT has settled), then the measured run with `connections`. */
async function measure(role: Role, upstream: string, connections: number): Promise<Figures> {
  const { proc, url } = await start(role, {
    BENCH_UPSTREAM: upstream,
    BENCH_PREFIX: `bench:${randomUUID().slice(0, 8)}:`,
  });
  try {
    await load(url, WARMUP_S, WARMUP_CONNECTIONS);
    const before = await cpu(proc);
    const figures = await load(url, DURATION_S, connections);
    const after = await cpu(proc);
    const floorMs = onRedis(role)
      ? await new Promise<number>(
          (resolve) => (proc.once("message", (m) => resolve((m as { floorMs: number }).floorMs)), proc.send("floor")),
        )
      : undefined;
    return { ...figures, floorMs, cpuUs: (after.cpuUs - before.cpuUs) / (after.served - before.served) };
  } finally {
    await new Promise<void>((resolve) => (proc.once("exit", () => resolve()), proc.send("stop")));
  }
}

const signed = (x: number, digits: number): string => `${x < 0 ? "" : "+"}${x.toFixed(digits)}`;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/**
 * Runs `rounds` rounds of every role back to back, each in a fresh process, and compares each
 * variant with the bare app *of the same round*: on a shared machine the speed drifts by ±20 %
 * within minutes, so a ratio of neighbours is steadier than a ratio of bests.
 */
async function phase(
  name: string,
  upstream: string,
  connections: number,
  rounds: number,
  show: (role: Role, f: Figures, bare: Figures) => string,
): Promise<Map<Role, { f: Figures; bare: Figures }[]>> {
  const results = new Map<Role, { f: Figures; bare: Figures }[]>();
  for (let round = 1; round <= rounds; round++) {
    const measured = new Map<Role, Figures>();
    for (const role of ROLES) {
      const f = await measure(role, upstream, connections);
      measured.set(role, f);
      const bare = measured.get(baselineOf(role));
      if (!bare) throw new Error("BENCH_VARIANTS must start with bare, and have hbare before hmemory and hredis");
      if (!results.has(role)) results.set(role, []);
      results.get(role)!.push({ f, bare });
      console.log(
        `  ${name} round ${round} ${role.padEnd(6)} ${show(role, f, bare)}${f.non2xx ? `  (${f.non2xx} non-2xx/errors!)` : ""}`,
      );
    }
  }
  return results;
}

type Results = Map<Role, { f: Figures; bare: Figures }[]>;

/** The median over rounds of `pick`, right-aligned in `width`; blank for the bare app's own differences. */
function cell(
  results: Results,
  role: Role,
  width: number,
  digits: number,
  pick: (r: { f: Figures; bare: Figures }) => number,
) {
  const values = (results.get(role) ?? []).map(pick);
  return (values.length ? median(values).toFixed(digits) : "").padStart(width);
}

async function main(): Promise<void> {
  console.log(
    `overhead: fake Gemini and each app in their own child process; ${WARMUP_S} s warm-up at ${WARMUP_CONNECTIONS} connections before every measured run\n` +
      `throughput: ${CONNECTIONS.join(" and ")} connections, ${DURATION_S} s, ${ROUNDS} rounds; latency: 1 connection (no queueing), ${DURATION_S} s, ${LATENCY_ROUNDS} rounds`,
  );
  const fake = await start("fake");
  const throughput = new Map<number, Results>();
  let latency: Results;
  try {
    for (const connections of CONNECTIONS) {
      const results = await phase(`throughput ${connections}c`, fake.url, connections, ROUNDS, (role, f, bare) => {
        const ratio =
          role === "bare"
            ? ""
            : `  ratio ${(f.rps / bare.rps).toFixed(3)}  cpu ${signed(f.cpuUs - bare.cpuUs, 0)} µs/req`;
        return `${f.rps.toFixed(0).padStart(6)} req/s  cpu ${f.cpuUs.toFixed(0)} µs/req${ratio}`;
      });
      throughput.set(connections, results);
    }
    latency = await phase("latency", fake.url, 1, LATENCY_ROUNDS, (role, f, bare) => {
      const added =
        role === "bare"
          ? ""
          : `  added p50 ${signed(f.p50 - bare.p50, 3)} ms  p99 ${signed(f.p99 - bare.p99, 3)} ms  cpu ${signed(f.cpuUs - bare.cpuUs, 0)} µs/req`;
      const floor = f.floorMs === undefined ? "" : `  (floor: one Redis GET ${f.floorMs.toFixed(3)} ms)`;
      return `p50 ${f.p50.toFixed(3)} ms  p99 ${f.p99.toFixed(3)} ms${added}${floor}`;
    });
  } finally {
    fake.proc.kill();
  }

  console.log(
    `\nmedians over rounds; each ratio and difference is against the bare app of the same round: (a), or (h) for (d) and (e) when it ran`,
  );
  const header = CONNECTIONS.map(
    (c) => `${`req/s ${c}c`.padStart(10)} ${"ratio".padStart(6)} ${"+cpu µs".padStart(8)}`,
  );
  console.log(
    `${"variant".padEnd(40)} ${header.join(" ")} ${"p50 1c".padStart(7)} ${"+p50 ms".padStart(8)} ${"+p99 ms".padStart(8)} ${"+cpu µs 1c".padStart(10)}`,
  );
  for (const role of ROLES) {
    const vsBare = role !== "bare";
    const cells = CONNECTIONS.flatMap((c) => {
      const t = throughput.get(c)!;
      return [
        cell(t, role, 10, 0, (r) => r.f.rps),
        vsBare ? cell(t, role, 6, 3, (r) => r.f.rps / r.bare.rps) : "".padStart(6),
        vsBare ? cell(t, role, 8, 0, (r) => r.f.cpuUs - r.bare.cpuUs) : "".padStart(8),
      ];
    });
    cells.push(
      cell(latency, role, 7, 3, (r) => r.f.p50),
      vsBare ? cell(latency, role, 8, 3, (r) => r.f.p50 - r.bare.p50) : "".padStart(8),
      vsBare ? cell(latency, role, 8, 3, (r) => r.f.p99 - r.bare.p99) : "".padStart(8),
      vsBare ? cell(latency, role, 10, 0, (r) => r.f.cpuUs - r.bare.cpuUs) : "".padStart(10),
    );
    console.log(`${label(role).padEnd(40)} ${cells.join(" ")}`);
  }
  const floors = [...latency.entries()]
    .filter(([role]) => onRedis(role))
    .flatMap(([, rounds]) => rounds.map((r) => r.f.floorMs!))
    .filter(Number.isFinite);
  if (floors.length)
    console.log(`floor: one raw Redis GET round trip from the app process, p50 ${median(floors).toFixed(3)} ms`);
  console.log(
    `targets (issue 34): ratio >= 0.90 at 10 and 20 connections (redis), >= 0.85 (redis-budget); at 1 connection +p50 <= 0.5 ms (redis); memory no slower than redis\n` +
      `(key ${BENCH_KEY.slice(0, 4)}…, one user, rate limiting on with a limit that never triggers; (a1) prices one Redis round trip in an app, (a1') that trip with the shared counter, (a2) the core and provider without the router)`,
  );
}

const role = process.argv[2];
(role ? child(role) : main()).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
