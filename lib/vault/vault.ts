// AES-256-GCM sealing of API keys under a keyring of master keys, bound to (userId, provider, label) by associated data.
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  hkdfSync,
  randomBytes,
  type KeyObject,
  createSecretKey,
} from "node:crypto";
import { ByokError } from "../errors.js";
import { DEFAULT_LABEL } from "../core/types.js";
import { encodeSealed, IV_BYTES, parseSealed, type SealedParts, TAG_BYTES } from "./format.js";

/** Which record a ciphertext belongs to; bound into it as associated data. */
export interface SealContext {
  userId: string;
  provider: string;
  /**
   * The record's label. Label `"default"` (or none) is bound as 0.1 bound every record, so every record written
   * before labels existed reads as before; any other label is bound into the associated data.
   */
  label?: string;
  /**
   * The endpoint the key was registered with (a key that carries its own endpoint: Azure OpenAI, a
   * self-hosted server), so a stored key cannot be pointed elsewhere. Absent for every other key.
   */
  endpoint?: string;
  /**
   * The region or location a structured credential names (Bedrock, Vertex), so a stored credential cannot be
   * moved to another region. Absent for every other key.
   */
  region?: string;
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

const AD_PREFIX = Buffer.from("byok-ai/v1", "latin1");

/** A label that is bound into a record's associated data: any but `"default"`, which is bound as 0.1 bound it (not at all). */
export const ownLabel = (label: string | undefined): string | undefined =>
  label === DEFAULT_LABEL ? undefined : label;

/** The associated data of a record with a label of its own starts apart, so no layout can be read as the other. */
const AD_LABELLED_PREFIX = Buffer.from("byok-ai/v1+label", "latin1");

/**
 * The associated data of a record with a region starts apart again, and always holds five parts (userId,
 * provider, label, `+` and the endpoint or "" for none, region), so it can be read neither as another layout nor
 * as another record (an endpoint of "" is not no endpoint).
 */
const AD_REGION_PREFIX = Buffer.from("byok-ai/v1+region", "latin1");

/** The prefix and the parts of a record's associated data (see {@link associatedData}). */
function adParts({ userId, provider, label, endpoint, region }: SealContext): [Buffer, string[]] {
  if (region !== undefined)
    return [
      AD_REGION_PREFIX,
      [userId, provider, label ?? DEFAULT_LABEL, endpoint === undefined ? "" : `+${endpoint}`, region],
    ];
  const own = ownLabel(label);
  const prefix = own === undefined ? AD_PREFIX : AD_LABELLED_PREFIX;
  return [
    prefix,
    [userId, provider, ...(own === undefined ? [] : [own]), ...(endpoint === undefined ? [] : [endpoint])],
  ];
}

/**
 * Length-prefixed encoding of (userId, provider), then of the endpoint only when there is one (so
 * every record written without one reads as before): unambiguous, so ("a:b","c") and ("a","b:c") differ.
 * A record labelled other than `"default"` encodes (userId, provider, label, endpoint?) after a prefix of its own;
 * a record with a region (userId, provider, label, endpoint, region) after another.
 */
export function associatedData(context: SealContext): Buffer {
  const [prefix, parts] = adParts(context);
  const size = parts.reduce((total, part) => total + 4 + Buffer.byteLength(part, "utf8"), prefix.length);
  const out = Buffer.allocUnsafe(size);
  let at = prefix.copy(out, 0);
  for (const part of parts) {
    at = out.writeUInt32BE(Buffer.byteLength(part, "utf8"), at);
    at += out.write(part, at, "utf8");
  }
  return out;
}

/** The error for a record that does not decrypt: the one message, whichever format or key. */
export const unreadable = (provider: string) =>
  new ByokError(
    "KEY_UNREADABLE",
    "The stored key cannot be decrypted (tampered, or encrypted under an unknown master key); ask the user to add the key again.",
    { provider },
  );

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

  /** Encrypts `plaintext` for (userId, provider) under the current master key, with a fresh random 96-bit IV. */
  seal(plaintext: string, context: SealContext): string {
    return this.#seal(Buffer.from(plaintext, "utf8"), associatedData(context), randomBytes(IV_BYTES));
  }

  /** @internal Deterministic variant, for the known-answer test only. */
  sealWithIv(plaintext: string, context: SealContext, iv: Buffer): string {
    return this.#seal(Buffer.from(plaintext, "utf8"), associatedData(context), iv);
  }

  /**
   * Decrypts a stored string for (userId, provider).
   * @throws ByokError KEY_UNREADABLE for anything but an intact ciphertext of that very record
   */
  open(sealed: string, context: SealContext): string {
    const plaintext = this.openBytes(sealed, context);
    const text = plaintext.toString("utf8");
    plaintext.fill(0);
    return text;
  }

  /**
   * Like {@link Vault.open}, as bytes the caller zeroes once used (for re-encryption under another key).
   * @throws ByokError KEY_UNREADABLE for anything but an intact ciphertext of that very record
   */
  openBytes(sealed: string, context: SealContext): Buffer {
    return this.#open(parseSealed(sealed), associatedData(context), context.provider);
  }

  /**
   * Re-encrypts a stored string under the current master key, parsing it once: `undefined` when it
   * already is under the current key (left as is, like {@link Vault.isCurrent}), else the new ciphertext.
   * The plaintext never becomes a string and its bytes are zeroed once sealed again.
   * @throws ByokError KEY_UNREADABLE for anything but an intact ciphertext of that very record
   */
  reseal(sealed: string, context: SealContext): string | undefined {
    const parts = parseSealed(sealed);
    if (parts?.keyId === this.#current.id) return undefined;
    const aad = associatedData(context);
    const plaintext = this.#open(parts, aad, context.provider);
    try {
      return this.#seal(plaintext, aad, randomBytes(IV_BYTES));
    } finally {
      plaintext.fill(0);
    }
  }

  /**
   * Whether `sealed` decrypts for (userId, provider), for listing a key's status: the plaintext never
   * becomes a string and its bytes are zeroed at once.
   */
  canOpen(sealed: string, context: SealContext): boolean {
    try {
      this.#open(parseSealed(sealed), associatedData(context), context.provider).fill(0);
      return true;
    } catch {
      return false;
    }
  }

  /** True when `sealed` was encrypted under the current master key. */
  isCurrent(sealed: string): boolean {
    return parseSealed(sealed)?.keyId === this.#current.id;
  }

  #seal(plaintext: Buffer, aad: Buffer, iv: Buffer): string {
    const cipher = createCipheriv("aes-256-gcm", this.#current.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad);
    const ciphertext = joined(cipher.update(plaintext), cipher.final());
    return encodeSealed({ keyId: this.#current.id, iv, ciphertext, tag: cipher.getAuthTag() });
  }

  /** The plaintext bytes (the caller zeroes them), only once the tag has verified. */
  #open(parts: SealedParts | undefined, aad: Buffer, provider: string): Buffer {
    const ring = parts && this.#byId.get(parts.keyId);
    if (!parts || !ring) throw unreadable(provider);
    try {
      const decipher = createDecipheriv("aes-256-gcm", ring.key, parts.iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(aad);
      decipher.setAuthTag(parts.tag);
      const head = decipher.update(parts.ciphertext);
      try {
        return joined(head, decipher.final());
      } catch (error) {
        head.fill(0);
        throw error;
      }
    } catch {
      throw unreadable(provider);
    }
  }
}

/** `head` then `tail` (GCM's final() returns no bytes, so usually `head` itself, without a copy). */
function joined(head: Buffer, tail: Buffer): Buffer {
  return tail.length === 0 ? head : Buffer.concat([head, tail]);
}
