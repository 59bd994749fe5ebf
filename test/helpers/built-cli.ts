// Builds the byok-ai bin with the project's tsup config and runs it as a subprocess (plain pipes, or a pseudo-terminal via script(1)).
import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(__dirname, "../..");

/** What one run of the CLI produced. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Builds `lib/cli/main.ts` exactly as `npm run build` does (tsup.config.ts: bundle, shebang, externals),
 * CommonJS only and without .d.ts, into a fresh directory under `.tmp/`. Not into `dist/`: the package
 * test rebuilds (and first empties) `dist/` while other test files run, and a fresh clone has no `dist/`.
 * Under the repository, so the bundle's `require("commander")`, `ioredis`, `pg`… resolve as in an install.
 */
export function buildCli(): { bin: string; remove: () => void } {
  mkdirSync(join(root, ".tmp"), { recursive: true });
  const dir = mkdtempSync(join(root, ".tmp", "cli-"));
  const build = `require("tsup").build({ entry: { cli: "lib/cli/main.ts" }, format: ["cjs"], dts: false, outDir: ${JSON.stringify(dir)}, silent: true })
    .catch((e) => { console.error(e); process.exit(1); })`;
  execFileSync(process.execPath, ["-e", build], { cwd: root, stdio: "pipe" });
  return { bin: join(dir, "cli.cjs"), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

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
