// Strict encode/parse of the envelope ciphertext `v2.<kekId>.<wrappedKey>.<iv>.<ciphertext>.<tag>` (base64url parts).
import { IV_BYTES, TAG_BYTES } from "./format.js";

/** The parts of a v2 ciphertext. `kekPart` and `wrappedPart` stay encoded: the data-key cache is keyed by them. */
export interface EnvelopeParts {
  /** Id of the KeyEncryptionKey that wrapped the data key. */
  kekId: string;
  /** The wrapped data key, as the KeyEncryptionKey returned it. */
  wrapped: string;
  /** `kekId` and `wrapped` as they appear in the record (base64url of their UTF-8). */
  kekPart: string;
  wrappedPart: string;
  iv: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

export const ENVELOPE_VERSION = "v2";
const MAX_ENVELOPE_CHARS = 8192;
const MAX_ID_CHARS = 256;
const B64URL = /^[A-Za-z0-9_-]+$/;

/** base64url of `text`'s UTF-8, or of raw bytes. */
const b64 = (value: string | Buffer) => Buffer.from(value).toString("base64url");

/** Decodes base64url only when it is the one canonical spelling (decode, re-encode, compare). */
function decode(part: string): Buffer | undefined {
  if (!B64URL.test(part)) return undefined;
  const bytes = Buffer.from(part, "base64url");
  return bytes.toString("base64url") === part ? bytes : undefined;
}

/** The record part naming a KeyEncryptionKey id. */
export function kekPartOf(kekId: string): string {
  return b64(kekId);
}

/** Joins the parts into the stored string (`kekPart` and `wrappedPart` already encoded). */
export function encodeEnvelope(parts: Omit<EnvelopeParts, "kekId" | "wrapped">): string {
  return [
    ENVELOPE_VERSION,
    parts.kekPart,
    parts.wrappedPart,
    b64(parts.iv),
    b64(parts.ciphertext),
    b64(parts.tag),
  ].join(".");
}

/** The record part carrying a wrapped data key. */
export function wrappedPartOf(wrapped: string): string {
  return b64(wrapped);
}

/** Whether `sealed` claims to be an envelope (v2) record, well-formed or not. */
export function isEnvelope(sealed: unknown): boolean {
  return typeof sealed === "string" && sealed.startsWith(`${ENVELOPE_VERSION}.`);
}

/** Parses a stored string; `undefined` for anything that is not exactly a v2 ciphertext. */
export function parseEnvelope(sealed: unknown): EnvelopeParts | undefined {
  if (typeof sealed !== "string" || sealed.length > MAX_ENVELOPE_CHARS) return undefined;
  const parts = sealed.split(".");
  if (parts.length !== 6 || parts[0] !== ENVELOPE_VERSION) return undefined;
  const [, kekPart, wrappedPart, ivPart, ctPart, tagPart] = parts as [string, string, string, string, string, string];
  const kekId = decode(kekPart)?.toString("utf8");
  const wrapped = decode(wrappedPart)?.toString("utf8");
  const iv = decode(ivPart);
  const ciphertext = decode(ctPart);
  const tag = decode(tagPart);
  if (!kekId || kekId.length > MAX_ID_CHARS || !wrapped || !iv || !ciphertext || !tag) return undefined;
  if (iv.length !== IV_BYTES || ciphertext.length === 0 || tag.length !== TAG_BYTES) return undefined;
  return { kekId, wrapped, kekPart, wrappedPart, iv, ciphertext, tag };
}
