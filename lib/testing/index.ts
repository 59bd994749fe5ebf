// byok-ai/testing: fake provider servers, fake key services (Vault transit, AWS KMS) and the two conformance suites, for the users' own tests (and ours), as docs/testing.md documents them.
export { startFakeGemini } from "./fake-gemini.js";
export { startFakeOpenAI } from "./fake-openai.js";
export { startFakeAnthropic } from "./fake-anthropic.js";
export { startFakeOpenRouter, type FakeOpenRouter } from "./fake-openrouter.js";
export { startFakeAzureOpenAI } from "./fake-azure-openai.js";
export {
  startFakeProviders,
  type FakeProviders,
  type FakeProvidersOptions,
  type FakeProviderServers,
} from "./fake-providers.js";
export {
  startFakeUpstream,
  type FakeAnswer,
  type FakeProtocol,
  type FakeRefusal,
  type FakeReply,
  type FakeRequest,
  type FakeStreamFrame,
  type FakeToolCall,
  type FakeUpstream,
  type FakeUpstreamOptions,
} from "./fake-upstream.js";
export {
  runProviderConformance,
  chatReaders,
  connectionChats,
  type ProviderConformanceOptions,
  type ConformanceRunner,
  type ConnectionChat,
  type IssuedCredential,
  type SeenChat,
} from "./provider-conformance.js";
export {
  runBudgetStoreConformance,
  runKeyStoreConformance,
  runOnceStoreConformance,
  runUsageStoreConformance,
  type CapabilityConformanceOptions,
  type KeyStoreConformanceOptions,
} from "./store-conformance.js";
export { startFakeVaultTransit, type FakeVaultTransit, type FakeVaultTransitOptions } from "./fake-vault-transit.js";
export { startFakeAwsKms, type FakeAwsKms, type FakeAwsKmsOptions } from "./fake-aws-kms.js";
export type { FakeKeyService, KeyServiceCall, KeyServiceFaults } from "./fake-key-service.js";
export { startFakeBedrock, type FakeBedrock, type FakeBedrockOptions } from "./fake-bedrock.js";
export type { FakeAwsCredentials } from "./fake-aws-sigv4.js";
export { startFakeVertex, type FakeVertex, type FakeVertexOptions } from "./fake-vertex.js";
export type { FakeServiceAccount } from "./fake-google-oauth.js";
