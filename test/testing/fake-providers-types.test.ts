// startFakeProviders({ only }) at the type level (tsc checks it through test/type-tests.test.ts): only the chosen fakes are there.
import { startFakeProviders } from "../../lib/testing";

describe("startFakeProviders({ only })", () => {
  it("types exactly the chosen fakes, and refuses a provider that is not built in", async () => {
    const fakes = await startFakeProviders({ only: ["openai"] });
    try {
      expect(fakes.openai.url).toMatch(/^http:\/\/127\.0\.0\.1:/);
      // @ts-expect-error gemini was not chosen: no fake of it runs
      expect(fakes.gemini).toBeUndefined();
      // @ts-expect-error only lists built-in providers
      await expect(startFakeProviders({ only: ["groq"] })).rejects.toThrow(TypeError);
    } finally {
      await fakes.close();
    }
  });
});
