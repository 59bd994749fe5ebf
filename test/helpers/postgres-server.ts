// Starts a throw-away PostgreSQL (initdb + pg_ctl on a temp dir and a free port) that a fault test may stop, pause and restart.
import { execFile } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./redis-server";

const run = promisify(execFile);

/** Debian's server binaries, newest major first: `/usr/lib/postgresql/<major>/bin`. */
function binDir(): string {
  const root = "/usr/lib/postgresql";
  const majors = existsSync(root) ? readdirSync(root).filter((d) => /^\d+$/.test(d)) : [];
  const newest = majors.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error("no PostgreSQL server binaries under /usr/lib/postgresql/<major>/bin");
  return join(root, newest, "bin");
}

/** One private PostgreSQL server; never the shared one on 5432. */
export interface PostgresProcess {
  port: number;
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust authentication). */
  url: string;
  /** Stops the server (`pg_ctl stop -m fast`: sessions are cut, as in an outage) and waits until it is down. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data directory, and waits until it accepts connections. */
  start(): Promise<void>;
  /** SIGSTOP to the server and its backends: connections stay open but nothing answers. */
  pause(): Promise<void>;
  /** SIGCONT to the processes {@link PostgresProcess.pause} stopped. */
  resume(): Promise<void>;
  /** Stops it for good and removes its data directory. */
  destroy(): Promise<void>;
}

/**
 * `initdb` on a temp directory and `pg_ctl start` on a free port, listening on 127.0.0.1 and a socket
 * in the temp directory. As root, runs both as the `postgres` OS user (PostgreSQL refuses root).
 */
export async function startPostgresServer(): Promise<PostgresProcess> {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), "byok-pg-"));
  const data = join(dir, "data");
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const [uid, gid] = await Promise.all(
      ["-u", "-g"].map(async (f) => Number((await run("id", [f, "postgres"])).stdout)),
    );
    chownSync(dir, uid!, gid!);
  }
  const pg = (tool: string, args: string[]) =>
    asRoot ? run("runuser", ["-u", "postgres", "--", join(bin, tool), ...args]) : run(join(bin, tool), args);
  const port = await freePort();
  const ctl = (...args: string[]) => pg("pg_ctl", ["-D", data, "-w", "-t", "30", ...args]);
  const start = async () => {
    await ctl(
      "-l",
      join(dir, "server.log"),
      "-o",
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`,
      "start",
    );
  };
  let paused: number[] = [];
  const signalAll = async (signal: NodeJS.Signals): Promise<number[]> => {
    const postmaster = Number(readFileSync(join(data, "postmaster.pid"), "utf8").split("\n")[0]);
    const { stdout } = await run("ps", ["-o", "pid=", "--ppid", String(postmaster)]).catch(() => ({ stdout: "" }));
    const pids = [postmaster, ...stdout.split(/\s+/).filter(Boolean).map(Number)];
    for (const pid of pids) process.kill(pid, signal);
    return pids;
  };

  await pg("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "--no-instructions", "-E", "UTF8"]);
  await start();
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: async () => void (await ctl("-m", "fast", "stop")),
    start,
    pause: async () => void (paused = await signalAll("SIGSTOP")),
    resume: async () => {
      for (const pid of paused) process.kill(pid, "SIGCONT");
      paused = [];
    },
    destroy: async () => {
      for (const pid of paused) process.kill(pid, "SIGCONT");
      if (existsSync(join(data, "postmaster.pid"))) await ctl("-m", "immediate", "stop").catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
