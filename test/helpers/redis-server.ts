// Starts throw-away redis-server processes (single node or a 3-master cluster) on free ports, for store tests.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Cluster } from "ioredis";

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer().once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** Resolves once an ioredis client (or cluster) is ready. */
export function whenReady(
  client: Cluster | { status: string; once(event: string, fn: () => void): unknown },
): Promise<void> {
  return client.status === "ready"
    ? Promise.resolve()
    : new Promise((resolve) => void client.once("ready", () => resolve()));
}

/** A random free port in 30000–39999 whose cluster bus port (+10000) is free too. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 30000 + Math.floor(Math.random() * 10000);
    if ((await isFree(port)) && (await isFree(port + 10000))) return port;
  }
}

/** Resolves once `redis-server` on `port` answers PING; rejects when it still does not after `ms`. */
export async function waitForPing(port: number, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  // Asks before it looks at the clock: a caller that blocked the event loop meanwhile (jest's globalSetup builds
  // synchronously) still gets its answer.
  for (;;) {
    const pong = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ port, host: "127.0.0.1" }, () => socket.write("PING\r\n"));
      socket.once("data", (d) => (socket.destroy(), resolve(d.toString().startsWith("+PONG"))));
      socket.once("error", () => (socket.destroy(), resolve(false)));
    });
    if (pong) return;
    if (Date.now() > until) throw new Error(`redis-server on port ${port} did not answer PING within ${ms} ms`);
    await sleep(25);
  }
}

/** One redis-server child process. */
export interface RedisProcess {
  port: number;
  /** Kills it (SIGKILL, like a crash) and waits for it to exit. */
  kill(): Promise<void>;
  /** Sends it SIGSTOP (a hung server: connections stay open, nothing answers) or SIGCONT. */
  signal(signal: "SIGSTOP" | "SIGCONT"): void;
}

/** Starts `redis-server --port <port> <args>` and waits until it answers. */
export async function startRedisServer(
  port: number,
  args: string[] = ["--save", "", "--appendonly", "no"],
): Promise<RedisProcess> {
  const child: ChildProcess = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--daemonize", "no", ...args],
    { stdio: "ignore" },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await waitForPing(port).catch((error: unknown) => {
    child.kill("SIGKILL"); // never leave a server behind that no caller can stop
    throw error;
  });
  return {
    port,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
    signal: (signal) => void child.kill(signal),
  };
}

/** A running 3-master Redis Cluster. */
export interface RedisCluster {
  ports: number[];
  stop(): Promise<void>;
}

/** Starts 3 cluster-enabled redis-servers, joins them with `redis-cli --cluster create`, waits for `cluster_state:ok`. */
export async function startRedisCluster(): Promise<RedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), "byok-cluster-"));
  const ports: number[] = [];
  while (ports.length < 3) {
    const port = await freePort();
    if (!ports.includes(port)) ports.push(port);
  }
  const nodes = await Promise.all(
    ports.map((p) =>
      startRedisServer(p, [
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        join(dir, `nodes-${p}.conf`),
        "--dir",
        dir,
        "--save",
        "",
        "--appendonly",
        "no",
      ]),
    ),
  );
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.kill()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await run("redis-cli", [
      "--cluster",
      "create",
      ...ports.map((p) => `127.0.0.1:${p}`),
      "--cluster-replicas",
      "0",
      "--cluster-yes",
    ]);
    for (const port of ports) {
      for (let i = 0; ; i++) {
        const { stdout } = await run("redis-cli", ["-p", String(port), "cluster", "info"]);
        if (stdout.includes("cluster_state:ok")) break;
        if (i > 200) throw new Error(`cluster node ${port} never reached cluster_state:ok`);
        await sleep(25);
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { ports, stop };
}

/**
 * Starts a 3-master cluster and an ioredis Cluster client on it for the enclosing `describe`
 * (jest `beforeAll`/`afterAll`); call the returned function inside tests to get the client.
 */
export function useRedisCluster(): () => Cluster {
  let cluster: RedisCluster | undefined;
  let client: Cluster | undefined;
  beforeAll(async () => {
    cluster = await startRedisCluster();
    client = new Cluster(cluster.ports.map((port) => ({ host: "127.0.0.1", port })));
    await whenReady(client);
  });
  afterAll(async () => {
    await client?.quit();
    await cluster?.stop();
  });
  return () => client!;
}
