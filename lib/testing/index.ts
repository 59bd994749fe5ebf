// byok-ai/testing: fake provider servers for the users' own tests (and ours).
export { startFakeGemini, geminiProtocol } from "./fake-gemini.js";
export { startFakeOpenAI, openaiProtocol } from "./fake-openai.js";
export { startFakeAnthropic, anthropicProtocol } from "./fake-anthropic.js";
export { startFakeProviders, type FakeProviders } from "./fake-providers.js";
export {
  runProviderConformance,
  chatReaders,
  type ProviderConformanceOptions,
  type ConformanceRunner,
  type SeenChat,
} from "./provider-conformance.js";
export {
  startFakeUpstream,
  defaultAcceptKey,
  type FakeProtocol,
  type FakeReply,
  type FakeRequest,
  type FakeToolCall,
  type FakeUpstream,
  type FakeUpstreamOptions,
  type ResolvedReply,
} from "./fake-upstream.js";
export { runKeyStoreConformance, type KeyStoreConformanceOptions } from "./store-conformance.js";
