// The KeyEncryptionKey interface, the wrap context built from a record's SealContext, and the errors a key service answers.
import { ByokError } from "../errors.js";
import { ownLabel, type SealContext } from "./vault.js";

/**
 * A key that wraps (encrypts) and unwraps the data keys records are sealed under, kept in a key
 * service (AWS KMS, Vault transit, GCP KMS, Azure Key Vault) so that it never enters the process.
 * Built in: `localKey()`, `vaultTransit()`, `awsKms()`; write your own for any other service.
 *
 * An implementation must bind `context` to the wrapped key (KMS `EncryptionContext`, Vault
 * `context`, GCP `additionalAuthenticatedData`): `unwrap` with another context must fail. It should
 * bound its own calls in time (the built-ins take `timeoutMs`).
 */
export interface KeyEncryptionKey {
  /**
   * Stable name of this key: written into every record it wraps, so that opening picks the key without
   * trial, and shown per key by `verify`. Two different keys must never share an id.
   */
  readonly id: string;
  /**
   * Encrypts a 32-byte data key under this key, bound to `context` (the record's owner and provider).
   * @returns an opaque printable string that {@link KeyEncryptionKey.unwrap} takes back
   * @throws anything when the service fails: byok-ai answers `KEY_SERVICE_UNAVAILABLE`
   */
  wrap(dataKey: Uint8Array, context: Record<string, string>): Promise<string>;
  /**
   * Decrypts what {@link KeyEncryptionKey.wrap} returned, for the same `context`.
   * @throws ByokError `KEY_UNREADABLE` when this wrapped key does not open under this context (tampered,
   *   moved to another record, another key); anything else means the service failed and the record may
   *   open later (`KEY_SERVICE_UNAVAILABLE`)
   */
  unwrap(wrapped: string, context: Record<string, string>): Promise<Uint8Array>;
}

/** Every field of SealContext, checked by the compiler: a field added there must be listed here. */
const SEAL_FIELDS: { [K in keyof Required<SealContext>]: true } = {
  userId: true,
  provider: true,
  label: true,
  endpoint: true,
  region: true,
};

/**
 * The wrap context of a record: every SealContext field that is set, by name, in sorted order. It is
 * built from the same SealContext as the record's associated data, so a field added to SealContext
 * (an endpoint, a team owner) binds both the ciphertext and its data key.
 */
export function wrapContext(context: SealContext): Record<string, string> {
  const out: Record<string, string> = {};
  const fields: Record<string, unknown> = { ...context, label: ownLabel(context.label) };
  for (const name of Object.keys(SEAL_FIELDS).sort()) {
    const value = fields[name];
    if (typeof value === "string") out[name] = value;
  }
  return out;
}

/**
 * A canonical byte encoding of a wrap context (for services that take one opaque context, such as
 * Vault transit): a label, then each name and value length-prefixed (UTF-8, 32-bit big-endian), in
 * sorted order, so that no two contexts encode alike.
 */
export function encodeWrapContext(context: Record<string, string>): Buffer {
  const parts: Buffer[] = [Buffer.from("byok-ai/wrap/v1", "latin1")];
  for (const name of Object.keys(context).sort()) {
    for (const text of [name, context[name]!]) {
      const bytes = Buffer.from(text, "utf8");
      const length = Buffer.allocUnsafe(4);
      length.writeUInt32BE(bytes.length);
      parts.push(length, bytes);
    }
  }
  return Buffer.concat(parts);
}

/**
 * The error for a key service that failed, did not answer in time, or refused the call.
 * @param service - what failed, for the message (e.g. "Vault transit")
 * @param fix - what to check
 */
export function keyServiceUnavailable(service: string, fix: string, cause?: unknown): ByokError {
  return new ByokError(
    "KEY_SERVICE_UNAVAILABLE",
    `${service} could not unwrap or wrap a data key: ${fix}`,
    cause === undefined ? {} : { cause },
  );
}

/** The error for a wrapped data key that does not open under its record's context. */
export function wrappedKeyUnreadable(service: string): ByokError {
  return new ByokError(
    "KEY_UNREADABLE",
    `${service} refused to unwrap the record's data key for this record (tampered, moved to another owner, or wrapped by another key); ask the user to add the key again.`,
  );
}

/**
 * Runs `call` with a signal that aborts after `timeoutMs`; rejects with KEY_SERVICE_UNAVAILABLE at
 * that moment even if `call` ignores the signal, so a hung service is never waited on longer.
 * @param service - what is called, for the message
 */
export async function withTimeout<T>(
  service: string,
  timeoutMs: number,
  call: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = keyServiceUnavailable(
        service,
        `no answer within ${timeoutMs} ms (timeoutMs); check that it is reachable.`,
      );
      controller.abort(error);
      reject(error);
    }, timeoutMs);
  });
  try {
    return await Promise.race([call(controller.signal), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Default `timeoutMs` of the built-in key services: as RedisStore's call limit, see docs/key-encryption.md. */
export const DEFAULT_KEY_SERVICE_TIMEOUT_MS = 500;
