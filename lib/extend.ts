// byok-ai/extend: what provider and store authors need (the Provider spec, the KeyStore interface and its record
// and counter types, upstream error helpers), as docs/extending.md documents them. Apps import from byok-ai.
export { upstreamError, cleanUpstreamMessage, type UpstreamFailure } from "./providers/upstream-error.js";
export type {
  BudgetCounter,
  BudgetRefusal,
  BudgetStore,
  ByokStores,
  CompareAndSwap,
  KeyRecord,
  KeyStore,
  KeyVerdict,
  OnceStore,
  Provider,
  ProviderCallContext,
  ProviderChatRequest,
  ProviderChatResult,
  ProviderConnectionSpec,
  ProviderCredentialField,
  ProviderCredentialSpec,
  ProviderModel,
  ProviderRefusal,
  ProviderStreamPart,
  ProviderUserEndpoints,
  PutResult,
  StoredKeyStatus,
  UsageRow,
  UsageStore,
} from "./core/types.js";
