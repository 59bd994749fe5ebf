// Builds dist/ (scripts/build.mjs) only when it is missing or older than the sources: for `npm test` (jest globalSetup) and `npm run example`.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

/** What decides the build: a change to any of these makes dist/ stale. */
const SOURCES = ["lib", "package.json", "tsup.config.ts", "tsconfig.json", "scripts/build.mjs"];

/** Newest modification time (ms) under a file or folder; 0 when it does not exist. */
function newestMtime(path) {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((newest, name) => Math.max(newest, newestMtime(join(path, name))), stat.mtimeMs);
}

/**
 * The files package.json promises (exports and bin), split into code and type declarations.
 * Read from package.json so that this list can never fall behind it.
 */
function promisedFiles(root) {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const code = new Set(Object.values(pkg.bin ?? {}));
  const types = new Set();
  const walk = (target, condition) => {
    if (typeof target === "string") {
      if (target.startsWith("./dist/")) (condition === "types" ? types : code).add(target);
    } else if (target && typeof target === "object") {
      for (const [key, value] of Object.entries(target)) walk(value, key);
    }
  };
  walk(pkg.exports);
  return { code: [...code], types: [...types] };
}

/** Oldest modification time of the given files; 0 when one is missing. */
function oldestMtime(root, files) {
  let oldest = Infinity;
  for (const file of files) {
    try {
      oldest = Math.min(oldest, statSync(join(root, file)).mtimeMs);
    } catch {
      return 0;
    }
  }
  return oldest;
}

/**
 * Runs scripts/build.mjs (tsup, quietly) unless every file package.json promises is newer than every source.
 *
 * @param {string} root the repository root
 * @param {{ types: boolean }} options `types: false` skips the .d.ts build (seconds faster) and does not
 *   empty dist/, for the example, which runs JavaScript only
 * @returns {boolean} whether it built
 */
export function ensureBuilt(root, { types }) {
  const { code, types: declarations } = promisedFiles(root);
  const outputs = types ? [...code, ...declarations] : code;
  const builtAt = oldestMtime(root, outputs);
  if (SOURCES.every((source) => newestMtime(join(root, source)) < builtAt)) return false;
  // In a child process from the repository root, so that tsup loads tsup.config.ts whatever the caller's cwd.
  const build = [join(root, "scripts", "build.mjs"), "--silent", ...(types ? [] : ["--no-types"])];
  execFileSync(process.execPath, build, { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
  return true;
}
