// Canary secrets and leak checks: a canary must never show up anywhere but the fake upstream's auth header.
import { inspect } from "node:util";

/** A fixed master key for tests (base64, 32 bytes). */
export const TEST_MASTER_KEY = Buffer.alloc(32, 7).toString("base64");
/** A recognisable API key that tests hunt for in every output. */
export const CANARY_KEY = "AIzaCANARY-0123456789abcdefXYZW";

/** Every way a value can be seen: JSON, util.inspect (deep, with hidden fields), String, stack. */
export function renderings(value: unknown): string {
  const parts = [inspect(value, { depth: 10, showHidden: true }), String(value)];
  try {
    parts.push(JSON.stringify(value) ?? "");
  } catch {
    parts.push("<unserializable>");
  }
  if (value instanceof Error) parts.push(value.stack ?? "", inspect(value.cause, { depth: 10 }));
  return parts.join("\n");
}

/** Collects console output written while `run` executes. */
export async function captureConsole<T>(run: () => Promise<T>): Promise<{ result: T; output: string }> {
  const chunks: string[] = [];
  const methods = ["log", "info", "warn", "error", "debug"] as const;
  const originals = methods.map((m) => console[m]);
  const stdout = process.stdout.write.bind(process.stdout);
  const stderr = process.stderr.write.bind(process.stderr);
  for (const m of methods) console[m] = (...args: unknown[]) => void chunks.push(args.map((a) => inspect(a)).join(" "));
  process.stdout.write = ((c: string | Uint8Array) => (chunks.push(String(c)), true)) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => (chunks.push(String(c)), true)) as typeof process.stderr.write;
  try {
    return { result: await run(), output: chunks.join("\n") };
  } finally {
    methods.forEach((m, i) => (console[m] = originals[i]!));
    process.stdout.write = stdout;
    process.stderr.write = stderr;
  }
}
