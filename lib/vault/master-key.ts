// Parses and generates master keys: exactly 32 bytes, given as base64 (44 chars), hex (64 chars) or a Buffer.
import { randomBytes } from "node:crypto";
import { ByokError } from "../errors.js";

const HEX = /^[0-9a-fA-F]{64}$/;
const BASE64 = /^[A-Za-z0-9+/]{43}=$/;
const BASE64URL = /^[A-Za-z0-9_-]{43}=?$/;
const HOW_TO =
  "generate one with `npx byok-ai keygen` (or `node -e \"console.log(require('crypto').randomBytes(32).toString('base64'))\"`)";

/**
 * Turns a master key given as base64, hex or a Buffer into its 32 raw bytes.
 *
 * @param input - the configured value
 * @param label - the option's name, for the error message (e.g. `masterKey`, `previousMasterKeys[1]`)
 * @throws ByokError CONFIG_INVALID naming what was wrong (type, length) but never the value
 */
export function parseMasterKey(input: unknown, label = "masterKey"): Buffer {
  if (Buffer.isBuffer(input) || input instanceof Uint8Array) {
    if (input.length !== 32) {
      throw new ByokError(
        "CONFIG_INVALID",
        `${label} must be 32 bytes (got a Buffer of ${input.length} bytes); ${HOW_TO}.`,
      );
    }
    return Buffer.from(input);
  }
  if (typeof input !== "string") {
    const got = input === undefined ? "nothing" : input === null ? "null" : `a ${typeof input}`;
    throw new ByokError(
      "CONFIG_INVALID",
      `${label} is required: 32 bytes as base64 (44 characters), hex (64 characters) or a Buffer (got ${got}); ${HOW_TO}, then set it, e.g. BYOK_MASTER_KEY.`,
    );
  }
  if (HEX.test(input)) return Buffer.from(input, "hex");
  if (BASE64.test(input) || BASE64URL.test(input)) {
    const bytes = Buffer.from(input, BASE64.test(input) ? "base64" : "base64url");
    if (bytes.length === 32) return bytes;
  }
  throw new ByokError(
    "CONFIG_INVALID",
    `${label} must decode to 32 bytes: base64 (44 characters) or hex (64 characters) (got a string of ${input.length} characters); ${HOW_TO}.`,
  );
}

/** A fresh random master key, base64-encoded (44 characters). */
export function generateMasterKey(): string {
  return randomBytes(32).toString("base64");
}
