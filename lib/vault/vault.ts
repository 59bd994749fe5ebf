// AES-256-GCM sealing of API keys under a keyring of master keys, bound to (userId, provider) by associated data.
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, type KeyObject, createSecretKey } from "node:crypto";
import { ByokError } from "../errors.js";
import { encodeSealed, IV_BYTES, parseSealed, TAG_BYTES } from "./format.js";

/** Which record a ciphertext belongs to; bound into it as associated data. */
export interface SealContext {
  userId: string;
  provider: string;
}

interface RingKey {
  id: string;
  key: KeyObject;
}

/** A short public fingerprint of a master key: 8 bytes of HMAC-SHA256, base64url (11 characters). */
export function keyIdFor(masterKey: Buffer): string {
  return createHmac("sha256", masterKey).update("byok-ai key id v1").digest().subarray(0, 8).toString("base64url");
}

function ringKey(masterKey: Buffer): RingKey {
  // The AES key is derived, not the master key itself, so the key id (an HMAC of the master key) and
  // the cipher never use the same key for two purposes. Derived once, here, never per call.
  const derived = Buffer.from(hkdfSync("sha256", masterKey, Buffer.alloc(0), "byok-ai v1 aes-256-gcm", 32));
  return { id: keyIdFor(masterKey), key: createSecretKey(derived) };
}

/**
 * Length-prefixed encoding of (userId, provider): unambiguous, so ("a:b","c") and ("a","b:c") differ.
 */
export function associatedData({ userId, provider }: SealContext): Buffer {
  const user = Buffer.from(userId, "utf8");
  const prov = Buffer.from(provider, "utf8");
  const out = Buffer.alloc(10 + 4 + user.length + 4 + prov.length);
  let at = out.write("byok-ai/v1", 0, "latin1");
  at = out.writeUInt32BE(user.length, at);
  at += user.copy(out, at);
  at = out.writeUInt32BE(prov.length, at);
  prov.copy(out, at);
  return out;
}

const unreadable = (provider: string) =>
  new ByokError("KEY_UNREADABLE", "The stored key cannot be decrypted (tampered, or encrypted under an unknown master key); ask the user to add the key again.", { provider });

/**
 * Encrypts and decrypts API keys. The first master key encrypts; all of them decrypt, chosen by the
 * key id in the ciphertext (never by trial).
 */
export class Vault {
  readonly #current: RingKey;
  readonly #byId: Map<string, RingKey>;

  /** @param masterKeys - parsed 32-byte keys, the current one first */
  constructor(masterKeys: readonly Buffer[]) {
    const ring = masterKeys.map(ringKey);
    if (ring.length === 0) throw new ByokError("CONFIG_INVALID", "Vault needs at least one master key.");
    this.#current = ring[0]!;
    this.#byId = new Map();
    for (const k of ring) if (!this.#byId.has(k.id)) this.#byId.set(k.id, k);
  }

  /** Key id of the current master key. */
  get currentKeyId(): string {
    return this.#current.id;
  }

  /** Key ids of every master key that can decrypt, current first. */
  get keyIds(): string[] {
    return [...this.#byId.keys()];
  }

  /** Encrypts `plaintext` for (userId, provider) under the current master key. */
  seal(plaintext: string, context: SealContext): string {
    return this.sealWithIv(plaintext, context, randomBytes(IV_BYTES));
  }

  /** @internal Deterministic variant, for the known-answer test only. */
  sealWithIv(plaintext: string, context: SealContext, iv: Buffer): string {
    const cipher = createCipheriv("aes-256-gcm", this.#current.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(associatedData(context));
    const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return encodeSealed({ keyId: this.#current.id, iv, ciphertext, tag: cipher.getAuthTag() });
  }

  /**
   * Decrypts a stored string for (userId, provider).
   * @throws ByokError KEY_UNREADABLE for anything but an intact ciphertext of that very record
   */
  open(sealed: string, context: SealContext): string {
    const parts = parseSealed(sealed);
    const ring = parts && this.#byId.get(parts.keyId);
    if (!parts || !ring) throw unreadable(context.provider);
    try {
      const decipher = createDecipheriv("aes-256-gcm", ring.key, parts.iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(associatedData(context));
      decipher.setAuthTag(parts.tag);
      return Buffer.concat([decipher.update(parts.ciphertext), decipher.final()]).toString("utf8");
    } catch {
      throw unreadable(context.provider);
    }
  }

  /** True when `sealed` was encrypted under the current master key. */
  isCurrent(sealed: string): boolean {
    return parseSealed(sealed)?.keyId === this.#current.id;
  }
}
