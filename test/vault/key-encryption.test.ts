import { inspect } from "node:util";
import express from "express";
import request from "supertest";
import {
  BYOK,
  ByokError,
  byokRouter,
  type KeyEncryptionKey,
  localKey,
  MemoryStore,
  vaultTransit,
  awsKms,
} from "../../lib";
import { type FakeUpstream, startFakeGemini } from "../../lib/testing";
import { CANARY_KEY, TEST_MASTER_KEY } from "../helpers/canary";
import { codeOf } from "../helpers/errors";
import { KEK_KINDS, type KekSetup, startKek } from "../helpers/key-services";
import { waitFor } from "../helpers/wait-for";

const decode = (part: string) => Buffer.from(part, "base64url").toString("utf8");

describe.each(KEK_KINDS)("keyEncryption: %s", (kind) => {
  let setup: KekSetup;
  let gemini: FakeUpstream;
  let store: MemoryStore;
  const byoks: BYOK[] = [];
  const newByok = (options: { kek?: KeyEncryptionKey; dataKeyCache?: { maxEntries?: number } } = {}) => {
    const byok = new BYOK({
      keyEncryption: options.kek ?? setup.kek,
      store,
      providers: { gemini: { baseUrl: gemini.url } },
      ...(options.dataKeyCache ? { dataKeyCache: options.dataKeyCache } : {}),
    });
    byoks.push(byok);
    return byok;
  };
  const calls = () => setup.service?.calls.length ?? 0;

  beforeEach(async () => {
    setup = await startKek(kind);
    gemini = await startFakeGemini();
    store = new MemoryStore();
  });
  afterEach(async () => {
    for (const byok of byoks.splice(0)) await byok.close();
    await gemini.close();
    await setup.close();
  });

  it("seals a record that names its key, and a warm chat makes no key-service call", async () => {
    const byok = newByok();
    await byok.registerKey({ userId: "u1", provider: "gemini", apiKey: CANARY_KEY, validate: false });
    const { ciphertext } = (await store.get("u1", "gemini"))!;
    if (kind === "localKey") expect(ciphertext.split(".")[0]).toBe("v1");
    else {
      const [version, kekPart] = ciphertext.split(".");
      expect([version, decode(kekPart!)]).toEqual(["v2", setup.kek.id]);
    }
    const afterRegister = calls();
    expect(afterRegister).toBe(kind === "localKey" ? 0 : 1);
    for (let i = 0; i < 3; i++) expect((await byok.use("u1").chat({ prompt: "hi" })).text).toBe("Echo: hi");
    expect(calls()).toBe(afterRegister);
    expect(gemini.requests.at(-1)!.headers["x-goog-api-key"]).toBe(CANARY_KEY);
    expect(ciphertext).not.toContain(CANARY_KEY.slice(4));
  });

  it("unwraps a cold record once however many chats ask at the same time", async () => {
    await newByok().registerKey({ userId: "u1", provider: "gemini", apiKey: CANARY_KEY, validate: false });
    const cold = newByok();
    const before = calls();
    await Promise.all(Array.from({ length: 8 }, () => cold.use("u1").chat({ prompt: "hi" })));
    expect(calls() - before).toBe(kind === "localKey" ? 0 : 1);
  });

  it("answers KEY_UNREADABLE for a record moved to another user, and sends nothing upstream", async () => {
    await newByok().registerKey({ userId: "u1", provider: "gemini", apiKey: CANARY_KEY, validate: false });
    const record = (await store.get("u1", "gemini"))!;
    await store.put({ ...record, userId: "u2" });
    const before = gemini.requests.length;
    // a fresh instance (nothing cached) and the one that sealed it (its data key cached) alike
    for (const byok of [newByok(), byoks[0]!]) {
      expect(await codeOf(byok.use("u2").chat({ prompt: "hi" }))).toBe("KEY_UNREADABLE");
      expect((await byok.listKeys("u2"))[0]!.status).toBe("unreadable");
    }
    expect(gemini.requests.length).toBe(before);
  });

  it("keeps the key service's secret in the service: no answer, record, error or rendering carries it", async () => {
    const byok = newByok();
    await byok.registerKey({ userId: "u1", provider: "gemini", apiKey: CANARY_KEY, validate: false });
    await byok.use("u1").chat({ prompt: "hi" });
    const failure = await byok
      .use("u1")
      .chat({ provider: "gemini", prompt: "x", model: "m" })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    const seen = [
      ...(setup.service?.calls.map((c) => c.responseBody) ?? []),
      JSON.stringify((await store.get("u1", "gemini"))!),
      inspect(byok, { depth: 5, showHidden: true }),
      inspect(setup.kek, { depth: 5, showHidden: true }),
      JSON.stringify(setup.kek),
      inspect(failure),
    ].join("\n");
    expect(setup.secrets.length).toBeGreaterThan(0);
    for (const secret of setup.secrets) expect(seen.includes(secret) ? "leaked" : "absent").toBe("absent");
  });

  it("moves records to another key by re-wrapping, keeping the API key's ciphertext", async () => {
    const from = newByok();
    for (const userId of ["a", "b", "c"])
      await from.registerKey({ userId, provider: "gemini", apiKey: `${CANARY_KEY}${userId}`, validate: false });
    const next = setup.another();
    const before = (await store.get("a", "gemini"))!.ciphertext;
    const to = new BYOK({
      keyEncryption: next,
      previousKeyEncryption: [setup.kek],
      store,
      providers: { gemini: { baseUrl: "http://127.0.0.1:9" } },
    });
    byoks.push(to);
    expect(await to.rotate()).toEqual({ scanned: 3, rotated: 3, skipped: 0, failed: 0 });
    const after = (await store.get("a", "gemini"))!.ciphertext;
    if (kind !== "localKey") {
      // re-wrapped: the API key's IV, ciphertext and tag are kept, the wrapping key changed
      expect(after.split(".").slice(3)).toEqual(before.split(".").slice(3));
      expect(decode(after.split(".")[1]!)).toBe(next.id);
    }
    expect(await to.rotate()).toEqual({ scanned: 3, rotated: 0, skipped: 3, failed: 0 });
    const onlyNew = newByok({ kek: next });
    expect((await onlyNew.use("c").chat({ prompt: "hi" })).text).toBe("Echo: hi");
    expect(gemini.requests.at(-1)!.headers["x-goog-api-key"]).toBe(`${CANARY_KEY}c`);
  });
});

describe.each(["vaultTransit", "awsKms"] as const)("%s when the key service fails", (kind) => {
  let setup: KekSetup;
  let gemini: FakeUpstream;
  let store: MemoryStore;
  let byok: BYOK;
  const TIMEOUT_MS = 250;

  beforeEach(async () => {
    setup = await startKek(kind, { timeoutMs: TIMEOUT_MS });
    gemini = await startFakeGemini();
    store = new MemoryStore();
    byok = new BYOK({ keyEncryption: setup.kek, store, providers: { gemini: { baseUrl: gemini.url } } });
    for (const userId of ["warm", "cold"])
      await new BYOK({
        keyEncryption: setup.patient,
        store,
        providers: { gemini: { baseUrl: "http://127.0.0.1:9" } },
      }).registerKey({
        userId,
        provider: "gemini",
        apiKey: CANARY_KEY,
        validate: false,
      });
    // Caches warm's data key in `byok`; its small timeoutMs is for the faults below, so a loaded machine may need a retry.
    await waitFor(
      () =>
        byok
          .use("warm")
          .chat({ prompt: "hi" })
          .then(
            () => true,
            () => false,
          ),
      "warm's first chat",
      10_000,
      50,
    );
  });
  afterEach(async () => {
    setup.service!.faults.down = false;
    setup.service!.faults.hang = false;
    setup.service!.faults.garbled = false;
    await byok.close();
    await gemini.close();
    await setup.close();
  });

  it.each(["down", "hang"] as const)(
    "%s: a cached key keeps serving, an uncached one answers 503 KEY_SERVICE_UNAVAILABLE within timeoutMs, then heals",
    async (fault) => {
      setup.service!.faults[fault] = true;
      expect((await byok.use("warm").chat({ prompt: "still" })).text).toBe("Echo: still");
      const started = Date.now();
      const error = await byok
        .use("cold")
        .chat({ prompt: "hi" })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      const elapsed = Date.now() - started;
      expect(ByokError.is(error) && [error.code, error.status]).toEqual(["KEY_SERVICE_UNAVAILABLE", 503]);
      expect(elapsed).toBeLessThan(TIMEOUT_MS * 4 + 1000);
      // an outage does not tell users to re-enter their keys
      expect((await byok.listKeys("cold"))[0]!.status).toBe("ok");
      setup.service!.faults[fault] = false;
      expect((await byok.use("cold").chat({ prompt: "back" })).text).toBe("Echo: back");
    },
  );

  it("POST /byok/chat answers 503 KEY_SERVICE_UNAVAILABLE with the end-user message while the service is down", async () => {
    const app = express();
    app.use((req, _res, next) => (((req as unknown as { user: { id: string } }).user = { id: "cold" }), next()));
    app.use(byokRouter({ byok, rateLimit: false }));
    setup.service!.faults.down = true;
    const res = await request(app).post("/byok/chat").send({ prompt: "hi" });
    expect([res.status, res.body.error.code]).toEqual([503, "KEY_SERVICE_UNAVAILABLE"]);
    expect(res.body.error.message).toBe("Saved keys cannot be unlocked right now. Please try again in a moment.");
  });

  it("deny: answers 503 KEY_SERVICE_UNAVAILABLE naming the permission to check", async () => {
    setup.service!.faults.deny = true;
    const error = await byok
      .use("cold")
      .chat({ prompt: "hi" })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(ByokError.is(error) && error.code).toBe("KEY_SERVICE_UNAVAILABLE");
    expect((error as Error).message).toMatch(
      kind === "vaultTransit" ? /refused the token or its policy/ : /refused the credentials or the key policy/,
    );
    expect((error as Error).message).not.toMatch(/did not answer|reachable/);
    setup.service!.faults.deny = false;
  });

  it("deny: verify stops with the key service's reason (refused), not a service that did not answer", async () => {
    setup.service!.faults.deny = true;
    const error = await byok.verify().catch((e: unknown) => e);
    expect(ByokError.is(error) && error.code).toBe("KEY_SERVICE_UNAVAILABLE");
    expect((error as Error).message).toMatch(
      kind === "vaultTransit" ? /refused the token or its policy/ : /refused the credentials or the key policy/,
    );
    expect((error as Error).message).not.toMatch(/did not answer/);
    setup.service!.faults.deny = false;
  });

  it("garbled: a 200 whose plaintext is no data key is KEY_SERVICE_UNAVAILABLE (the record is fine), then heals", async () => {
    setup.service!.faults.garbled = true;
    expect(await codeOf(byok.use("cold").chat({ prompt: "hi" }))).toBe("KEY_SERVICE_UNAVAILABLE");
    expect((await byok.listKeys("cold"))[0]!.status).toBe("ok");
    setup.service!.faults.garbled = false;
    expect((await byok.use("cold").chat({ prompt: "back" })).text).toBe("Echo: back");
  });

  it("wrong context: answers KEY_UNREADABLE and sends nothing upstream", async () => {
    setup.service!.faults.wrongContext = true;
    const before = gemini.requests.length;
    expect(await codeOf(byok.use("cold").chat({ prompt: "hi" }))).toBe("KEY_UNREADABLE");
    expect(gemini.requests.length).toBe(before);
    setup.service!.faults.wrongContext = false;
  });

  it("a registration while the service is down answers 503 and stores nothing", async () => {
    setup.service!.faults.down = true;
    expect(
      await codeOf(byok.registerKey({ userId: "new", provider: "gemini", apiKey: CANARY_KEY, validate: false })),
    ).toBe("KEY_SERVICE_UNAVAILABLE");
    expect(await store.get("new", "gemini")).toBeUndefined();
  });

  it("rotate stops with KEY_SERVICE_UNAVAILABLE and leaves records as they were", async () => {
    const next = new BYOK({
      keyEncryption: setup.another(),
      previousKeyEncryption: [setup.kek],
      store,
      providers: { gemini: { baseUrl: "http://127.0.0.1:9" } },
    });
    setup.service!.faults.down = true;
    expect(await codeOf(next.rotate())).toBe("KEY_SERVICE_UNAVAILABLE");
    await next.close();
    setup.service!.faults.down = false;
    // Nothing was lost: the same rotation, by keys without the time limit (the limit is what the outage tested).
    const healed = new BYOK({
      keyEncryption: setup.another({ patient: true }),
      previousKeyEncryption: [setup.patient],
      store,
      providers: { gemini: { baseUrl: "http://127.0.0.1:9" } },
    });
    expect((await healed.rotate()).rotated).toBe(2);
    await healed.close();
  });
});

describe("keyEncryption options", () => {
  it("refuses masterKey together with keyEncryption, naming previousMasterKeys", () => {
    expect(() => new BYOK({ masterKey: TEST_MASTER_KEY, keyEncryption: localKey(TEST_MASTER_KEY) })).toThrow(
      /not both.*previousMasterKeys/,
    );
  });

  it.each([
    ["an object without wrap", { keyEncryption: { id: "x", unwrap: async () => new Uint8Array(32) } }],
    ["an empty id", { keyEncryption: { id: "", wrap: async () => "", unwrap: async () => new Uint8Array(32) } }],
    ["a non-array previousKeyEncryption", { masterKey: TEST_MASTER_KEY, previousKeyEncryption: {} }],
    ["an unknown cache option", { masterKey: TEST_MASTER_KEY, dataKeyCache: { maxAge: 5 } }],
    ["a zero maxEntries", { masterKey: TEST_MASTER_KEY, dataKeyCache: { maxEntries: 0 } }],
    ["a negative maxAgeMs", { masterKey: TEST_MASTER_KEY, dataKeyCache: { maxAgeMs: -1 } }],
  ])("answers CONFIG_INVALID for %s", (_name, options) => {
    expect(() => new BYOK(options as never)).toThrow(expect.objectContaining({ code: "CONFIG_INVALID" }));
  });

  it.each([
    ["vaultTransit without a token", () => vaultTransit({ url: "http://127.0.0.1:1", keyName: "k" } as never), /token/],
    ["vaultTransit with a bad url", () => vaultTransit({ url: "vault", token: "t", keyName: "k" }), /url/],
    [
      "vaultTransit with a path in keyName",
      () => vaultTransit({ url: "http://v", token: "t", keyName: "a/b" }),
      /keyName/,
    ],
    [
      "vaultTransit with a typo",
      () => vaultTransit({ url: "http://v", token: "t", keyName: "k", timeout: 5 } as never),
      /timeout/,
    ],
    ["awsKms without keyId", () => awsKms({} as never), /keyId/],
    ["awsKms with a zero timeoutMs", () => awsKms({ keyId: "alias/x", timeoutMs: 0 }), /timeoutMs/],
  ])("%s answers CONFIG_INVALID naming the option", (_name, make, pattern) => {
    expect(make).toThrow(pattern);
  });

  it("shows a KEK's id and never its token in JSON and inspect", () => {
    const kek = vaultTransit({ url: "http://127.0.0.1:1", token: "hvs.SECRET-token", keyName: "byok" });
    expect(JSON.stringify(kek)).toBe('{"id":"vault-transit:transit/byok"}');
    expect(inspect(kek, { showHidden: true, depth: 5 })).not.toContain("SECRET");
  });

  it("keyEncryption: localKey(k) writes the same v1 records as masterKey: k, each reads the other's", async () => {
    const store = new MemoryStore();
    const viaKek = new BYOK({
      keyEncryption: localKey(TEST_MASTER_KEY),
      store,
      providers: { gemini: { baseUrl: "http://127.0.0.1:9" } },
    });
    const viaMaster = new BYOK({
      masterKey: TEST_MASTER_KEY,
      store,
      providers: { gemini: { baseUrl: "http://127.0.0.1:9" } },
    });
    await viaKek.registerKey({ userId: "u", provider: "gemini", apiKey: CANARY_KEY, validate: false });
    expect((await store.get("u", "gemini"))!.ciphertext.startsWith("v1.")).toBe(true);
    expect((await viaMaster.listKeys("u"))[0]!.status).toBe("ok");
    expect(await viaMaster.rotate()).toEqual({ scanned: 1, rotated: 0, skipped: 1, failed: 0 });
  });

  it("localKey wraps a data key bound to its context", async () => {
    const kek = localKey(TEST_MASTER_KEY);
    const dataKey = new Uint8Array(32).fill(3);
    const wrapped = await kek.wrap(dataKey, { userId: "u", provider: "p" });
    expect(Buffer.from(await kek.unwrap(wrapped, { userId: "u", provider: "p" }))).toEqual(Buffer.from(dataKey));
    expect(await codeOf(kek.unwrap(wrapped, { userId: "v", provider: "p" }))).toBe("KEY_UNREADABLE");
  });

  it("a custom KEK that throws plain errors is KEY_SERVICE_UNAVAILABLE, and one that answers garbage KEY_UNREADABLE", async () => {
    const store = new MemoryStore();
    const good = localKey(Buffer.alloc(32, 9));
    const custom = (unwrap: KeyEncryptionKey["unwrap"]): KeyEncryptionKey => ({
      id: "custom",
      wrap: (k, c) => good.wrap(k, c),
      unwrap,
    });
    const writer = new BYOK({
      keyEncryption: custom(() => Promise.reject(new Error("x"))),
      store,
      providers: { gemini: { baseUrl: "http://127.0.0.1:9" } },
    });
    await writer.registerKey({ userId: "u", provider: "gemini", apiKey: CANARY_KEY, validate: false });
    const failing = new BYOK({
      keyEncryption: custom(() => Promise.reject(new Error("boom"))),
      store,
      providers: { gemini: { baseUrl: "http://127.0.0.1:9" } },
    });
    expect(await codeOf(failing.use("u").chat({ prompt: "x" }))).toBe("KEY_SERVICE_UNAVAILABLE");
    const garbage = new BYOK({
      keyEncryption: custom(async () => new Uint8Array(5)),
      store,
      providers: { gemini: { baseUrl: "http://127.0.0.1:9" } },
    });
    expect(await codeOf(garbage.use("u").chat({ prompt: "x" }))).toBe("KEY_UNREADABLE");
    for (const b of [writer, failing, garbage]) await b.close();
  });
});
