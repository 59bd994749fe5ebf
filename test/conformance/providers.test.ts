// Runs the provider conformance suite over every built-in provider and one OpenAI-compatible provider.
import { runProviderConformance, startFakeAnthropic, startFakeGemini, startFakeOpenAI } from "../../lib/testing";
import { chatReaders } from "../../lib/testing/provider-conformance-support";

runProviderConformance(
  { describe, it },
  {
    name: "gemini",
    startFake: () => startFakeGemini(),
    readChat: chatReaders.gemini,
    providerOptions: (baseUrl, extra) => ({ baseUrl, ...extra }),
  },
);

runProviderConformance(
  { describe, it },
  {
    name: "openai",
    startFake: () => startFakeOpenAI(),
    readChat: chatReaders.openai,
    providerOptions: (baseUrl, extra) => ({ baseUrl: `${baseUrl}/v1`, ...extra }),
  },
);

runProviderConformance(
  { describe, it },
  {
    name: "anthropic",
    startFake: () => startFakeAnthropic(),
    readChat: chatReaders.anthropic,
    providerOptions: (baseUrl, extra) => ({ baseUrl, ...extra }),
  },
);

runProviderConformance(
  { describe, it },
  {
    name: "groq (openai-compatible)",
    id: "groq",
    startFake: () => startFakeOpenAI(),
    readChat: chatReaders.openai,
    providerOptions: (baseUrl, extra) => ({
      kind: "openai-compatible",
      baseUrl: `${baseUrl}/v1`,
      defaultModel: "llama-3.1-8b-instant",
      ...extra,
    }),
  },
);
