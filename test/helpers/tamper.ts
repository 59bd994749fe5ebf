// Tampering with sealed values so that only the authentication check can catch it.

/**
 * `sealed` (dot-separated parts, the binary ones base64url) with one bit flipped in the decoded bytes of part `part`
 * (default: the last, the tag), at byte `at` (negative counts from the end). Changing a base64url character can
 * leave the bytes as they were (the last character's low bits are padding; "A" for "A" is no change at all); this
 * always changes them, and the text stays canonical base64url.
 */
export function flipBit(sealed: string, part = -1, at = -1): string {
  const parts = sealed.split(".");
  const index = part < 0 ? parts.length + part : part;
  const bytes = Buffer.from(parts[index]!, "base64url");
  if (bytes.length === 0) throw new Error(`part ${index} of the sealed value has no bytes to flip`);
  bytes[at < 0 ? bytes.length + at : at]! ^= 0x01;
  parts[index] = bytes.toString("base64url");
  return parts.join(".");
}
