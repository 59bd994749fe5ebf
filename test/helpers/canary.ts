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

/** The characters of base64(`bytes`) made of their own bits alone when they start `offset` bytes into a 3-byte group. */
function base64Interior(bytes: Buffer, offset: number): string {
  const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString("base64");
  return encoded.slice(Math.ceil((8 * offset) / 6), Math.floor((8 * (offset + bytes.length)) / 6));
}

/** How an upstream might quote a key in an error: each encoding by name, whole. */
export function keyEchoes(key: string): Record<string, string> {
  const bytes = Buffer.from(key);
  const uri = encodeURIComponent(key);
  return {
    "URL-encoded": uri,
    "URL-encoded, lower-case escapes": uri.replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase()),
    "form-encoded": new URLSearchParams({ k: key }).toString().slice(2),
    base64: bytes.toString("base64"),
    "base64 of Bearer <key>": Buffer.from(`Bearer ${key}`).toString("base64"),
    "base64 of u:<key>": Buffer.from(`u:${key}`).toString("base64"),
    base64url: bytes.toString("base64url"),
    "base64url of Bearer <key>": Buffer.from(`Bearer ${key}`).toString("base64url"),
    hex: bytes.toString("hex"),
    "upper-case hex": bytes.toString("hex").toUpperCase(),
    reversed: [...key].reverse().join(""),
  };
}

/**
 * Every 8 characters in a row of `key` or of one of its encoded forms (base64 and base64url at each
 * of the 3 byte alignments, counting only the characters made of the key's own bits): what must
 * never show up outside the upstream's auth header.
 */
export function keyPieces(key: string): string[] {
  const echoes = keyEchoes(key);
  const base64 = [0, 1, 2].map((offset) => base64Interior(Buffer.from(key), offset));
  const forms = [
    key,
    echoes.reversed!,
    echoes["URL-encoded"]!,
    echoes["URL-encoded, lower-case escapes"]!,
    echoes["form-encoded"]!,
    echoes.hex!,
    echoes["upper-case hex"]!,
    ...base64,
    ...base64.map((b) => b.replace(/\+/g, "-").replace(/\//g, "_")),
  ];
  const pieces = new Set<string>();
  for (const form of forms) for (let i = 0; i + 8 <= form.length; i++) pieces.add(form.slice(i, i + 8));
  return [...pieces];
}
