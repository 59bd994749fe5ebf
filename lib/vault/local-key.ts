// localKey(masterKey): the key-encryption key that lives in the process (BYOK_MASTER_KEY), today's behaviour and the default.
import { createCipheriv, createDecipheriv, createSecretKey, hkdfSync, type KeyObject, randomBytes } from "node:crypto";
import { inspect } from "node:util";
import { encodeWrapContext, type KeyEncryptionKey, wrappedKeyUnreadable } from "./key-encryption.js";
import { parseMasterKey } from "./master-key.js";
import { keyIdFor } from "./vault.js";

const WRAPPED = /^[A-Za-z0-9_-]{80}$/; // 12-byte IV + 32-byte key + 16-byte tag, base64url

/**
 * A master key held in the process. Records it protects keep today's `v1` format (sealed under a key
 * derived from the master key, no data key to wrap: a wrap in the same process would add nothing).
 * `wrap`/`unwrap` serve code that uses it as any other {@link KeyEncryptionKey}.
 */
class LocalKey implements KeyEncryptionKey {
  readonly id: string;
  readonly #masterKey: Buffer;
  readonly #wrapKey: KeyObject;

  constructor(masterKey: Buffer) {
    this.#masterKey = masterKey;
    this.id = keyIdFor(masterKey);
    this.#wrapKey = createSecretKey(
      Buffer.from(hkdfSync("sha256", masterKey, Buffer.alloc(0), "byok-ai v2 wrap aes-256-gcm", 32)),
    );
  }

  /** The master key behind `kek` when it is a localKey of this copy of byok-ai, for v1 records. */
  static masterKeyOf(kek: KeyEncryptionKey): Buffer | undefined {
    return #masterKey in kek ? (kek as LocalKey).#masterKey : undefined;
  }

  async wrap(dataKey: Uint8Array, context: Record<string, string>): Promise<string> {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.#wrapKey, iv, { authTagLength: 16 });
    cipher.setAAD(encodeWrapContext(context));
    const body = Buffer.concat([cipher.update(dataKey), cipher.final()]);
    return Buffer.concat([iv, body, cipher.getAuthTag()]).toString("base64url");
  }

  async unwrap(wrapped: string, context: Record<string, string>): Promise<Uint8Array> {
    if (!WRAPPED.test(wrapped)) throw wrappedKeyUnreadable("localKey");
    const bytes = Buffer.from(wrapped, "base64url");
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#wrapKey, bytes.subarray(0, 12), { authTagLength: 16 });
      decipher.setAAD(encodeWrapContext(context));
      decipher.setAuthTag(bytes.subarray(44));
      return Buffer.concat([decipher.update(bytes.subarray(12, 44)), decipher.final()]);
    } catch {
      throw wrappedKeyUnreadable("localKey");
    }
  }

  /** Only the id: never the key. */
  toJSON(): { id: string } {
    return { id: this.id };
  }

  [inspect.custom](): string {
    return `localKey { id: '${this.id}' }`;
  }
}

/**
 * The key-encryption key held in the process: the master key you give `new BYOK({ masterKey })`,
 * as a {@link KeyEncryptionKey}. `keyEncryption: localKey(k)` is the same as `masterKey: k`, and
 * `previousKeyEncryption: [localKey(old)]` as `previousMasterKeys: [old]`.
 *
 * @param masterKey - 32 bytes as base64 (44 chars), hex (64 chars) or a Buffer
 * @throws ByokError CONFIG_INVALID for a malformed master key (the message names `npx byok-ai keygen`)
 * @example
 * ```ts
 * const byok = new BYOK({ keyEncryption: localKey(process.env.BYOK_MASTER_KEY!) });
 * ```
 */
export function localKey(masterKey: string | Buffer): KeyEncryptionKey {
  return new LocalKey(parseMasterKey(masterKey, "localKey(masterKey)"));
}

/** The master key behind a localKey (of this copy of byok-ai), else `undefined`. */
export const localMasterKeyOf = (kek: KeyEncryptionKey): Buffer | undefined => LocalKey.masterKeyOf(kek);
