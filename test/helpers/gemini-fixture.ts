// A BYOK wired to a fresh fake Gemini (and the other built-ins to their fakes), with every event recorded.
import { BYOK, type ByokEvent, type ByokOptions } from "../../lib";
import { type FakeUpstream, startFakeProviders } from "../../lib/testing";
import { TEST_MASTER_KEY } from "./canary";

export interface GeminiFixture {
  byok: BYOK;
  fake: FakeUpstream;
  events: ByokEvent[];
  close(): Promise<void>;
}

export async function geminiFixture(
  options: Partial<ByokOptions> = {},
  gemini: { timeoutMs?: number } = {},
): Promise<GeminiFixture> {
  const fakes = await startFakeProviders();
  const fake = fakes.gemini;
  const events: ByokEvent[] = [];
  const byok = new BYOK({
    masterKey: TEST_MASTER_KEY,
    providers: { ...fakes.providers, gemini: { baseUrl: fake.url, ...gemini } },
    onEvent: (e) => void events.push(e),
    ...options,
  });
  return {
    byok,
    fake,
    events,
    close: async () => {
      await byok.close();
      await fakes.close();
    },
  };
}
