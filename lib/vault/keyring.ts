// Seals and opens records under the configured key-encryption keys: v1 under a local master key, v2 envelopes under any other.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { ByokError } from "../errors.js";
import { DataKeyCache, type DataKeyCacheOptions } from "./data-key-cache.js";
import {
  encodeEnvelope,
  type EnvelopeParts,
  isEnvelope,
  kekPartOf,
  parseEnvelope,
  wrappedPartOf,
} from "./envelope-format.js";
import { IV_BYTES, keyIdOf, TAG_BYTES } from "./format.js";
import { type KeyEncryptionKey, keyServiceUnavailable, wrapContext } from "./key-encryption.js";
import { localMasterKeyOf } from "./local-key.js";
import { associatedData, type SealContext, unreadable, Vault } from "./vault.js";

/** What a {@link Keyring} is built from (checked by the BYOK options). */
export interface KeyringOptions {
  /** Wraps the data keys of new records (or, a localKey, seals them as v1). */
  current: KeyEncryptionKey;
  /** Still open their records; `reseal` moves those to `current`. */
  previous: readonly KeyEncryptionKey[];
  dataKeyCache: Required<DataKeyCacheOptions>;
}

/** Whether a record opens: `unknown` (with the key service's error, which says why) when the key service could not be asked. */
export type Readability = "readable" | "unreadable" | { unknown: ByokError };

const isServiceDown = (error: unknown) => ByokError.is(error) && error.code === "KEY_SERVICE_UNAVAILABLE";

/**
 * The records' keys. A record names the key that protects it (v1: a master key's fingerprint; v2: a
 * KeyEncryptionKey id), so opening picks it without trial. v2 records have a data key of their own,
 * wrapped by the KeyEncryptionKey with the record's context; unwrapped data keys are cached.
 */
export class Keyring {
  readonly #current: KeyEncryptionKey;
  readonly #currentPart: string;
  readonly #byId = new Map<string, KeyEncryptionKey>();
  /** The local master keys (current first when the current key is local), for v1 records. */
  readonly #local: Vault | undefined;
  readonly #currentIsLocal: boolean;
  readonly #cache: DataKeyCache;

  constructor(options: KeyringOptions, now?: () => number) {
    const all = [options.current, ...options.previous];
    for (const kek of all) if (!this.#byId.has(kek.id)) this.#byId.set(kek.id, kek);
    const localKeys = all.map(localMasterKeyOf).filter((k): k is Buffer => k !== undefined);
    this.#local = localKeys.length ? new Vault(localKeys) : undefined;
    this.#current = options.current;
    this.#currentPart = kekPartOf(options.current.id);
    this.#currentIsLocal = localMasterKeyOf(options.current) !== undefined;
    this.#cache = new DataKeyCache(options.dataKeyCache, now);
  }

  /** Id of the key new records are written under. */
  get currentKeyId(): string {
    return this.#current.id;
  }

  /** Ids of every key that opens records, current first. */
  get keyIds(): string[] {
    return [...this.#byId.keys()];
  }

  /** The key id a stored string names (v1 or v2), or `undefined` when it is neither. */
  keyIdOf(sealed: unknown): string | undefined {
    return isEnvelope(sealed) ? parseEnvelope(sealed)?.kekId : keyIdOf(sealed);
  }

  /**
   * Encrypts `plaintext` for the record `context` under the current key: v1 for a localKey, else a v2
   * envelope with a fresh data key (one `wrap` call), which is cached for the chats that follow.
   * @throws ByokError KEY_SERVICE_UNAVAILABLE when the key service fails
   */
  async seal(plaintext: string, context: SealContext): Promise<string> {
    if (this.#currentIsLocal) return this.#local!.seal(plaintext, context);
    const bytes = Buffer.from(plaintext, "utf8");
    try {
      return await this.#sealEnvelope(bytes, context);
    } finally {
      bytes.fill(0);
    }
  }

  /**
   * Decrypts a stored string for the record `context`. A warm v2 record costs no key-service call.
   * @throws ByokError KEY_UNREADABLE unless it is an intact ciphertext of that very record;
   *   KEY_SERVICE_UNAVAILABLE when its data key is not cached and the key service fails
   */
  async open(sealed: string, context: SealContext): Promise<string> {
    if (!isEnvelope(sealed)) return this.#v1(context).open(sealed, context);
    const { parts, kek, aad } = this.#envelope(sealed, context);
    return this.#cache.withKey(
      cacheId(parts, aad),
      () => this.#unwrap(kek, parts.wrapped, context),
      (dataKey) => {
        const plaintext = gcmOpen(dataKey, parts, aad, context.provider);
        const text = plaintext.toString("utf8");
        plaintext.fill(0);
        return text;
      },
    );
  }

  /** Whether `sealed` opens for `context` (for a key's status); plaintext is zeroed at once. */
  async readability(sealed: string, context: SealContext): Promise<Readability> {
    try {
      (await this.#openBytes(sealed, context)).fill(0);
      return "readable";
    } catch (error) {
      return isServiceDown(error) ? { unknown: error as ByokError } : "unreadable";
    }
  }

  /**
   * Moves a stored string to the current key: `undefined` when it already is there, else the new
   * string. A v2 record moving to another KeyEncryptionKey is re-wrapped (its data key unwrapped by the
   * old key and wrapped by the new; the API key's ciphertext is kept); anything else is re-encrypted.
   * Data keys opened here are not cached: a rotation must not push live traffic's keys out.
   * @throws ByokError KEY_UNREADABLE for anything but an intact ciphertext of that very record;
   *   KEY_SERVICE_UNAVAILABLE when a key service fails
   */
  async reseal(sealed: string, context: SealContext): Promise<string | undefined> {
    if (!isEnvelope(sealed)) {
      if (this.#currentIsLocal) return this.#local!.reseal(sealed, context);
      const plaintext = this.#v1(context).openBytes(sealed, context);
      try {
        return await this.#sealEnvelope(plaintext, context);
      } finally {
        plaintext.fill(0);
      }
    }
    const { parts, kek, aad } = this.#envelope(sealed, context);
    if (parts.kekId === this.#current.id) return undefined;
    const dataKey = await this.#dataKeyUncached(parts, kek, aad, context);
    try {
      const plaintext = gcmOpen(dataKey, parts, aad, context.provider); // never re-wrap a tampered record
      if (this.#currentIsLocal) {
        try {
          return this.#local!.seal(plaintext.toString("utf8"), context);
        } finally {
          plaintext.fill(0);
        }
      }
      plaintext.fill(0);
      const wrapped = await this.#wrap(dataKey, context);
      return encodeEnvelope({ ...parts, kekPart: this.#currentPart, wrappedPart: wrappedPartOf(wrapped) });
    } finally {
      dataKey.fill(0);
    }
  }

  /** Zeroes every cached data key and stops the cache's timer. */
  close(): void {
    this.#cache.clear();
  }

  /** The plaintext bytes of any record (caller zeroes), without caching a data key (verify, status). */
  async #openBytes(sealed: string, context: SealContext): Promise<Buffer> {
    if (!isEnvelope(sealed)) return this.#v1(context).openBytes(sealed, context);
    const { parts, kek, aad } = this.#envelope(sealed, context);
    const dataKey = await this.#dataKeyUncached(parts, kek, aad, context);
    try {
      return gcmOpen(dataKey, parts, aad, context.provider);
    } finally {
      dataKey.fill(0);
    }
  }

  #v1(context: SealContext): Vault {
    if (!this.#local) throw unreadable(context.provider);
    return this.#local;
  }

  #envelope(sealed: string, context: SealContext) {
    const parts = parseEnvelope(sealed);
    const kek = parts && this.#byId.get(parts.kekId);
    if (!parts || !kek) throw unreadable(context.provider);
    return { parts, kek, aad: associatedData(context) };
  }

  /** A copy of the data key (caller zeroes): the cached one if there is one, else a fresh unwrap. */
  async #dataKeyUncached(parts: EnvelopeParts, kek: KeyEncryptionKey, aad: Buffer, context: SealContext) {
    const cached = this.#cache.get(cacheId(parts, aad));
    return cached ? Buffer.from(cached) : this.#unwrap(kek, parts.wrapped, context);
  }

  async #sealEnvelope(plaintext: Buffer, context: SealContext): Promise<string> {
    const dataKey = randomBytes(32);
    try {
      const wrapped = await this.#wrap(dataKey, context);
      const aad = associatedData(context);
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv("aes-256-gcm", dataKey, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(aad);
      const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      const parts = { kekPart: this.#currentPart, wrappedPart: wrappedPartOf(wrapped), iv, ciphertext };
      this.#cache.set(cacheId(parts, aad), Buffer.from(dataKey));
      return encodeEnvelope({ ...parts, tag: cipher.getAuthTag() });
    } finally {
      dataKey.fill(0);
    }
  }

  async #wrap(dataKey: Buffer, context: SealContext): Promise<string> {
    let wrapped: unknown;
    try {
      wrapped = await this.#current.wrap(dataKey, wrapContext(context));
    } catch (error) {
      throw isServiceDown(error) ? error : serviceFailed("wrap", error);
    }
    if (typeof wrapped !== "string" || wrapped.length === 0 || wrapped.length > 4096)
      throw serviceFailed(
        "wrap",
        new TypeError("wrap() must resolve to a non-empty string of at most 4096 characters"),
      );
    return wrapped;
  }

  /** Unwraps with `kek`; returns a 32-byte Buffer the caller owns. */
  async #unwrap(kek: KeyEncryptionKey, wrapped: string, context: SealContext): Promise<Buffer> {
    let key: unknown;
    try {
      key = await kek.unwrap(wrapped, wrapContext(context));
    } catch (error) {
      if (ByokError.is(error) && error.code === "KEY_UNREADABLE") throw unreadable(context.provider);
      throw isServiceDown(error) ? error : serviceFailed("unwrap", error);
    }
    if (!(key instanceof Uint8Array) || key.length !== 32) throw unreadable(context.provider);
    const copy = Buffer.from(key);
    key.fill(0);
    return copy;
  }
}

/** The cache id of a record's data key: which key wrapped it, the wrapped key, and the record's context. */
function cacheId(parts: { kekPart: string; wrappedPart: string }, aad: Buffer): string {
  return `${parts.kekPart}.${parts.wrappedPart}.${aad.toString("latin1")}`;
}

/** The plaintext bytes (caller zeroes) once the tag verifies under `dataKey`. */
function gcmOpen(dataKey: Buffer, parts: EnvelopeParts, aad: Buffer, provider: string): Buffer {
  try {
    const decipher = createDecipheriv("aes-256-gcm", dataKey, parts.iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(parts.tag);
    const head = decipher.update(parts.ciphertext);
    try {
      return Buffer.concat([head, decipher.final()]);
    } finally {
      head.fill(0);
    }
  } catch {
    throw unreadable(provider);
  }
}

/** A custom KeyEncryptionKey failed with something other than a ByokError: the service is taken as unavailable. */
function serviceFailed(operation: "wrap" | "unwrap", error: unknown): ByokError {
  return keyServiceUnavailable(
    "The key-encryption key",
    `its ${operation}() failed; check the key service and its credentials.`,
    { type: error instanceof Error ? error.name : typeof error },
  );
}
