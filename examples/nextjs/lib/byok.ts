// The app's one BYOK instance, shared by the byok routes and the app's own routes.
import { BYOK, generateMasterKey, MemoryStore } from "byok-ai";
import { startFakeProviders } from "byok-ai/testing";

// Offline demo: byok-ai/testing's fake Gemini, OpenAI and Anthropic servers (on 127.0.0.1) stand in for the real
// providers, so the example runs with no account and no network. In your app, leave `providers` out.
const fakes = await startFakeProviders();

export const byok = new BYOK({
  // In your app: the master key from your secrets (`npx byok-ai keygen`), and a RedisStore or PostgresStore. A fresh
  // key on each start suits this in-memory demo only: MemoryStore forgets every key on restart anyway.
  masterKey: process.env.BYOK_MASTER_KEY ?? generateMasterKey(),
  store: new MemoryStore(),
  providers: fakes.providers,
});
