// Upstream errors that quote the key encoded (URL, form, base64, base64url, hex, reversed): no piece of the
// key in any form reaches a thrown error's message, cause, stack, JSON or util.inspect.
import { BYOK, type ByokError } from "../../lib";
import { type FakeProviders, startFakeProviders } from "../../lib/testing";
import { keyEchoes, keyPieces, renderings, TEST_MASTER_KEY } from "../helpers/canary";

// Characters that URL encoding changes (+ / = % ! ~ * ' ( )), so the encoded forms differ from the key.
const KEYS = {
  gemini: "AIzaSyQw+rty/uiop=asdf%ghjk!lZX~CV*b'n(m)",
  openai: "sk-proj-mn+bv/cx=zl%kj!hg~fd*sa'po(iu)QWER",
  anthropic: "sk-ant-api03-pl+ok/mi=jn%uh!by~gv*tf'cA(SD)F",
} as const;
type Id = keyof typeof KEYS;

/** The pieces of the key, in any form, found in `text` (none expected). */
const leakedPieces = (text: string, key: string): string[] => keyPieces(key).filter((piece) => text.includes(piece));

let fakes: FakeProviders;
let byok: BYOK;
beforeAll(async () => {
  fakes = await startFakeProviders();
  byok = new BYOK({ masterKey: TEST_MASTER_KEY, providers: fakes.providers });
  for (const id of Object.keys(KEYS) as Id[])
    await byok.registerKey({ userId: "u1", provider: id, apiKey: KEYS[id], validate: false });
});
afterAll(async () => {
  await byok.close();
  await fakes.close();
});

/** The errors a chat and a stream throw for the next two scripted failures. */
async function failures(id: Id, reply: Parameters<FakeProviders[Id]["enqueue"]>[0]): Promise<ByokError[]> {
  fakes[id].enqueue(reply, reply);
  const chat = await byok
    .use("u1")
    .chat({ provider: id, prompt: "x" })
    .catch((e: unknown) => e);
  const stream = await (async () => {
    for await (const _ of byok.use("u1").stream({ provider: id, prompt: "x" }));
  })().catch((e: unknown) => e);
  return [chat, stream] as ByokError[];
}

describe.each(Object.keys(KEYS) as Id[])("an upstream %s error quoting the key encoded", (id) => {
  const key = KEYS[id];
  const quoted = Object.entries(keyEchoes(key)).flatMap(([what, text]) => [
    [what, text],
    [`16 characters from the middle of the ${what} key`, text.slice(6, 22)],
  ]);

  it.each(quoted)("keeps no piece of the key in the message: %s", async (_what, text) => {
    for (const error of await failures(id, {
      status: 400,
      message: `Invalid value at 'contents[0]' (${text}); see docs`,
    })) {
      expect(error).toMatchObject({
        code: "PROVIDER_BAD_REQUEST",
        message: expect.stringContaining("Invalid value at"),
      });
      expect(leakedPieces(renderings(error), key)).toEqual([]);
    }
  });

  it.each(quoted)("keeps no piece of the key in the cause's type: %s", async (_what, text) => {
    for (const error of await failures(id, { status: 400, message: "Bad request", errorType: text })) {
      expect(error).toMatchObject({ code: "PROVIDER_BAD_REQUEST" });
      expect(leakedPieces(renderings(error), key)).toEqual([]);
      expect((error.cause as { type?: string }).type).toBeUndefined();
    }
  });

  it("keeps a plain upstream type in the cause, and only short plain tokens", async () => {
    const [plain] = await failures(id, { status: 400, message: "Bad request", errorType: "invalid_request_error" });
    expect(plain!.cause).toEqual({ status: 400, type: "invalid_request_error" });
    const [odd] = await failures(id, { status: 400, message: "Bad request", errorType: "<b>not a token</b>" });
    const [long] = await failures(id, { status: 400, message: "Bad request", errorType: "x".repeat(65) });
    expect([odd!.cause, long!.cause]).toEqual([
      { status: 400, type: undefined },
      { status: 400, type: undefined },
    ]);
  });

  it("caps the upstream message it keeps", async () => {
    const [error] = await failures(id, { status: 400, message: `Too long: ${"word ".repeat(20_000)}` });
    expect(error!.message.length).toBeLessThan(400);
  });
});
