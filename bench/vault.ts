// Vault cost: seal+open ops/s through byok-ai's Vault vs raw node:crypto AES-256-GCM on the same input, same run.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { Vault, associatedData } from "../lib/vault/vault";

const N = Number(process.env.BENCH_VAULT_OPS ?? 200_000);
const apiKey = "sk-proj-" + "x".repeat(48);
const context = { userId: "user-1234", provider: "openai" };

function rawRoundTrip(key: Buffer, aad: Buffer): void {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: 16 });
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(apiKey, "utf8"), cipher.final()]);
  const tag = cipher.getAuthTag();
  const decipher = createDecipheriv("aes-256-gcm", key, iv, { authTagLength: 16 });
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  if (Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString("utf8") !== apiKey)
    throw new Error("raw mismatch");
}

function measure(label: string, run: () => void): number {
  for (let i = 0; i < 5_000; i++) run(); // warm-up
  const start = process.hrtime.bigint();
  for (let i = 0; i < N; i++) run();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const opsPerSecond = N / seconds;
  console.log(
    `${label.padEnd(34)} ${Math.round(opsPerSecond).toLocaleString("en-US").padStart(10)} seal+open/s  (${((seconds / N) * 1e6).toFixed(2)} µs each)`,
  );
  return opsPerSecond;
}

const vault = new Vault([randomBytes(32)]);
const rawKey = randomBytes(32);
console.log(`vault: ${N.toLocaleString("en-US")} round trips each`);
// The raw baseline builds the AAD once, as a caller that knows its record would; the vault builds it per call.
const aad = associatedData(context);
const raw = measure("raw node:crypto AES-256-GCM", () => rawRoundTrip(rawKey, aad));
const ours = measure("byok-ai Vault (format + AAD)", () => {
  if (vault.open(vault.seal(apiKey, context), context) !== apiKey) throw new Error("vault mismatch");
});
console.log(`ratio vault/raw: ${(ours / raw).toFixed(3)}`);
