// byok-ai: the entry point apps use. Re-exports the contract, nothing else; provider and store authors'
// interfaces are in byok-ai/extend (lib/extend.ts), the test kit in byok-ai/testing.
export { BYOK } from "./byok.js";
export type { ByokOptions } from "./core/options.js";
export type { DeleteKeyInput, KeyOwner, RegisterKeyFields, RegisterKeyInput } from "./core/keys.js";
export type { UseOptions } from "./core/ai-client.js";
export type { UsageOptions, UsageQuery } from "./core/metering.js";
export type { RotateOptions, RotateResult, VerifyOptions, VerifyResult } from "./core/rotate.js";
export { ByokError, ERROR_STATUS, type ByokErrorCode, type ByokErrorOptions } from "./errors.js";
export type {
  AiClient,
  Budget,
  Budgets,
  ByokEvent,
  ByokEventBase,
  ChatCompletedEvent,
  ChatFailedEvent,
  KeyCheckedEvent,
  KeyStatusChangedEvent,
  KeyDeletedEvent,
  KeyRegisteredEvent,
  KeyRejectedEvent,
  KeyUsedEvent,
  ChatMessage,
  ChatRequest,
  ChatResponse,
  ChatStream,
  Credential,
  FinishReason,
  KeyInfo,
  KeyStatus,
  ModelInfo,
  ModelPrice,
  Pricing,
  ProviderConnection,
  ProviderOptions,
  Usage,
  UsageRow,
  UserEndpointOptions,
} from "./core/types.js";
export { MemoryStore } from "./stores/memory-store.js";
export { RedisStore, type RedisStoreOptions } from "./stores/redis-store.js";
export { PostgresStore, type PostgresStoreOptions } from "./stores/postgres-store.js";
export { generateMasterKey } from "./vault/master-key.js";
export type { KeyEncryptionKey } from "./vault/key-encryption.js";
export type { DataKeyCacheOptions } from "./vault/data-key-cache.js";
export { localKey } from "./vault/local-key.js";
export { vaultTransit, type VaultTransitOptions } from "./kms/vault-transit.js";
export { awsKms, type AwsKmsOptions, type KmsClientLike } from "./kms/aws-kms.js";
export { createGeminiProvider, type GeminiProviderSettings } from "./providers/gemini.js";
export { createOpenAIProvider, type OpenAIProviderSettings } from "./providers/openai.js";
export { createAnthropicProvider, type AnthropicProviderSettings } from "./providers/anthropic.js";
export { createBedrockProvider, type BedrockCredential, type BedrockProviderSettings } from "./providers/bedrock.js";
export { createVertexProvider, type VertexCredential, type VertexProviderSettings } from "./providers/vertex.js";
export {
  createOpenRouterProvider,
  isOpenRouterProvider,
  type OpenRouterProvider,
  type OpenRouterProviderSettings,
} from "./providers/openrouter.js";
export { createAzureOpenAIProvider, type AzureOpenAIProviderSettings } from "./providers/azure-openai.js";
export type { UserEndpointSettings } from "./providers/user-endpoints.js";
export type { EndpointRefusalReason } from "./core/validate.js";
export {
  byokRouter,
  type ConnectOpenRouterOptions,
  type RouterOptions,
  type RateLimitWindow,
  type RateLimitStoreFactory,
} from "./router/byok-router.js";
export { byokErrorHandler, type ErrorHandlerOptions } from "./router/error-handler.js";
export {
  byokErrorResponse,
  byokHandler,
  type ErrorResponseOptions,
  type HandlerOptions,
} from "./router/byok-handler.js";
export type { ErrorDetails, ErrorMessages } from "./router/error-messages.js";
