// Strict encode/parse of the ciphertext string `v1.<keyId>.<iv>.<ciphertext>.<tag>` (base64url parts).

/** The parts of a v1 ciphertext string, decoded. */
export interface SealedParts {
  keyId: string;
  iv: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

export const FORMAT_VERSION = "v1";
export const IV_BYTES = 12;
export const TAG_BYTES = 16;
export const KEY_ID_CHARS = 11; // 8 bytes of fingerprint, base64url

const B64URL = /^[A-Za-z0-9_-]+$/;

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/**
 * Decodes canonical unpadded base64url only, so that one ciphertext has exactly one spelling: no
 * length that no byte count produces (4n+1), and no set bits in the last character's unused low
 * bits (what a decode-then-re-encode comparison rejects, without the re-encoding).
 */
function decodeCanonical(part: string): Buffer | undefined {
  if (!B64URL.test(part)) return undefined;
  const rest = part.length % 4;
  if (rest === 1) return undefined;
  if (rest !== 0) {
    const lastBits = ALPHABET.indexOf(part[part.length - 1]!);
    if ((lastBits & (rest === 2 ? 0x0f : 0x03)) !== 0) return undefined;
  }
  return Buffer.from(part, "base64url");
}

/** Joins the parts into the stored string. */
export function encodeSealed(parts: SealedParts): string {
  return `${FORMAT_VERSION}.${parts.keyId}.${parts.iv.toString("base64url")}.${parts.ciphertext.toString("base64url")}.${parts.tag.toString("base64url")}`;
}

/** Parses a stored string; `undefined` for anything that is not exactly a v1 ciphertext. */
export function parseSealed(sealed: unknown): SealedParts | undefined {
  if (typeof sealed !== "string" || sealed.length > 4096) return undefined;
  const parts = sealed.split(".");
  if (parts.length !== 5) return undefined;
  const [version, keyId, ivPart, ctPart, tagPart] = parts as [string, string, string, string, string];
  if (version !== FORMAT_VERSION || keyId.length !== KEY_ID_CHARS || decodeCanonical(keyId) === undefined)
    return undefined;
  const iv = decodeCanonical(ivPart);
  const ciphertext = decodeCanonical(ctPart);
  const tag = decodeCanonical(tagPart);
  if (!iv || iv.length !== IV_BYTES || !ciphertext || ciphertext.length === 0 || !tag || tag.length !== TAG_BYTES)
    return undefined;
  return { keyId, iv, ciphertext, tag };
}

/** The key id of a stored string, or `undefined` when it is not a v1 ciphertext. */
export function keyIdOf(sealed: unknown): string | undefined {
  return parseSealed(sealed)?.keyId;
}
