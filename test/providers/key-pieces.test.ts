// Upstream text that echoes a piece of the user's key: no 8 characters of the key in a row survive anywhere.
import { BYOK, type ByokEvent } from "../../lib";
import { cleanUpstreamMessage } from "../../lib/extend";
import { type FakeProviders, startFakeProviders } from "../../lib/testing";
import { captureConsole, renderings, TEST_MASTER_KEY } from "../helpers/canary";

// Middles of plain letters: no "looks like a credential" pattern catches them, only the key itself can.
const KEYS = {
  gemini: "AIzaSyQwertyuiopasdfghjklZXCV",
  openai: "sk-proj-mnbvcxzlkjhgfdsapoiuQWER",
  anthropic: "sk-ant-api03-plokmijnuhbygvtfcASDF",
} as const;
type Id = keyof typeof KEYS;

/** Every run of 8 characters of `key`. */
const piecesOf = (key: string): string[] => Array.from({ length: key.length - 7 }, (_, i) => key.slice(i, i + 8));

/** The key's pieces found in `text` (none expected). */
const leakedPieces = (text: string, key: string): string[] => piecesOf(key).filter((p) => text.includes(p));

let fakes: FakeProviders;
let byok: BYOK;
let events: ByokEvent[];
beforeEach(async () => {
  fakes = await startFakeProviders();
  events = [];
  byok = new BYOK({ masterKey: TEST_MASTER_KEY, providers: fakes.providers, onEvent: (e) => void events.push(e) });
  for (const id of Object.keys(KEYS) as Id[]) await byok.registerKey({ userId: "u1", provider: id, apiKey: KEYS[id] });
});
afterEach(async () => {
  await byok.close();
  await fakes.close();
});

describe.each(Object.keys(KEYS) as Id[])("PROVIDER_BAD_REQUEST from %s", (id) => {
  const key = KEYS[id];
  const slices = {
    "12 characters from the middle": key.slice(9, 21),
    "exactly 8 characters from the middle": key.slice(11, 19),
    "the middle glued to other text": `x${key.slice(8, 20)}y`,
    "two pieces apart": `${key.slice(4, 12)} and ${key.slice(-10)}`,
  };

  it.each(Object.entries(slices))(
    "keeps no 8 characters of the key when the upstream 400 echoes %s",
    async (_what, echoed) => {
      const message = `Invalid value at 'contents[0]' (${echoed}); see the docs`;
      const { result: errors, output } = await captureConsole(async () => {
        fakes[id].enqueue({ status: 400, message });
        const chatError = await byok
          .use("u1")
          .chat({ provider: id, prompt: "x" })
          .catch((e: unknown) => e);
        fakes[id].enqueue({ status: 400, message });
        const streamError = await (async () => {
          for await (const _ of byok.use("u1").stream({ provider: id, prompt: "x" }));
        })().catch((e: unknown) => e);
        return [chatError, streamError];
      });
      for (const error of errors) {
        expect(error).toMatchObject({ code: "PROVIDER_BAD_REQUEST", status: 400 });
        expect((error as Error).message).toContain("Invalid value at");
        expect((error as Error).message).toContain("[redacted]");
        expect(leakedPieces(renderings(error), key)).toEqual([]);
      }
      expect(leakedPieces([output, ...events.map(renderings)].join("\n"), key)).toEqual([]);
    },
  );
});

describe("cleanUpstreamMessage", () => {
  it("redacts every run of 8 or more characters of the key and keeps the text around them", () => {
    const key = "abcdefghijklmnopqrstuvwx";
    expect(cleanUpstreamMessage(`left ${key.slice(5, 13)} mid ${key.slice(10, 30)} right`, key)).toBe(
      "left [redacted] mid [redacted] right",
    );
    expect(cleanUpstreamMessage(`near miss ${key.slice(3, 10)} stays`, key)).toBe(
      `near miss ${key.slice(3, 10)} stays`,
    );
  });
});
