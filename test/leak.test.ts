// The canary key and the master key appear nowhere but in the fake upstream's auth header.
import { BYOK, ByokError, MemoryStore } from "../lib";
import { startFakeGemini, type FakeReply } from "../lib/testing";
import { CANARY_KEY, TEST_MASTER_KEY } from "./helpers/canary";
import { expectOnlyInAuthHeader, leakHunt } from "./helpers/leak-suite";
import { flipBit } from "./helpers/tamper";

describe("leak canary (BYOK with MemoryStore and Gemini)", () => {
  it("never shows the canary key or the master key outside the upstream request header", async () => {
    const fake = await startFakeGemini();
    const hunt = leakHunt();
    const store = new MemoryStore();
    const byok = new BYOK({
      masterKey: TEST_MASTER_KEY,
      store,
      // Short enough for the hang case below, long enough for a first fetch on a loaded machine.
      providers: { gemini: { baseUrl: fake.url, timeoutMs: 1500 } },
      onEvent: hunt.onEvent,
    });
    const seen = hunt.seen;
    seen.push(byok, store);
    const masterBytes = Buffer.from(TEST_MASTER_KEY, "base64");
    await hunt.capture(async () => {
      seen.push(await byok.registerKey({ userId: "u1", provider: "gemini", apiKey: CANARY_KEY }));
      seen.push(
        await byok
          .registerKey({ userId: "u1", provider: "gemini", apiKey: `bad${CANARY_KEY}` })
          .catch((e: unknown) => e),
      );
      seen.push(
        await byok.registerKey({ userId: "u1", provider: "gemini", apiKey: `${CANARY_KEY} ` }).catch((e: unknown) => e),
      );
      seen.push(
        await byok.registerKey({ userId: "u1", provider: "nope", apiKey: CANARY_KEY }).catch((e: unknown) => e),
      );
      const ai = byok.use("u1");
      seen.push(ai, await ai.chat({ prompt: "hi" }), await ai.keys(), await byok.listKeys("u1"));
      const replies: FakeReply[] = [
        { status: 400, message: `bad request for ${CANARY_KEY}` },
        { status: 401, message: `Incorrect API key provided: ${CANARY_KEY}` },
        { status: 429, retryAfter: 1, message: CANARY_KEY },
        { status: 500, message: CANARY_KEY },
        { garbage: true },
        { reset: true },
        { hang: true },
      ];
      for (const reply of replies) {
        fake.enqueue(reply);
        seen.push(await ai.chat({ prompt: "x" }).catch((e: unknown) => e));
      }
      fake.enqueue({ chunks: ["a ", "b"], dropAfterChunks: 1 });
      const stream = ai.stream({ prompt: "x" });
      seen.push(
        await (async () => {
          for await (const chunk of stream) seen.push(chunk);
        })().catch((e: unknown) => e),
      );
      // a tampered record
      const record = (await store.get("u1", "gemini"))!;
      await store.compareAndSwap("u1", "gemini", record.ciphertext, flipBit(record.ciphertext));
      seen.push(await ai.chat({ prompt: "x" }).catch((e: unknown) => e));
      seen.push(
        await byok
          .use("")
          .chat({ prompt: "x" })
          .catch((e: unknown) => e),
      );
    });
    const errors = seen.filter(ByokError.is);
    expect(errors.length).toBeGreaterThanOrEqual(10);
    hunt.expectNone([CANARY_KEY, TEST_MASTER_KEY, masterBytes.toString("hex"), masterBytes.toString("base64url")], {
      extra: (await collect(store)).map((r) => JSON.stringify(r)),
    });
    expectOnlyInAuthHeader(fake, ["x-goog-api-key", CANARY_KEY], "CANARY");
    await byok.close();
    await fake.close();
  });
});

async function collect(store: MemoryStore) {
  const out = [];
  for await (const batch of store.scan()) out.push(...batch);
  return out;
}
