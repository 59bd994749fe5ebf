// Public types: key records, the KeyStore contract, the Provider spec, chat requests/responses and events.

/** What applications see of a stored key: never the key itself. */
export interface KeyInfo {
  provider: string;
  /** The key's last 4 characters after an ellipsis, e.g. `"…x7Qa"`. */
  hint: string;
  /** ISO-8601. Kept when the key is replaced. */
  createdAt: string;
  /** ISO-8601. */
  updatedAt: string;
  /**
   * ISO-8601; absent until the key is first used for a chat. Written at most once a minute per key
   * (a chat within a minute of the recorded time does not write it again), so it is accurate to
   * about a minute.
   */
  lastUsedAt?: string;
}

/** One stored record: ciphertext plus metadata. Stores never see a plaintext key. */
export interface KeyRecord {
  userId: string;
  provider: string;
  /** `v1.<keyId>.<iv>.<ciphertext>.<tag>`, bound to (userId, provider). */
  ciphertext: string;
  /** `…` plus the key's last 4 characters. */
  hint: string;
  createdAt: string;
  updatedAt: string;
  lastUsedAt?: string;
}

/** One compare-and-set of {@link KeyStore.compareAndSwapMany}. */
export interface CompareAndSwap {
  userId: string;
  provider: string;
  /** Swap only if the stored ciphertext is still this one. */
  expectedCiphertext: string;
  /** The new ciphertext. */
  ciphertext: string;
}

/** Result of {@link KeyStore.put}. */
export interface PutResult {
  /** The record as stored (with the `createdAt` that was kept). */
  record: KeyRecord;
  /** `true` when a record for (userId, provider) existed and was replaced. */
  replaced: boolean;
}

/**
 * Where encrypted keys live. Implement it to add a backend; run `runKeyStoreConformance` from
 * `byok-ai/testing` against your implementation. Every method may reject with
 * `ByokError("STORE_UNAVAILABLE")` when the backend cannot be reached; it must do so quickly
 * (well under a second), never hang. User ids are arbitrary strings (1–256 characters, any
 * Unicode, including `:`, `*`, `{}`, `%`): a store must keep users apart whatever their ids.
 */
export interface KeyStore {
  /**
   * **Required.** The record for (userId, provider), or `undefined` when there is none.
   */
  get(userId: string, provider: string): Promise<KeyRecord | undefined>;

  /**
   * **Required.** Every record of one user, in any order (`[]` when none). One round trip where the
   * backend allows: it is on the hot path of every chat call that names no provider.
   */
  list(userId: string): Promise<KeyRecord[]>;

  /**
   * **Required.** Atomically creates or replaces the record for (record.userId, record.provider).
   * On replace, the existing `createdAt` is kept (the given one is ignored) and `lastUsedAt` is
   * cleared, since the new key has never been used. Concurrent puts leave exactly one of them.
   */
  put(record: KeyRecord): Promise<PutResult>;

  /** **Required.** Removes one record; `true` if it existed. */
  delete(userId: string, provider: string): Promise<boolean>;

  /** **Required.** Removes all of a user's records; resolves to how many there were. */
  deleteUser(userId: string): Promise<number>;

  /**
   * **Recommended.** Sets `lastUsedAt` on an existing record; does nothing when the record is gone
   * (it must never re-create a deleted record). Called without being awaited by the caller's
   * request, so it should be cheap. byok-ai calls it after a successful chat only when the record's
   * `lastUsedAt` is absent or at least a minute old, so a busy key costs one write a minute, not one
   * per call.
   */
  touch(userId: string, provider: string, lastUsedAt: string): Promise<void>;

  /**
   * **Required for rotation.** Every record in the store, in batches of about `batchSize`, for
   * `byok.rotate()` and `verify`. Must stream (memory flat for any number of records); a record
   * written or deleted during the walk may or may not be seen, but one that exists throughout is
   * seen exactly once, or at least once where the backend cannot promise once (Redis SCAN).
   */
  scan(options?: { batchSize?: number }): AsyncIterable<KeyRecord[]>;

  /**
   * **Required for rotation.** Replaces the ciphertext of (userId, provider) only if the stored one
   * is still `expectedCiphertext` (compare-and-set); `updatedAt` and all other fields are kept.
   * Resolves `false` when the record changed or was deleted meanwhile: rotation must never
   * overwrite a key a user just replaced, nor resurrect one a user deleted.
   */
  compareAndSwap(userId: string, provider: string, expectedCiphertext: string, ciphertext: string): Promise<boolean>;

  /**
   * **Optional.** Many compare-and-sets at once, each with exactly the semantics of
   * `compareAndSwap`; resolves one boolean per swap, in order. Rotation calls it once per batch
   * when a store has it (one round trip instead of one per record), else `compareAndSwap` per record.
   */
  compareAndSwapMany?(swaps: readonly CompareAndSwap[]): Promise<boolean[]>;

  /**
   * **Optional.** Releases what the store opened itself. A store never closes a client or pool it
   * was given.
   */
  close?(): Promise<void>;
}

/** One message of a conversation. */
export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/** What an app asks for; exactly one of `prompt` / `messages`. */
export interface ChatRequest {
  prompt?: string;
  messages?: ChatMessage[];
  /** System instruction, in addition to any `system` messages. */
  system?: string;
  /** Which provider to use; see the provider choice rule in the README. */
  provider?: string;
  /** Defaults to the provider's `defaultModel`. */
  model?: string;
  temperature?: number;
  maxTokens?: number;
  /** Aborting rejects the call with the signal's reason (as fetch does) and aborts the upstream request. */
  signal?: AbortSignal;
}

/** Why generation stopped, mapped from each provider's own values. */
export type FinishReason = "stop" | "length" | "content_filter" | "other";

/** Token counts, `0` when the provider reported none. */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
}

/** The normalized answer, the same for every provider. */
export interface ChatResponse {
  text: string;
  provider: string;
  model: string;
  finishReason: FinishReason;
  usage: Usage;
}

/** A streamed answer: iterate it for text deltas; `response` settles with the whole answer. */
export interface ChatStream extends AsyncIterable<{ text: string }> {
  /** Resolves after the last chunk; rejects as the stream does. */
  readonly response: Promise<ChatResponse>;
}

/**
 * A chat request after validation: `messages` is always set (a `prompt` becomes one user message),
 * `system` gathers the system instruction, `model` is resolved.
 */
export interface ProviderChatRequest {
  model: string;
  system?: string;
  /** `user` and `assistant` turns only, in order. */
  messages: { role: "user" | "assistant"; content: string }[];
  temperature?: number;
  maxTokens?: number;
}

/** What a provider returns from a chat; the core adds `provider`. */
export interface ProviderChatResult {
  text: string;
  model: string;
  finishReason: FinishReason;
  usage: Usage;
}

/** One piece of a provider's stream: text deltas, then exactly one `finish` at the end. */
export type ProviderStreamPart =
  { type: "text"; text: string } | { type: "finish"; model: string; finishReason: FinishReason; usage: Usage };

/** Every provider call gets the user's key and a signal it must pass to its HTTP requests. */
export interface ProviderCallContext {
  /** The plaintext key: use it for this call only; never store, log or echo it. */
  apiKey: string;
  /**
   * Aborted when the caller aborts or `timeoutMs` passes. The provider passes it to the upstream
   * request; byok-ai itself turns the abort into the caller's reason or `PROVIDER_TIMEOUT`.
   */
  signal: AbortSignal;
}

/**
 * The provider spec: what byok-ai needs to use one AI vendor with a user's key. Built-ins
 * implement it for Gemini, OpenAI, Anthropic and OpenAI-compatible servers; pass your own in
 * `new BYOK({ providers: { myid: myProvider } })`.
 *
 * Errors: throw a `ByokError` (`KEY_REJECTED`, `PROVIDER_RATE_LIMITED`, `PROVIDER_BAD_REQUEST`,
 * `PROVIDER_ERROR`…); `upstreamError()` from `byok-ai` builds one from an HTTP status. Anything
 * else thrown becomes `PROVIDER_ERROR`. Messages must not contain the key.
 */
export interface Provider {
  /** Versions this interface, as the Vercel AI SDK's `specificationVersion` does. */
  readonly specificationVersion: "v1";
  /** Model used when a request names none. */
  readonly defaultModel: string;
  /** Upstream time limit for one call, in ms; the core enforces it. Defaults to 60 000. */
  readonly timeoutMs?: number;
  /**
   * **Optional.** Loads what the provider needs before its first call (the built-ins: their SDK,
   * a few hundred ms once per process). byok-ai awaits it before a call's `timeoutMs` starts, so a
   * one-time import never counts as upstream time. Must be cheap once done; may reject (e.g.
   * `CONFIG_INVALID` when the SDK is not installed).
   */
  load?(): Promise<void>;
  /** Proves the key works with the cheapest upstream call; throws `KEY_REJECTED` when it does not. */
  validateKey(context: ProviderCallContext): Promise<void>;
  /** One complete answer. */
  doChat(request: ProviderChatRequest, context: ProviderCallContext): Promise<ProviderChatResult>;
  /** Streamed answer: text parts, then one `finish` part. Stopping iteration must abort the upstream request. */
  doStream(request: ProviderChatRequest, context: ProviderCallContext): AsyncIterable<ProviderStreamPart>;
  /** **Optional.** The models this key can use, from the provider's list-models API (at most 1000). */
  listModels?(context: ProviderCallContext): Promise<ProviderModel[]>;
}

/** One model a provider lists; the core adds `provider`. */
export interface ProviderModel {
  /** What to pass as `model` in a chat request. */
  id: string;
  /** A human-readable name, when the provider gives one. */
  displayName?: string;
}

/** One model the user's key can use, as `ai.models()` and `GET {basePath}/models` answer it. */
export interface ModelInfo extends ProviderModel {
  provider: string;
}

/** Server-side settings of a provider (never from a request). */
export interface ProviderOptions {
  /** Which protocol; defaults to the id for built-ins. `"openai-compatible"` needs `baseUrl` and `defaultModel`. */
  kind?: "gemini" | "openai" | "anthropic" | "openai-compatible";
  /** Where keys for this provider are sent. Defaults to the vendor's public API. */
  baseUrl?: string;
  /** Model used when a request names none. */
  defaultModel?: string;
  /** Upstream time limit per call in ms. Defaults to 60 000. */
  timeoutMs?: number;
}

/** Audit and usage events; built from an allow-list of fields, never carrying a key. */
export interface ByokEvent {
  type: "key.registered" | "key.deleted" | "key.rejected" | "chat.completed" | "chat.failed";
  userId: string;
  provider: string;
  /** ISO-8601. */
  at: string;
  hint?: string;
  model?: string;
  usage?: Usage;
  code?: string;
}

/** What `byok.use(userId)` and `req.ai` are: AI calls with one user's own keys. */
export interface AiClient {
  /** One complete answer with the user's key. */
  chat(request: ChatRequest): Promise<ChatResponse>;
  /** A streamed answer with the user's key. */
  stream(request: ChatRequest): ChatStream;
  /** The user's keys (never the keys themselves). */
  keys(): Promise<KeyInfo[]>;
  /** Whether the user has a key for `provider`, or for any provider when omitted. */
  has(provider?: string): Promise<boolean>;
  /**
   * The models the user's key can use, from the provider's list-models API (provider chosen as in
   * `chat` when omitted). Rejects UNKNOWN_PROVIDER for a provider that cannot list its models.
   */
  models(provider?: string): Promise<ModelInfo[]>;
}
