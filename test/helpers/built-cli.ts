// Runs the built byok-ai bin as a subprocess (plain pipes, or a pseudo-terminal via script(1)).
import { execFile } from "node:child_process";
import { join, resolve } from "node:path";

const root = resolve(__dirname, "../..");

/** What one run of the CLI produced. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The byok-ai bin as the package ships it: dist/cli.cjs, built from the current sources by jest's globalSetup.
 * Run from the repository, so its `require("commander")`, `ioredis`, `pg`… resolve as in an install.
 */
export const CLI_BIN = join(root, "dist/cli.cjs");

/** The environment of a run: PATH plus exactly the variables given (never the test's own REDIS_URL…). */
const envOf = (env: Record<string, string>) => ({ PATH: process.env.PATH ?? "/usr/bin:/bin", ...env });

/** Runs `node <bin> …args` with stdout and stderr as pipes (no TTY). */
export function runCli(bin: string, args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((done) => {
    execFile(process.execPath, [bin, ...args], { env: envOf(env), timeout: 20_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

/** Runs `node <bin> …args` on a pseudo-terminal (`script -qfec`); stdout and stderr arrive mixed in `stdout`. */
export function runCliOnTty(bin: string, args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const quote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
  const command = [process.execPath, bin, ...args].map(quote).join(" ");
  return new Promise((done) => {
    execFile(
      "script",
      ["-qfec", command, "/dev/null"],
      { env: envOf(env), timeout: 20_000 },
      (error, stdout, stderr) => {
        done({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr });
      },
    );
  });
}
