// Memory: RSS and heap after a warm-up and after 100k chats through byokRouter (MemoryStore, fake Gemini in a child process).
import { fork } from "node:child_process";
import { Agent, request } from "node:http";
import type { AddressInfo } from "node:net";
import { BENCH_BODY, BENCH_USER, byokApp } from "./support";
import { startFakeGemini } from "../lib/testing";

const TOTAL = Number(process.env.BENCH_MEMORY_CHATS ?? 100_000);
const CONCURRENCY = 20;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

function measure(label: string): NodeJS.MemoryUsage {
  (globalThis as { gc?: () => void }).gc?.();
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  console.log(
    `${label.padEnd(26)} rss ${mb(m.rss).padStart(9)}  heapUsed ${mb(m.heapUsed).padStart(8)}  external ${mb(m.external).padStart(8)}`,
  );
  return m;
}

async function chats(url: URL, count: number): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  let next = 0;
  let failed = 0;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        url,
        { method: "POST", agent, headers: { "content-type": "application/json", "x-user": BENCH_USER } },
        (res) => {
          if (res.statusCode !== 200) failed++;
          res.resume().on("end", resolve);
        },
      );
      req.on("error", reject);
      req.end(BENCH_BODY);
    });
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < count) await one();
    }),
  );
  agent.destroy();
  if (failed) throw new Error(`${failed} chats failed`);
}

async function main(): Promise<void> {
  const fake = fork(__filename, ["fake"], { execArgv: [] });
  const upstream = await new Promise<string>((resolve) =>
    fake.once("message", (m) => resolve((m as { url: string }).url)),
  );
  const app = await byokApp("memory", upstream, "", "");
  const server = app.listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/byok/chat`);
  try {
    console.log(
      `memory: ${TOTAL.toLocaleString("en-US")} chats through byokRouter (MemoryStore, rate limiting on), ${CONCURRENCY} keep-alive connections, app in this process`,
    );
    await chats(url, 5_000);
    const before = measure("after 5k warm-up chats");
    const start = Date.now();
    await chats(url, TOTAL);
    const after = measure(`after ${TOTAL / 1000}k more chats`);
    console.log(
      `growth: rss ${mb(after.rss - before.rss)}, heapUsed ${mb(after.heapUsed - before.heapUsed)} (${((Date.now() - start) / 1000).toFixed(1)} s)`,
    );
  } finally {
    server.closeAllConnections();
    server.close();
    await app.locals.close?.();
    fake.kill();
  }
}

if (process.argv[2] === "fake") {
  void startFakeGemini({ defaultReply: { text: "Hello from the fake." } }).then((f) => {
    setInterval(() => f.reset(), 1000).unref();
    process.send!({ url: f.url });
  });
} else {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
