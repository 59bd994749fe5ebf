// One BYOK behind the fake providers with a stored key per provider, for the ai.connection() tests with real SDKs.
import { BYOK } from "../../lib";
import { type FakeProviders, startFakeProviders } from "../../lib/testing";
import { TEST_MASTER_KEY } from "./canary";

/** What {@link useConnectionFixture} sets up; read it inside tests (it is filled in `beforeAll`). */
export interface ConnectionFixture {
  fakes: FakeProviders;
  byok: BYOK;
}

/**
 * Registers jest hooks: the fakes start once, `userId` gets `keys` (one per provider), and every fake's
 * recorded requests and scripted replies are reset before each test. OpenAI's base URL carries its
 * version, as the real one does (https://api.openai.com/v1).
 */
export function useConnectionFixture(userId: string, keys: Record<string, string>): ConnectionFixture {
  const fixture = {} as ConnectionFixture;
  beforeAll(async () => {
    fixture.fakes = await startFakeProviders();
    fixture.byok = new BYOK({
      masterKey: TEST_MASTER_KEY,
      providers: { ...fixture.fakes.providers, openai: { baseUrl: `${fixture.fakes.openai.url}/v1` } },
    });
    for (const [provider, apiKey] of Object.entries(keys))
      await fixture.byok.registerKey({ userId, provider, apiKey, validate: false });
  });
  afterAll(async () => fixture.fakes.close());
  beforeEach(() => [fixture.fakes.openai, fixture.fakes.anthropic, fixture.fakes.gemini].forEach((f) => f.reset()));
  return fixture;
}
