import { ByokError } from "../../lib/errors";
import { generateMasterKey, parseMasterKey } from "../../lib/vault/master-key";
import { keyIdOf, parseSealed } from "../../lib/vault/format";
import { associatedData, keyIdFor, Vault } from "../../lib/vault/vault";
import { wrapContext } from "../../lib/vault/key-encryption";
import { flipBit } from "../helpers/tamper";

const KEY_A = Buffer.alloc(32, 1);
const KEY_B = Buffer.alloc(32, 2);
const ctx = { userId: "user-1", provider: "gemini" };

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return ByokError.is(e) ? e.code : "not a ByokError";
  }
  return undefined;
}

describe("Vault", () => {
  it("produces the known answer for a fixed key, IV and plaintext", () => {
    // Computed independently with raw node:crypto (HKDF-SHA256 + AES-256-GCM) when the format was fixed.
    const vault = new Vault([KEY_A]);
    const sealed = vault.sealWithIv("sk-test-known-answer", ctx, Buffer.alloc(12, 9));
    expect(sealed).toBe("v1.F0XXGU3AAXY.CQkJCQkJCQkJCQkJ.qmk1WGIDP2eI9EkFrNqwTuSKTuk.ug2jZw5JT1FKMLM8I6dumg");
    expect(vault.open(sealed, ctx)).toBe("sk-test-known-answer");
  });

  it("round-trips with a fresh IV on every seal", () => {
    const vault = new Vault([KEY_A]);
    const one = vault.seal("AIza-secret", ctx);
    const two = vault.seal("AIza-secret", ctx);
    expect(one).not.toBe(two);
    expect(parseSealed(one)?.iv).not.toEqual(parseSealed(two)?.iv);
    expect(vault.open(one, ctx)).toBe("AIza-secret");
    expect(one.startsWith(`v1.${keyIdFor(KEY_A)}.`)).toBe(true);
    expect(one).not.toContain("AIza-secret");
  });

  it.each([
    ["version", 0],
    ["key id", 1],
  ])("answers KEY_UNREADABLE when the %s part is changed", (_name, part) => {
    const vault = new Vault([KEY_A]);
    const parts = vault.seal("AIza-secret", ctx).split(".");
    const target = parts[part]!;
    for (const at of [0, Math.floor(target.length / 2), target.length - 1]) {
      const changed = [...parts];
      changed[part] = target.slice(0, at) + (target[at] === "A" ? "B" : "A") + target.slice(at + 1);
      expect(code(() => vault.open(changed.join("."), ctx))).toBe("KEY_UNREADABLE");
    }
  });

  it.each([
    ["iv", 2],
    ["ciphertext", 3],
    ["tag", 4],
  ])("answers KEY_UNREADABLE when a bit of the %s is flipped", (_name, part) => {
    const vault = new Vault([KEY_A]);
    const sealed = vault.seal("AIza-secret", ctx);
    const length = Buffer.from(sealed.split(".")[part]!, "base64url").length;
    // first, middle and last byte: the text stays canonical base64url, so only the GCM check can refuse it
    for (const at of [0, Math.floor(length / 2), length - 1]) {
      const flipped = flipBit(sealed, part, at);
      expect(flipped).not.toBe(sealed);
      expect(code(() => vault.open(flipped, ctx))).toBe("KEY_UNREADABLE");
    }
  });

  it.each([
    ["another user", { userId: "user-2", provider: "gemini" }],
    ["another provider", { userId: "user-1", provider: "openai" }],
    ["an ambiguous split of the same characters", { userId: "user-1g", provider: "emini" }],
  ])("answers KEY_UNREADABLE for a ciphertext moved to %s", (_name, other) => {
    const vault = new Vault([KEY_A]);
    expect(code(() => vault.open(vault.seal("AIza-secret", ctx), other))).toBe("KEY_UNREADABLE");
  });

  it("binds an endpoint only when there is one: a key sealed with it opens with that endpoint alone", () => {
    const vault = new Vault([KEY_A]);
    const endpoint = "https://res.openai.azure.com";
    const sealed = vault.seal("azure-secret-key", { ...ctx, endpoint });
    expect(vault.open(sealed, { ...ctx, endpoint })).toBe("azure-secret-key");
    for (const other of [ctx, { ...ctx, endpoint: "https://evil.openai.azure.com" }, { ...ctx, endpoint: "" }])
      expect(code(() => vault.open(sealed, other))).toBe("KEY_UNREADABLE");
    expect(code(() => vault.open(vault.seal("plain-key-123", ctx), { ...ctx, endpoint }))).toBe("KEY_UNREADABLE");
    expect(associatedData({ ...ctx, endpoint: undefined })).toEqual(associatedData(ctx));
  });

  it("binds a label other than default: a key opens under its own label alone; label default is bound as 0.1 bound it", () => {
    const vault = new Vault([KEY_A]);
    const endpoint = "https://res.openai.azure.com";
    const work = vault.seal("work-key-1234", { ...ctx, label: "work" });
    expect(vault.open(work, { ...ctx, label: "work" })).toBe("work-key-1234");
    for (const other of [ctx, { ...ctx, label: "default" }, { ...ctx, label: "Work" }, { ...ctx, endpoint: "work" }])
      expect(code(() => vault.open(work, other))).toBe("KEY_UNREADABLE");
    // A record of 0.1 (no label) opens as label default, and never as another label.
    const old = vault.seal("old-key-12345", ctx);
    expect(vault.open(old, { ...ctx, label: "default" })).toBe("old-key-12345");
    expect(code(() => vault.open(old, { ...ctx, label: "work" }))).toBe("KEY_UNREADABLE");
    expect(associatedData({ ...ctx, label: "default" })).toEqual(associatedData(ctx));
    // A label and an endpoint that spell the same bytes are two different bindings.
    expect(associatedData({ ...ctx, label: endpoint })).not.toEqual(associatedData({ ...ctx, endpoint }));
    const both = vault.seal("both-key-1234", { ...ctx, label: "work", endpoint });
    expect(code(() => vault.open(both, { ...ctx, label: "work" }))).toBe("KEY_UNREADABLE");
    expect(vault.open(both, { ...ctx, label: "work", endpoint })).toBe("both-key-1234");
  });

  it("binds a credential's region: it opens with that region alone, and no other layout reads as it", () => {
    const vault = new Vault([KEY_A]);
    const endpoint = "https://vpce.example";
    const sealed = vault.seal('{"region":"eu-west-1"}', { ...ctx, region: "eu-west-1" });
    expect(vault.open(sealed, { ...ctx, region: "eu-west-1" })).toBe('{"region":"eu-west-1"}');
    expect(vault.open(sealed, { ...ctx, label: "default", region: "eu-west-1" })).toBe('{"region":"eu-west-1"}');
    for (const other of [
      ctx,
      { ...ctx, region: "us-east-1" },
      { ...ctx, region: "" },
      { ...ctx, label: "work", region: "eu-west-1" },
      { ...ctx, endpoint: "", region: "eu-west-1" },
      { ...ctx, endpoint: "eu-west-1" },
      { ...ctx, label: "eu-west-1" },
    ])
      expect(code(() => vault.open(sealed, other))).toBe("KEY_UNREADABLE");
    const both = vault.seal("both", { ...ctx, endpoint, region: "eu-west-1" });
    expect(vault.open(both, { ...ctx, endpoint, region: "eu-west-1" })).toBe("both");
    expect(code(() => vault.open(both, { ...ctx, region: "eu-west-1" }))).toBe("KEY_UNREADABLE");
    expect(code(() => vault.open(both, { ...ctx, endpoint }))).toBe("KEY_UNREADABLE");
    // The region layout starts apart: the same parts without a region never encode alike.
    expect(associatedData({ ...ctx, label: "work", endpoint: "+x", region: "r" })).not.toEqual(
      associatedData({ ...ctx, label: "work", endpoint: "x" }),
    );
  });

  it("encodes associated data unambiguously", () => {
    expect(associatedData({ userId: "a:b", provider: "c" })).not.toEqual(
      associatedData({ userId: "a", provider: "b:c" }),
    );
  });

  it.each([
    ["an empty string", ""],
    ["a missing part", "v1.abc.def.ghi"],
    ["another version", "v2.F0XXGU3AAXY.CQkJCQkJCQkJCQkJ.qmk1WGIDP2eI9EkFrNqwTuSKTuk.5Ozr94xnGvy8exV-R_8i1g"],
    ["a short tag", "v1.F0XXGU3AAXY.CQkJCQkJCQkJCQkJ.-QM6rBsHAgYdqm2UYxL5jx9Ka98.5Ozr94xnGvy8"],
    ["padding", "v1.F0XXGU3AAXY.CQkJCQkJCQkJCQkJ.-QM6rBsHAgYdqm2UYxL5jx9Ka98=.5Ozr94xnGvy8exV-R_8i1g"],
    ["non-string input", 42 as unknown as string],
  ])("answers KEY_UNREADABLE for a malformed string (%s), never a crash", (_name, sealed) => {
    expect(code(() => new Vault([KEY_A]).open(sealed, ctx))).toBe("KEY_UNREADABLE");
  });

  it("answers KEY_UNREADABLE under a wrong master key", () => {
    const sealed = new Vault([KEY_A]).seal("AIza-secret", ctx);
    expect(code(() => new Vault([KEY_B]).open(sealed, ctx))).toBe("KEY_UNREADABLE");
  });

  it("still decrypts with a previous master key, and seals under the current one", () => {
    const old = new Vault([KEY_A]).seal("AIza-secret", ctx);
    const ring = new Vault([KEY_B, KEY_A]);
    expect(ring.open(old, ctx)).toBe("AIza-secret");
    expect(ring.isCurrent(old)).toBe(false);
    expect(keyIdOf(ring.seal("x1234567", ctx))).toBe(keyIdFor(KEY_B));
    expect(ring.keyIds).toEqual([keyIdFor(KEY_B), keyIdFor(KEY_A)]);
  });

  it("encodes associated data as length-prefixed UTF-8 bytes", () => {
    const u32 = (n: number) => Buffer.from([0, 0, 0, n]);
    const expected = Buffer.concat([
      Buffer.from("byok-ai/v1"),
      u32(5),
      Buffer.from("üser", "utf8"),
      u32(6),
      Buffer.from("openai"),
    ]);
    expect(associatedData({ userId: "üser", provider: "openai" })).toEqual(expected);
  });

  it("never repeats an IV across several draws of random IVs", () => {
    const vault = new Vault([KEY_A]);
    const ivs = new Set(
      Array.from({ length: 2000 }, () => parseSealed(vault.seal("AIza-secret", ctx))!.iv.toString("hex")),
    );
    expect(ivs.size).toBe(2000);
  });

  it("reseals a previous key's ciphertext under the current key, and leaves a current one (undefined)", () => {
    const old = new Vault([KEY_A]).seal("AIza-secret", ctx);
    const ring = new Vault([KEY_B, KEY_A]);
    const resealed = ring.reseal(old, ctx)!;
    expect(keyIdOf(resealed)).toBe(keyIdFor(KEY_B));
    expect(ring.open(resealed, ctx)).toBe("AIza-secret");
    expect(ring.reseal(resealed, ctx)).toBeUndefined();
  });

  it("answers KEY_UNREADABLE from reseal for a moved, unknown or malformed ciphertext", () => {
    const ring = new Vault([KEY_B, KEY_A]);
    const old = new Vault([KEY_A]).seal("AIza-secret", ctx);
    expect(code(() => ring.reseal(old, { ...ctx, provider: "openai" }))).toBe("KEY_UNREADABLE");
    expect(code(() => new Vault([KEY_B]).reseal(old, ctx))).toBe("KEY_UNREADABLE");
    expect(code(() => ring.reseal("v1.abc.def.ghi", ctx))).toBe("KEY_UNREADABLE");
  });

  it("derives a key id that reveals nothing of the key and differs per key", () => {
    expect(keyIdFor(KEY_A)).toMatch(/^[A-Za-z0-9_-]{11}$/);
    expect(keyIdFor(KEY_A)).not.toBe(keyIdFor(KEY_B));
  });
});

describe("parseMasterKey", () => {
  const b64 = KEY_A.toString("base64");
  it.each([
    ["base64", b64],
    ["hex", KEY_A.toString("hex")],
    ["a Buffer", KEY_A],
  ])("accepts %s", (_name, input) => {
    expect(parseMasterKey(input)).toEqual(KEY_A);
  });

  it.each([
    ["undefined", undefined],
    ["a number", 42],
    ["a short Buffer", Buffer.alloc(16)],
    ["a short base64 string", Buffer.alloc(24).toString("base64")],
    ["63 hex characters", "a".repeat(63)],
    ["a passphrase", "correct horse battery staple"],
  ])("rejects %s with CONFIG_INVALID that says how to generate a key", (_name, input) => {
    try {
      parseMasterKey(input);
      throw new Error("no throw");
    } catch (e) {
      expect(ByokError.is(e) && e.code).toBe("CONFIG_INVALID");
      expect((e as Error).message).toContain("npx byok-ai keygen");
      if (typeof input === "string") expect((e as Error).message).not.toContain(input);
    }
  });

  it("generates keys that parse", () => {
    expect(parseMasterKey(generateMasterKey())).toHaveLength(32);
  });
});

describe("wrapContext", () => {
  it("names a label other than default (so a data key is bound to it too), and none for label default", () => {
    const ctx = { userId: "u1", provider: "gemini" };
    expect(wrapContext({ ...ctx, label: "default" })).toEqual(wrapContext(ctx));
    expect(wrapContext({ ...ctx, label: "work" })).toEqual({ label: "work", provider: "gemini", userId: "u1" });
  });
});
