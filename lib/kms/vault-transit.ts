// vaultTransit(): data keys wrapped by a HashiCorp Vault (or OpenBao) transit key, over its HTTP API with fetch.
import { inspect } from "node:util";
import { checkDuration, checkOptionsObject, type KeysEnum } from "../core/option-checks.js";
import { ByokError } from "../errors.js";
import {
  DEFAULT_KEY_SERVICE_TIMEOUT_MS,
  encodeWrapContext,
  type KeyEncryptionKey,
  keyServiceUnavailable,
  withTimeout,
  wrappedKeyUnreadable,
} from "../vault/key-encryption.js";

/** Options of {@link vaultTransit}. */
export interface VaultTransitOptions {
  /** Vault's address, e.g. `"https://vault.internal:8200"` (BYOK_VAULT_ADDR). */
  url: string;
  /** A token whose policy allows `update` on `<mount>/encrypt/<keyName>` and `<mount>/decrypt/<keyName>` (BYOK_VAULT_TOKEN). */
  token: string;
  /** The transit key, created with `derived=true` so that the wrap context binds (BYOK_VAULT_KEY). */
  keyName: string;
  /** Where the transit engine is mounted. Defaults to `"transit"`. */
  mount?: string;
  /** Limit per Vault call, in milliseconds. Defaults to 500 (see docs/key-encryption.md). */
  timeoutMs?: number;
}

const SERVICE = "Vault transit";
const NAME = /^[A-Za-z0-9_.-]{1,128}$/;
const MOUNT = /^[A-Za-z0-9_-][A-Za-z0-9_./-]{0,127}$/;
const KNOWN: KeysEnum<VaultTransitOptions> = { url: true, token: true, keyName: true, mount: true, timeoutMs: true };

function configError(message: string): ByokError {
  return new ByokError("CONFIG_INVALID", `vaultTransit(): ${message}`);
}

function checkUrl(value: unknown): string {
  let url: URL | undefined;
  try {
    url = typeof value === "string" ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:") || url.username || url.search || url.hash)
    throw configError('url must be Vault\'s http(s) address with no credentials or query, e.g. "https://vault:8200".');
  return url.href.replace(/\/+$/, "");
}

class VaultTransitKey implements KeyEncryptionKey {
  readonly id: string;
  readonly #token: string;
  readonly #encryptUrl: string;
  readonly #decryptUrl: string;
  readonly #timeoutMs: number;

  constructor(options: Required<VaultTransitOptions>) {
    this.id = `vault-transit:${options.mount}/${options.keyName}`;
    this.#token = options.token;
    this.#encryptUrl = `${options.url}/v1/${options.mount}/encrypt/${options.keyName}`;
    this.#decryptUrl = `${options.url}/v1/${options.mount}/decrypt/${options.keyName}`;
    this.#timeoutMs = options.timeoutMs;
  }

  async wrap(dataKey: Uint8Array, context: Record<string, string>): Promise<string> {
    const body = {
      plaintext: Buffer.from(dataKey).toString("base64"),
      context: encodeWrapContext(context).toString("base64"),
    };
    const data = await this.#call(this.#encryptUrl, body, "encrypt");
    if (typeof data.ciphertext !== "string" || !data.ciphertext.startsWith("vault:"))
      throw keyServiceUnavailable(SERVICE, "its encrypt answer had no ciphertext; check the address points to Vault.");
    return data.ciphertext;
  }

  async unwrap(wrapped: string, context: Record<string, string>): Promise<Uint8Array> {
    if (!wrapped.startsWith("vault:")) throw wrappedKeyUnreadable(SERVICE);
    const body = { ciphertext: wrapped, context: encodeWrapContext(context).toString("base64") };
    const data = await this.#call(this.#decryptUrl, body, "decrypt");
    const key = typeof data.plaintext === "string" ? Buffer.from(data.plaintext, "base64") : undefined;
    // A decrypt that succeeded opened this very record: a plaintext that is no data key is the service's fault.
    if (!key || key.length !== 32)
      throw keyServiceUnavailable(
        SERVICE,
        "its decrypt answer had no 32-byte plaintext; check the address points to Vault.",
      );
    return key;
  }

  /** One POST with the token; Vault's answers mapped to KEY_UNREADABLE (this record) or KEY_SERVICE_UNAVAILABLE. */
  async #call(url: string, body: object, operation: "encrypt" | "decrypt"): Promise<Record<string, unknown>> {
    return withTimeout(SERVICE, this.#timeoutMs, async (signal) => {
      let response: Response;
      try {
        response = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json", "x-vault-token": this.#token },
          body: JSON.stringify(body),
          signal,
          redirect: "error",
        });
      } catch (error) {
        if (ByokError.is(signal.reason)) throw signal.reason;
        throw keyServiceUnavailable(SERVICE, "it cannot be reached; check BYOK_VAULT_ADDR (url) and the network.", {
          type: error instanceof Error ? error.name : typeof error,
        });
      }
      const text = await response.text().catch(() => "");
      let json: { data?: Record<string, unknown>; errors?: unknown } | undefined;
      try {
        json = JSON.parse(text) as typeof json;
      } catch {
        json = undefined;
      }
      if (response.ok && json && typeof json.data === "object" && json.data !== null) return json.data;
      const errors = Array.isArray(json?.errors) ? json.errors.join(" ") : "";
      if (response.status === 400 && operation === "decrypt" && !/not found/i.test(errors))
        throw wrappedKeyUnreadable(SERVICE);
      if (response.status === 403)
        throw keyServiceUnavailable(
          SERVICE,
          `it refused the token or its policy (403 permission denied); check the token (BYOK_VAULT_TOKEN) and that its policy allows update on ${operation}.`,
          { status: 403 },
        );
      throw keyServiceUnavailable(
        SERVICE,
        `it answered ${response.status} to ${operation}; check that the transit key exists (BYOK_VAULT_KEY) and was created with derived=true.`,
        { status: response.status },
      );
    });
  }

  /** Only the id: never the token. */
  toJSON(): { id: string } {
    return { id: this.id };
  }

  [inspect.custom](): string {
    return `vaultTransit { id: '${this.id}' }`;
  }
}

/**
 * A {@link KeyEncryptionKey} in HashiCorp Vault's (or OpenBao's) transit engine: data keys are
 * wrapped by `POST /v1/<mount>/encrypt/<keyName>` and unwrapped by `…/decrypt/…`, with the record's
 * owner and provider as the key-derivation `context` (create the key with `derived=true`). Plain
 * HTTP through `fetch`; no SDK. The transit key never leaves Vault.
 *
 * @throws ByokError CONFIG_INVALID for a malformed option, naming it
 * @example
 * ```ts
 * const byok = new BYOK({
 *   keyEncryption: vaultTransit({
 *     url: process.env.BYOK_VAULT_ADDR!,
 *     token: process.env.BYOK_VAULT_TOKEN!,
 *     keyName: "byok",
 *   }),
 * });
 * ```
 */
export function vaultTransit(options: VaultTransitOptions): KeyEncryptionKey {
  const o = checkOptionsObject<VaultTransitOptions>(options, KNOWN, "vaultTransit()");
  const url = checkUrl(o.url);
  if (typeof o.token !== "string" || o.token.length === 0 || /\s/.test(o.token))
    throw configError("token must be a Vault token (BYOK_VAULT_TOKEN), a non-empty string without spaces.");
  if (typeof o.keyName !== "string" || !NAME.test(o.keyName))
    throw configError('keyName must name the transit key: letters, digits, "_", "-", "." (BYOK_VAULT_KEY).');
  const mount = o.mount ?? "transit";
  if (typeof mount !== "string" || !MOUNT.test(mount) || mount.includes("..") || mount.endsWith("/"))
    throw configError('mount must be the transit engine\'s path, e.g. "transit".');
  const timeoutMs = checkDuration(o.timeoutMs ?? DEFAULT_KEY_SERVICE_TIMEOUT_MS, "vaultTransit(): timeoutMs", 60_000);
  return new VaultTransitKey({ url, token: o.token, keyName: o.keyName, mount, timeoutMs });
}
