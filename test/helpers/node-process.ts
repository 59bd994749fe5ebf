// Runs a Node script as a child process for tests: collects its output, waits for a line, and stops it cleanly.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { resolve } from "node:path";

export const ROOT = resolve(__dirname, "../..");

/** A running `node <script>` child. */
export interface NodeProcess {
  child: ChildProcessWithoutNullStreams;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves with the first match of `pattern` in the output; rejects on exit or after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code once the process ended. */
  exited: Promise<number | null>;
  /** Closes stdin, sends SIGTERM, waits for the exit (SIGKILL after 5 s). */
  stop(): Promise<void>;
}

/** Starts `node <script> ...args` in `cwd` (the repository root by default) with `env` added to a copy of process.env. */
export function startNode(
  script: string,
  args: string[] = [],
  env: Record<string, string | undefined> = {},
  cwd = ROOT,
): NodeProcess {
  const child = spawn(process.execPath, [script, ...args], {
    cwd,
    env: { ...process.env, ...env },
    stdio: "pipe",
  });
  let text = "";
  const listeners = new Set<() => void>();
  const collect = (part: Buffer) => {
    text += part.toString("utf8");
    for (const listener of listeners) listener();
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));

  const waitFor = (pattern: RegExp, timeoutMs = 15_000) =>
    new Promise<RegExpMatchArray>((done, fail) => {
      const finish = (error?: Error, match?: RegExpMatchArray) => {
        listeners.delete(check);
        clearTimeout(timer);
        if (error) fail(error);
        else done(match!);
      };
      const check = () => {
        const match = text.match(pattern);
        if (match) finish(undefined, match);
      };
      const timer = setTimeout(
        () => finish(new Error(`${script} printed no ${pattern} within ${timeoutMs} ms. Output:\n${text}`)),
        timeoutMs,
      );
      listeners.add(check);
      void exited.then((code) =>
        finish(new Error(`${script} exited (${code}) before printing ${pattern}. Output:\n${text}`)),
      );
      check();
    });

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.stdin.end();
    child.kill("SIGTERM");
    const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(killer);
  };
  return { child, output: () => text, waitFor, exited, stop };
}
