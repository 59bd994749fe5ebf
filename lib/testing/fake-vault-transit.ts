// A fake HashiCorp Vault transit engine (encrypt/decrypt with derived keys) for tests: the key stays in the fake.
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";
import { type FakeKeyService, type KeyServiceAnswer, startKeyServiceServer } from "./fake-key-service.js";

/** Options of {@link startFakeVaultTransit}. */
export interface FakeVaultTransitOptions {
  /** Transit keys that exist (all created with `derived=true`). Defaults to `["byok"]`. */
  keys?: string[];
  /** Where the transit engine is mounted. Defaults to `"transit"`. */
  mount?: string;
}

/** A running fake Vault transit engine. */
export interface FakeVaultTransit extends FakeKeyService {
  /** The one token it accepts (`X-Vault-Token`); anything else is `403 permission denied`. */
  readonly token: string;
  /** Adds a transit key (for a rotation from one key to another). */
  createKey(name: string): void;
  /**
   * The secret of a transit key. Only for a test that proves the secret never reaches the app (it
   * appears in no answer, record or error): a real Vault never reveals it.
   */
  keyMaterial(name: string): Buffer;
}

const error = (status: number, message: string): KeyServiceAnswer => ({ status, body: { errors: [message] } });

/**
 * Starts a fake Vault transit engine on 127.0.0.1 and a random port: `POST /v1/<mount>/encrypt/<key>`
 * and `…/decrypt/<key>` as Vault answers them for a key created with `derived=true` (a `context` is
 * required, and decrypting with another context fails). Faults: `down`, `hang`, `deny` (403
 * permission denied), `wrongContext` (every decrypt fails as for a context mismatch), `garbled` (every
 * decrypt answers 200 with a `plaintext` that is not a data key).
 *
 * @example
 * ```ts
 * const fake = await startFakeVaultTransit();
 * const kek = vaultTransit({ url: fake.url, token: fake.token, keyName: "byok" });
 * ```
 */
export async function startFakeVaultTransit(options: FakeVaultTransitOptions = {}): Promise<FakeVaultTransit> {
  const token = `hvs.fake-${randomBytes(12).toString("base64url")}`;
  const secrets = new Map<string, Buffer>();
  const createKey = (name: string) => void (secrets.has(name) || secrets.set(name, randomBytes(32)));
  for (const name of options.keys ?? ["byok"]) createKey(name);
  const route = new RegExp(
    `^/v1/${(options.mount ?? "transit").replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/(encrypt|decrypt)/([^/]+)$`,
  );

  const server = await startKeyServiceServer((request, body, faults) => {
    const match = request.method === "POST" ? route.exec(request.url ?? "") : null;
    const operation = match?.[1] ?? "unknown";
    const answer = (a: KeyServiceAnswer) => ({ operation, ...a });
    if (faults.deny || request.headers["x-vault-token"] !== token) return answer(error(403, "permission denied"));
    if (!match) return answer(error(404, "unsupported path"));
    const secret = secrets.get(match[2]!);
    if (!secret) return answer(error(400, "encryption key not found"));
    let input: { plaintext?: unknown; ciphertext?: unknown; context?: unknown };
    try {
      input = JSON.parse(body) as typeof input;
    } catch {
      return answer(error(400, "failed to parse JSON input"));
    }
    if (typeof input.context !== "string" || input.context.length === 0)
      return answer(error(400, "missing 'context' for key derivation; the key was created using a derived key"));
    const derived = createHmac("sha256", secret).update(Buffer.from(input.context, "base64")).digest();
    if (operation === "encrypt") {
      if (typeof input.plaintext !== "string") return answer(error(400, "missing plaintext to encrypt"));
      const nonce = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", derived, nonce);
      const sealed = Buffer.concat([cipher.update(Buffer.from(input.plaintext, "base64")), cipher.final()]);
      const ciphertext = `vault:v1:${Buffer.concat([nonce, sealed, cipher.getAuthTag()]).toString("base64")}`;
      return answer({ status: 200, body: { data: { ciphertext, key_version: 1 } } });
    }
    const text = typeof input.ciphertext === "string" ? input.ciphertext : "";
    if (!text.startsWith("vault:v1:")) return answer(error(400, "invalid ciphertext: no prefix"));
    const bytes = Buffer.from(text.slice("vault:v1:".length), "base64");
    try {
      if (faults.wrongContext) derived[0]! ^= 1;
      const decipher = createDecipheriv("aes-256-gcm", derived, bytes.subarray(0, 12));
      decipher.setAuthTag(bytes.subarray(bytes.length - 16));
      const plaintext = Buffer.concat([decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final()]);
      const shown = faults.garbled ? "not*base64" : plaintext.toString("base64");
      return answer({ status: 200, body: { data: { plaintext: shown } } });
    } catch {
      return answer(error(400, "cipher: message authentication failed"));
    }
  });

  return Object.assign(server, {
    token,
    createKey,
    keyMaterial: (name: string) => Buffer.from(secrets.get(name) ?? Buffer.alloc(0)),
  });
}
