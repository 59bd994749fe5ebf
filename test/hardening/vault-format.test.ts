// parseSealed's canonical base64url check agrees with a decode-then-re-encode comparison on every last character.
import { randomBytes } from "node:crypto";
import { parseSealed } from "../../lib/vault/format";
import { Vault } from "../../lib/vault/vault";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const canonical = (part: string) =>
  /^[A-Za-z0-9_-]+$/.test(part) && Buffer.from(part, "base64url").toString("base64url") === part;

const bytes = (part: string) => Buffer.from(part, "base64url").length;
/** The reference rule: every part canonical, IV 12 bytes, tag 16 bytes, ciphertext not empty. */
const valid = (parts: string[]) =>
  parts.slice(2).every(canonical) && bytes(parts[2]!) === 12 && bytes(parts[3]!) > 0 && bytes(parts[4]!) === 16;

describe("parseSealed", () => {
  it("accepts exactly the parts that re-encode to themselves, for every ciphertext length and last character", () => {
    const vault = new Vault([randomBytes(32)]);
    let checked = 0;
    for (let length = 1; length <= 40; length++) {
      const sealed = vault.seal("k".repeat(length), { userId: "u", provider: "p" });
      const parts = sealed.split(".");
      for (const index of [2, 3, 4]) {
        for (const c of ALPHABET) {
          const changed = [...parts];
          changed[index] = parts[index]!.slice(0, -1) + c;
          expect([changed[index], parseSealed(changed.join(".")) !== undefined]).toEqual([
            changed[index],
            valid(changed),
          ]);
          checked++;
        }
        const extended = [...parts];
        extended[index] = parts[index]! + "A"; // sometimes a length no byte count spells
        expect(parseSealed(extended.join(".")) !== undefined).toBe(valid(extended));
      }
    }
    expect(checked).toBe(40 * 3 * 64);
  });
});
