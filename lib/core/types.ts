// Public types: key records, the KeyStore contract, the Provider spec, chat requests/responses and events.
import type { Store as RateLimitCounters } from "express-rate-limit";
import type { ByokErrorCode } from "../errors.js";
import type { ProviderKindName } from "../providers/built-ins.js";

/**
 * Health of a stored key, learned from every call: `"ok"` (new, or it worked last time it was used
 * or checked), `"invalid"` (the provider refused it: 401/403), `"quota_exhausted"` (the provider
 * refused for quota or billing: out of credit), `"rate_limited"` (the provider answered 429 without
 * a quota reason; until `statusUntil`), `"expired"` (past its `expiresAt`; never used again), `"unreadable"`
 * (it cannot be decrypted, or its record is not the store's format; ask the user to add it again).
 */
export type KeyStatus = "ok" | "invalid" | "quota_exhausted" | "rate_limited" | "expired" | "unreadable";

/** The statuses a store keeps on a record (`"ok"` is their absence; `"unreadable"` is found, not stored). */
export type StoredKeyStatus = "invalid" | "quota_exhausted" | "rate_limited";

/** What applications see of a stored key: never the key itself. */
export interface KeyInfo {
  provider: string;
  /** Whose key it is: the user's own, or a team's (used by its members; see `use(userId, { teamId })`). */
  owner: "user" | "team";
  /** Which of the owner's keys for the provider: `"default"` unless it was registered with a label. */
  label: string;
  /** Its place in the owner's chain for the provider: lower first; 0 unless set. */
  priority: number;
  /**
   * The key's last 4 characters after an ellipsis, e.g. `"…x7Qa"`; `"…????"` when the record is
   * not the store's format.
   */
  hint: string;
  /** See {@link KeyStatus}. */
  status: KeyStatus;
  /** ISO-8601: for `"rate_limited"`, when the provider said to try again. */
  statusUntil?: string;
  /**
   * For a key registered with its own endpoint (Azure OpenAI, a self-hosted server): the endpoint's
   * host (and port, if any), e.g. `"myres.openai.azure.com"`. For a structured credential that names
   * a region or location (a cloud account's): that region, e.g. `"eu-west-1"`. Absent for every other key.
   */
  endpoint?: string;
  /** ISO-8601: when the key expires (its status is `"expired"` from then on); absent: never. */
  expiresAt?: string;
  /** The model ids this key may serve; absent: any. */
  models?: string[];
  /** ISO-8601. Kept when the key is replaced. The epoch when the record is not the store's format. */
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

/** The label of a key registered without one, and of every record written before labels existed. */
export const DEFAULT_LABEL = "default";

/** One stored record: ciphertext plus metadata. Stores never see a plaintext key. */
export interface KeyRecord {
  userId: string;
  provider: string;
  /**
   * Which of the owner's keys for `provider` this is: a record is identified by (userId, provider, label). Absent
   * reads as {@link DEFAULT_LABEL} (a store written against the 0.1 `KeyStore` keeps no label).
   */
  label?: string;
  /** `v1.<keyId>.<iv>.<ciphertext>.<tag>`, bound to (userId, provider, label). */
  ciphertext: string;
  /** `…` plus the key's last 4 characters. */
  hint: string;
  /**
   * The endpoint the key was registered with, as the provider normalised it (e.g.
   * `"https://myres.openai.azure.com"`), for providers that let a key carry its own endpoint; absent
   * otherwise. Bound into the ciphertext's associated data: a record whose endpoint was changed no
   * longer decrypts. A `put` stores it as given (a replacing key without one drops the old one).
   */
  endpoint?: string;
  /**
   * The region or location a structured credential names (see {@link ProviderCredentialSpec.region}), e.g.
   * `"eu-west-1"`; absent for every other key. Bound into the ciphertext's associated data like `endpoint`:
   * a record whose region was changed no longer decrypts. A `put` stores it as given.
   */
  region?: string;
  /** The key's place in its owner's chain for the provider: lower first. Absent reads as 0. */
  priority?: number;
  /** ISO-8601: the key is `"expired"` from then on. */
  expiresAt?: string;
  /** The model ids this key may serve; absent: any. */
  models?: string[];
  createdAt: string;
  updatedAt: string;
  lastUsedAt?: string;
  /**
   * Set once the provider refused this key (see {@link KeyStore.setStatus}); absent while it is
   * `"ok"`. A new key (`put`) never has it.
   */
  status?: StoredKeyStatus;
  /** ISO-8601, with `status: "rate_limited"`: when the provider said to try again. */
  statusUntil?: string;
  /**
   * Set by a store on a record it holds but cannot read (not its format: not JSON, a field missing
   * or of the wrong type). Only `userId` and `provider` are meaningful then; `ciphertext`, `hint`,
   * `createdAt` and `updatedAt` are `""`. byok-ai lists it as `"unreadable"`, answers
   * `KEY_UNREADABLE` for it, and a `put` replaces it.
   */
  broken?: true;
}

/** One compare-and-set of {@link KeyStore.compareAndSwapMany}. */
export interface CompareAndSwap {
  userId: string;
  provider: string;
  /** Absent: {@link DEFAULT_LABEL}. */
  label?: string;
  /** Swap only if the stored ciphertext is still this one. */
  expectedCiphertext: string;
  /** The new ciphertext. */
  ciphertext: string;
}

/** Result of {@link KeyStore.put}. */
export interface PutResult {
  /** The record as stored (with the `createdAt` that was kept). */
  record: KeyRecord;
  /** `true` when a record for (userId, provider, label) existed and was replaced. */
  replaced: boolean;
}

/**
 * Where encrypted keys live: the `keys` capability of {@link ByokStores}, the only one required. Implement it to add
 * a backend; run `runKeyStoreConformance` from `byok-ai/testing` against your implementation. Every method may reject with
 * `ByokError("STORE_UNAVAILABLE")` when the backend cannot be reached; it must do so quickly
 * (well under a second), never hang. User ids are arbitrary strings (1–256 characters, any
 * Unicode, including `:`, `*`, `{}`, `%`): a store must keep users apart whatever their ids.
 *
 * A record the store cannot read (written by something else, or damaged) must not fail `get`,
 * `list` or `scan`: return it with `broken: true` (see {@link KeyRecord.broken}), so one bad record
 * never blocks a user, and let `put` replace it.
 *
 * A record is identified by (userId, provider, label): an owner may hold several keys for one provider. `label`
 * comes last in each method and defaults to {@link DEFAULT_LABEL}, so a store written against the 0.1 `KeyStore`
 * (one record per user and provider, no label) keeps working: byok-ai asks a store that does not declare
 * {@link KeyStore.labels} only for label `"default"`.
 */
export interface KeyStore {
  /**
   * **Recommended.** `true` when the store keeps several labels per (userId, provider), as the built-in stores do
   * and `runKeyStoreConformance` checks. Without it byok-ai refuses any label but `"default"`.
   */
  readonly labels?: boolean;

  /**
   * **Required.** The record for (userId, provider, label), or `undefined` when there is none.
   */
  get(userId: string, provider: string, label?: string): Promise<KeyRecord | undefined>;

  /**
   * **Required.** Every record of one user, every label of every provider, in any order (`[]` when none). One
   * round trip where the backend allows: it is on the hot path of every chat call.
   */
  list(userId: string): Promise<KeyRecord[]>;

  /**
   * **Required.** Atomically creates or replaces the record for (record.userId, record.provider, record.label).
   * On replace, the existing `createdAt` is kept (the given one is ignored; a broken record has
   * none to keep) and `lastUsedAt` and `status` are cleared, since the new key has never been used.
   * Every other field (`endpoint`, `priority`, `expiresAt`, `models`) is stored as given. Concurrent puts leave
   * exactly one of them.
   */
  put(record: KeyRecord): Promise<PutResult>;

  /** **Required.** Removes the record of one label; `true` if it existed. */
  delete(userId: string, provider: string, label?: string): Promise<boolean>;

  /**
   * **Required.** Removes all of a user's records; resolves to how many there were. (What the other capabilities
   * keep for the user goes through their `deleteOwner`.)
   */
  deleteUser(userId: string): Promise<number>;

  /**
   * **Recommended.** Sets `lastUsedAt` on an existing record; does nothing when the record is gone
   * (it must never re-create a deleted record). Called without being awaited by the caller's
   * request, so it should be cheap. byok-ai calls it after a successful chat only when the record's
   * `lastUsedAt` is absent or at least a minute old, so a busy key costs one write a minute, not one
   * per call. A store without it never shows `lastUsedAt`.
   */
  touch?(userId: string, provider: string, lastUsedAt: string, label?: string): Promise<void>;

  /**
   * **Recommended.** Records the key's health: a {@link StoredKeyStatus} sets `status` (and
   * `statusUntil` when given, else removes it), `"ok"` removes both; every other field is kept. Only
   * while the stored ciphertext is still `ciphertext` (a key the user replaced meanwhile is not
   * marked); never creates a record, does nothing to a broken one. byok-ai calls it without awaiting
   * it after a call, and only when the status changes, and awaits it in `checkKey`. A store without
   * it always reports `"ok"`.
   */
  setStatus?(
    userId: string,
    provider: string,
    ciphertext: string,
    status: StoredKeyStatus | "ok",
    statusUntil?: string,
    label?: string,
  ): Promise<void>;

  /**
   * **0.1 style (usage).** Prefer a {@link UsageStore} in `ByokStores.usage`. A store given whole as `store` with
   * this and `readUsage` gets a usage capability from them ({@link UsageStore.add}; its `deleteOwner` is left to
   * this store's `deleteUser`).
   */
  addUsage?(ownerIds: readonly string[], usage: UsageRow, retentionDays: number): Promise<void>;

  /** **0.1 style (usage).** {@link UsageStore.read}, for a store given whole as `store`. */
  readUsage?(ownerId: string, fromDay: string, toDay: string): Promise<UsageRow[]>;

  /** **0.1 style (budgets).** {@link BudgetStore.reserve}, for a store given whole as `store` (with `settle`). */
  reserve?(
    ownerId: string,
    id: string,
    tokens: number,
    counters: readonly BudgetCounter[],
    ttlMs: number,
  ): Promise<BudgetRefusal | undefined>;

  /** **0.1 style (budgets).** {@link BudgetStore.settle}, for a store given whole as `store`. */
  settle?(ownerId: string, id: string, tokens: number, counters: readonly BudgetCounter[]): Promise<void>;

  /**
   * **0.1 style (connect flows).** Prefer a {@link OnceStore} in `ByokStores.once`. A store given whole as `store`
   * with this and `takeOnce` gets a once capability keeping each owner's values under keys of their own.
   */
  putOnce?(key: string, value: string, ttlMs: number): Promise<void>;

  /** **0.1 style (connect flows).** Atomically returns and removes the value under `key`; `undefined` when missing or expired. */
  takeOnce?(key: string): Promise<string | undefined>;

  /** **0.1 style (the router's rate limits).** {@link ByokStores.rateLimits}, for a store given whole as `store`. */
  rateLimits?(limiter: "keys" | "chat"): RateLimitCounters;

  /**
   * **Required for rotation.** Every record in the store, in batches of about `batchSize`, for
   * `byok.rotate()` and `verify`. Must stream (memory flat for any number of records); a record
   * written or deleted during the walk may or may not be seen, but one that exists throughout is
   * seen exactly once, or at least once where the backend cannot promise once (Redis SCAN).
   */
  scan(options?: { batchSize?: number }): AsyncIterable<KeyRecord[]>;

  /**
   * **Required for rotation.** Replaces the ciphertext of (userId, provider, label) only if the stored one
   * is still `expectedCiphertext` (compare-and-set); `updatedAt` and all other fields are kept.
   * Resolves `false` when the record changed or was deleted meanwhile: rotation must never
   * overwrite a key a user just replaced, nor resurrect one a user deleted.
   */
  compareAndSwap(
    userId: string,
    provider: string,
    expectedCiphertext: string,
    ciphertext: string,
    label?: string,
  ): Promise<boolean>;

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

/**
 * Usage rows, by owner. `owner` is an opaque string byok-ai makes (a user id, or a team's owner id): a store compares
 * it, never parses it. Every method may reject `ByokError("STORE_UNAVAILABLE")`, quickly. Run
 * `runUsageStoreConformance` from `byok-ai/testing` against an implementation.
 */
export interface UsageStore {
  /**
   * Adds one call's counts to the row (`day`, `provider`, `model`, `userId`, `teamId`) of each owner in `owners`
   * (the calling user, plus the team's owner when a team key served), creating it at zero; `estimated` once set
   * stays set. Rows older than `retentionDays` days may be dropped. Called without being awaited.
   */
  add(owners: readonly string[], row: UsageRow, retentionDays: number): Promise<void>;

  /** The rows of `owner` from `fromDay` to `toDay` (YYYY-MM-DD, UTC, both included), in any order. */
  read(owner: string, fromDay: string, toDay: string): Promise<UsageRow[]>;

  /** Erases every row of `owner` (account deletion); other owners' rows are untouched. */
  deleteOwner(owner: string): Promise<void>;
}

/**
 * Budget counters, by owner, shared by every instance. `owner` is opaque (see {@link UsageStore}). Every method may
 * reject `ByokError("STORE_UNAVAILABLE")`, quickly. Run `runBudgetStoreConformance` against an implementation.
 */
export interface BudgetStore {
  /**
   * Atomically, against every instance sharing the store: drops `owner`'s expired reservations, then, if for every
   * counter `spent + reserved + tokens <= limit`, records reservation `id` of `tokens` on each (expiring after
   * `ttlMs`, so a crashed process's reservation frees itself) and resolves `undefined`; else records nothing and
   * resolves the first counter that would go over, with what it holds. Every counter of one call belongs to
   * `owner` (Redis Cluster keeps them in one slot).
   */
  reserve(
    owner: string,
    id: string,
    tokens: number,
    counters: readonly BudgetCounter[],
    ttlMs: number,
  ): Promise<BudgetRefusal | undefined>;

  /**
   * Ends reservation `id` on each counter and adds `tokens` (what the call really spent, `0` to release it) to each
   * counter's spent total. A reservation already gone (expired) is not an error: the spent tokens are added anyway.
   */
  settle(owner: string, id: string, tokens: number, counters: readonly BudgetCounter[]): Promise<void>;

  /** Erases every counter and reservation of `owner` (account deletion); other owners' are untouched. */
  deleteOwner(owner: string): Promise<void>;
}

/**
 * Single-use values, by owner, shared by every instance: the router's connect-flow state. `owner` is opaque (see
 * {@link UsageStore}). Every method may reject `ByokError("STORE_UNAVAILABLE")`, quickly. Run
 * `runOnceStoreConformance` against an implementation.
 */
export interface OnceStore {
  /** Keeps `value` under (`owner`, `key`) for `ttlMs`, replacing what was there. */
  put(owner: string, key: string, value: string, ttlMs: number): Promise<void>;

  /**
   * Atomically returns and removes the value under (`owner`, `key`): exactly one of many concurrent takers gets it.
   * `undefined` when missing, expired, or kept under another owner.
   */
  take(owner: string, key: string): Promise<string | undefined>;

  /** Erases every value of `owner` (account deletion); other owners' are untouched. */
  deleteOwner(owner: string): Promise<void>;
}

/**
 * What byok-ai keeps, by capability: `new BYOK({ store })` takes this, or a {@link KeyStore} alone. MemoryStore,
 * RedisStore and PostgresStore offer every capability (`store.keys`, `store.usage`, …) and mix, e.g.
 * `{ keys: postgres.keys, usage: postgres.usage, budgets: redis.budgets, once: redis.once, rateLimits: redis.rateLimits }`.
 */
export interface ByokStores {
  /** Required: the encrypted key records. */
  keys: KeyStore;
  /** Usage rows; without it usage is off, and `usage: {…}` is `CONFIG_INVALID`. */
  usage?: UsageStore;
  /** Budget counters; without it `budgets` is `CONFIG_INVALID`. */
  budgets?: BudgetStore;
  /** Single-use values; without it the router's `connect` option is `CONFIG_INVALID`. */
  once?: OnceStore;
  /**
   * A new express-rate-limit `Store` for the router's `limiter`, counting by user (the key express-rate-limit
   * passes is `{<base64url of the user id>}`). The router uses it unless its `rateLimit.store` says otherwise;
   * without it, each instance counts in its own memory.
   */
  rateLimits?: (limiter: "keys" | "chat") => RateLimitCounters;
}

/** One day of one user's calls to one provider and model (with a team's key when `teamId` is set). */
export interface UsageRow {
  /** YYYY-MM-DD, UTC. */
  day: string;
  provider: string;
  model: string;
  /** Who called. */
  userId: string;
  /** Set when the team's key served the calls. */
  teamId?: string;
  requests: number;
  inputTokens: number;
  outputTokens: number;
  /** The part of `inputTokens` read from a prompt cache. A store that predates it may leave it out (read it as 0). */
  cachedInputTokens?: number;
  /** The part of `outputTokens` spent reasoning. A store that predates it may leave it out (read it as 0). */
  reasoningTokens?: number;
  /**
   * Dollars, each call's cost rounded to whole micro-dollars, then summed (a store adds them as integer
   * micro-dollars); 0 for calls whose model has no price. A store that predates it may leave it out.
   */
  costUsd?: number;
  /** Requests whose model had no price (they add 0 to `costUsd`). A store that predates it may leave it out. */
  unpriced?: number;
  /** Some call in the row ended without the provider's usage figures and was counted from its reservation. */
  estimated: boolean;
}

/**
 * A model's price in US dollars per million tokens, for `pricing.prices`. `cachedInputPerMTok` prices the input read
 * from a prompt cache and `cacheWritePerMTok` the input written to one; each defaults to `inputPerMTok`.
 */
export interface ModelPrice {
  inputPerMTok: number;
  outputPerMTok: number;
  cachedInputPerMTok?: number;
  cacheWritePerMTok?: number;
}

/** `new BYOK({ pricing })`: the prices `costUsd` comes from, over the price table (see docs/pricing.md). */
export interface Pricing {
  /**
   * Prices by `"provider:model"` (the provider id as configured, the model as requested or answered), each part
   * possibly with `*` wildcards (`"azure-openai:*"`, `"*:llama-3.1-*"`): negotiated rates, self-hosted models, Azure
   * deployments. An exact key beats a wildcard one (the one with the most characters besides `*` among them), and
   * both beat the price table.
   */
  prices?: { [providerAndModel: string]: ModelPrice };
  /**
   * What a call to a model without any price does under a dollar budget: `"refuse"` (the default; `PRICE_UNKNOWN`,
   * nothing sent) or `"allow"` (its tokens are counted, `unpriced` too). Without a dollar budget such calls are
   * served and counted as `unpriced`.
   */
  unpriced?: "refuse" | "allow";
}

/** A token budget for one period or both; a call that would go over it is refused with `BUDGET_EXCEEDED`. */
export interface Budget {
  tokensPerDay?: number;
  tokensPerMonth?: number;
}

/**
 * Budgets per key: `user` for each user's own key of each provider, `team` for each team key (all
 * members together), `member` for each member's share of a team key, `platform` for each user's use of the app's
 * `platformKeys` (a free tier on the app's key). Or a function answering the budget of the call's user on the key
 * that serves it (`teamId` set for a team key), or `undefined` for none; it is not asked for platform keys.
 */
export type Budgets =
  | { user?: Budget; team?: Budget; member?: Budget; platform?: Budget }
  | ((owner: { userId: string; teamId?: string; provider: string }) => Budget | undefined);

/** One budget counter a call reserves against (see {@link BudgetStore.reserve}). */
export interface BudgetCounter {
  /** Names the counter within its owner, e.g. `"gemini|day|2026-12-04"`; opaque to the store. */
  name: string;
  /** Tokens the period allows. */
  limit: number;
  /** When the period ends (ms since the epoch): the store may drop the counter after it. */
  resetsAt: number;
}

/** What {@link BudgetStore.reserve} answers when a counter has no room: which one, and what it holds. */
export interface BudgetRefusal {
  /** The index, in the counters asked, of the first one that would go over its limit. */
  index: number;
  /** Tokens that counter holds: spent, plus its live reservations. */
  used: number;
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
  /** Which provider to use; see the provider choice rule in docs/api.md ("Which provider?"). */
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

/**
 * Token counts as the provider bills them, `0` when it reported none. The optional parts are set when the provider's
 * answer states them (so `0` means it said none), and each is a part of a total, never added to it.
 */
export interface Usage {
  /**
   * Every input token, those read from or written to a prompt cache included (providers that count cache reads and
   * writes apart from their input, as Anthropic does, have them added in here).
   */
  inputTokens: number;
  /** Every output token, reasoning (thinking) included. */
  outputTokens: number;
  totalTokens: number;
  /** The part of `inputTokens` read from the provider's prompt cache, billed at its cached-input price. */
  cachedInputTokens?: number;
  /** The part of `inputTokens` written to the provider's prompt cache, billed at its cache-write price where it has one. */
  cacheWriteTokens?: number;
  /** The part of `outputTokens` spent reasoning, billed as output. */
  reasoningTokens?: number;
  /**
   * What the call cost in US dollars, whole micro-dollars: the provider's own figure where its answer states one
   * (a provider sets it then), else the price (`pricing.prices`, then the price table) of these counts. Absent when
   * the model has no price.
   */
  costUsd?: number;
}

/** The normalized answer, the same for every provider. */
export interface ChatResponse {
  text: string;
  provider: string;
  model: string;
  finishReason: FinishReason;
  usage: Usage;
  /** Which key served the call (after any failover): whose, its label and hint. */
  key: ServingKey;
}

/** A key as answers and events name it: whose it is, its label and its hint; never the key itself. */
export interface ServingKey {
  owner: "user" | "team" | "platform";
  label: string;
  /** `…` plus the key's last 4 characters. */
  hint: string;
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

/**
 * One piece of a provider's stream: text deltas, then exactly one `finish` at the end. `usage` parts
 * (optional, any time) report the usage counted so far, as the provider reports it mid-stream, so a
 * stream that breaks or is aborted after them still meters what the key was charged for.
 */
export type ProviderStreamPart =
  | { type: "text"; text: string }
  | { type: "usage"; usage: Usage }
  | { type: "finish"; model: string; finishReason: FinishReason; usage: Usage };

/** Every provider call gets the user's key and a signal it must pass to its HTTP requests. */
export interface ProviderCallContext {
  /**
   * The plaintext key: use it for this call only; never store, log or echo it. For a provider that
   * declares a {@link Provider.credential}, a key registered as a `credential` arrives here as the JSON
   * text of the credential its `check` normalised (parse it with `JSON.parse`); one registered as an
   * `apiKey` (only where {@link ProviderCredentialSpec.acceptsApiKey}) as the key itself.
   */
  apiKey: string;
  /**
   * Aborted when the caller aborts or `timeoutMs` passes. The provider passes it to the upstream
   * request; byok-ai itself turns the abort into the caller's reason or `PROVIDER_TIMEOUT`.
   */
  signal: AbortSignal;
  /**
   * The endpoint the key was registered with (see {@link Provider.userEndpoints}); absent for a key
   * without one. The key must be sent there and nowhere else.
   */
  endpoint?: string;
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
  /**
   * Where the provider's HTTP API lives and how it takes a key, for `ai.connection()`. Without it,
   * `ai.connection()` for this provider throws `CONFIG_INVALID`.
   */
  readonly connection?: ProviderConnectionSpec;
  /** **Optional.** The models this key can use, from the provider's list-models API (at most 1000). */
  listModels?(context: ProviderCallContext): Promise<ProviderModel[]>;
  /**
   * **Optional.** Lets a key carry its own endpoint (`registerKey({ endpoint })`). Without it, a key
   * with an endpoint is refused with `INVALID_REQUEST` naming `endpoint`.
   */
  readonly userEndpoints?: ProviderUserEndpoints;
  /**
   * **Optional.** What a refusal from this provider's API says about the key, read from its error
   * body where the status alone does not tell: `{ status: "invalid" }`, `{ status: "quota_exhausted" }`
   * (quota or billing), `{ status: "rate_limited", retryAfter }` (seconds, when the body says), or
   * `undefined` to leave it to the status. byok-ai asks it for each refused `ai.connection()`
   * request (the JSON body of a small answer, read from a copy); a provider's own calls pass its
   * answer to `upstreamError()` as `verdict`. Read types and codes, keep nothing of the body; a
   * throw counts as `undefined`.
   *
   * Whatever it says, 401 and 403 mean `"invalid"`. Without it (or when it answers `undefined`):
   * 402 → `"quota_exhausted"`, 429 → `"rate_limited"` with the `Retry-After` header's wait, any
   * other status says nothing about the key.
   */
  readRefusal?(refusal: ProviderRefusal): KeyVerdict | undefined;
  /**
   * **Optional.** Where this provider's models are in the price table byok-ai prices calls from
   * (`@pydantic/genai-prices`), for `costUsd`. Without it, only `pricing.prices` prices its models. A provider whose
   * answers state their own cost sets `usage.costUsd` itself, which wins over any price.
   */
  readonly pricing?: ProviderPricing;
  /**
   * **Optional.** For a provider whose credential is several fields (a cloud's access key id, secret and
   * region; a service account): what `registerKey({ credential })` takes. Without it, only an `apiKey`.
   */
  readonly credential?: ProviderCredentialSpec;
}

/** Where a provider's models are in the price table (see {@link Provider.pricing} and docs/pricing.md). */
export interface ProviderPricing {
  /** The table's provider id, e.g. the one `npx @pydantic/genai-prices list` shows for the vendor. */
  readonly providerId: string;
  /**
   * **Optional.** The table's model id for a model this provider named (the model its answer named, else the one
   * asked for); `undefined` when the table cannot price it. Defaults to the model as named.
   */
  modelId?(model: string): string | undefined;
}

/**
 * A structured credential, as `registerKey({ credential })` takes it: field name → a string, or an object
 * (a JSON key file). Each provider documents its shape, e.g. a cloud account's `{ accessKeyId,
 * secretAccessKey, sessionToken?, region }`. Its secret fields are as secret as an `apiKey`.
 */
export type Credential = Record<string, string | object>;

/** One field of a {@link ProviderCredentialSpec}. */
export interface ProviderCredentialField {
  /** The credential must have it. Defaults to `false`. */
  readonly required?: boolean;
  /** As secret as an API key: never shown, and scrubbed from upstream text. Defaults to `false`. */
  readonly secret?: boolean;
  /**
   * `KeyInfo.hint` is its last 4 characters (the first field so marked that the credential has, e.g. an
   * access key id). A credential with none of them is hinted `"…"`.
   */
  readonly hint?: boolean;
  /**
   * `"string"` (default: 1 to 8192 characters, no control characters) or `"object"` (a plain object, or
   * the JSON text of one, which the core parses).
   */
  readonly type?: "string" | "object";
}

/** What a provider's structured credential is made of, and how it is checked (see {@link Provider.credential}). */
export interface ProviderCredentialSpec {
  /**
   * Every field a credential may have. The core refuses any other field, a missing required one, and a value
   * of the wrong type, with `INVALID_REQUEST` naming `credential.<field>` (never a value).
   */
  readonly fields: Readonly<Record<string, ProviderCredentialField>>;
  /**
   * **Optional.** Checks a credential whose fields passed the core's checks (which shape it is, a region's
   * syntax…) and resolves to the form to store, sealed as one unit (its JSON is the plaintext every call gets
   * as `apiKey`). Throw `INVALID_REQUEST` naming `credential.<field>` in `details.fields`, never its value;
   * anything else thrown counts as an invalid `credential`. Defaults to the credential as given.
   */
  check?(credential: Credential): Credential | Promise<Credential>;
  /**
   * **Optional.** The region or location the (checked) credential names: stored beside it, bound into its
   * ciphertext and shown as `KeyInfo.endpoint`. At most 64 of `[A-Za-z0-9._-]`.
   */
  region?(credential: Credential): string | undefined;
  /**
   * **Optional.** The non-secret text whose last 4 characters are `KeyInfo.hint`, for a credential whose hint
   * lies inside an object field (a key file's key id). Defaults to the first `hint` field the credential has.
   */
  hint?(credential: Credential): string | undefined;
  /** `registerKey({ apiKey })` is also taken, and reaches the provider as the key itself. Defaults to `false`. */
  readonly acceptsApiKey?: boolean;
}

/** A refused upstream request, as {@link Provider.readRefusal} reads it. */
export interface ProviderRefusal {
  /** The HTTP status; absent when the upstream sent no status (an error event inside a stream). */
  status?: number;
  /** The parsed JSON error body, when there is one (else `undefined`). */
  body?: unknown;
  /** The `Retry-After` header's value (delta-seconds or HTTP date), or seconds; absent when none was sent. */
  retryAfter?: string | number | null;
}

/** What a refusal says about the key: its new status and, for a rate limit, the seconds the provider asked to wait. */
export interface KeyVerdict {
  status: StoredKeyStatus;
  /** Seconds until the key may be used again (`"rate_limited"` only), when the provider said. */
  retryAfter?: number;
}

/** How a provider takes keys that carry their own endpoint (Azure OpenAI resources, self-hosted servers). */
export interface ProviderUserEndpoints {
  /** Every key must carry an endpoint (Azure: a key belongs to one resource). */
  readonly required: boolean;
  /**
   * Checks an endpoint given with a key at registration (allowed host, scheme, address) and
   * resolves to the form to store, the one every call then gets as `context.endpoint`.
   * @throws ByokError INVALID_REQUEST naming the `endpoint` field (never its value)
   */
  check(endpoint: string): Promise<string>;
  /** **Optional.** What `ai.connection()` uses for a key with its own endpoint (else it answers CONFIG_INVALID). */
  connection?(endpoint: string): ProviderConnectionSpec;
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

/** How a provider's HTTP API takes a key, for `ai.connection()`. */
export interface ProviderConnectionSpec {
  /**
   * The API root the Vercel AI SDK provider expects as `baseURL` (`…/v1` for OpenAI and Anthropic,
   * `…/v1beta` for Gemini). Requests through the connection may go only under it.
   */
  baseURL: string;
  /**
   * How a request carries the key: `"bearer"` (`Authorization: Bearer <key>`), or the name of the
   * header that holds the key as it is, e.g. `"x-api-key"` (Anthropic) or `"x-goog-api-key"` (Gemini).
   * The connection sets it on every request, replacing whatever the SDK set.
   */
  auth: "bearer" | (string & {});
  /**
   * **Optional.** A query parameter the API also takes a key in (Gemini's `key`): removed from every
   * request, so that only the connection's own header carries a key. Defaults to none.
   */
  keyParam?: string;
  /**
   * **Optional.** Sends the connection's requests (for a user endpoint: a fetch that refuses
   * private addresses at connect time). Defaults to the global `fetch`.
   */
  fetch?: typeof fetch;
  /**
   * **Optional.** The usage a JSON answer of this API states, or the parsed data of one of its SSE
   * events, merged over what the same answer's earlier events stated (`before`), for
   * `ai.connection()`'s usage rows and budgets; `undefined` when it states none. Counts must be
   * whole non-negative numbers; a throw counts as `undefined`. Without it, every answer counts as a
   * request without tokens (a cut-short stream: from its reservation).
   */
  readUsage?(body: unknown, before: Usage | undefined): Usage | undefined;
  /**
   * **Optional.** What a request's parsed JSON body (`undefined` when it has none) and URL path say
   * for its budget reservation and usage row: the model it names and the most output tokens it asks
   * for. Without it (or for what it leaves out, or when it throws): the provider's `defaultModel`,
   * and 4096 output tokens. The input tokens are estimated from the body's length either way.
   */
  readRequest?(body: unknown, path: string): { model?: string; maxOutputTokens?: number };
}

/**
 * The user's key for the SDKs apps already use: `createOpenAI(await req.ai.connection("openai"))`
 * and the like. Make one per request: it uses the key as stored when it was made, decrypts it for
 * each request it sends and keeps nothing afterwards.
 */
export interface ProviderConnection {
  /** The provider id. */
  readonly provider: string;
  /** The API root, as the Vercel AI SDK providers expect it: `…/v1` (OpenAI, Anthropic), `…/v1beta` (Gemini). */
  readonly baseURL: string;
  /** A placeholder, never the user's key: `fetch` puts the real key in the auth header at send time. */
  readonly apiKey: string;
  /**
   * `fetch` with the user's key in the provider's auth header. Rejects (sending nothing) any URL
   * outside `baseURL` (origin and path prefix); never follows a redirect.
   */
  readonly fetch: typeof fetch;
}

/** Server-side settings of a provider (never from a request). */
export interface ProviderOptions {
  /**
   * Which protocol; defaults to the id for built-ins. `"openai-compatible"` needs `defaultModel`, and
   * `baseUrl` unless every key brings its own endpoint (`userEndpoints`).
   */
  kind?: ProviderKindName;
  /** Where keys for this provider are sent. Defaults to the vendor's public API. Not for `"azure-openai"`. */
  baseUrl?: string;
  /**
   * `"openrouter"`: OpenRouter's authorization page for its connect flow (defaults to `https://openrouter.ai/auth`).
   * `"vertex"`: the OAuth token endpoint service-account assertions are traded at (defaults to
   * `https://oauth2.googleapis.com/token`; never a key file's own `token_uri`).
   */
  authUrl?: string;
  /** Model used when a request names none. For `"azure-openai"`, a deployment name. */
  defaultModel?: string;
  /** Upstream time limit per call in ms. Defaults to 60 000. */
  timeoutMs?: number;
  /**
   * `"openai-compatible"` and `"azure-openai"`: let each key carry its own `endpoint`, checked at
   * registration and on every connection. See {@link UserEndpointOptions}.
   */
  userEndpoints?: UserEndpointOptions;
}

/** Which endpoints a key may carry (`ProviderOptions.userEndpoints`). */
export interface UserEndpointOptions {
  /**
   * Host names an endpoint may have: exact (`"llm.example.com"`) or one-label wildcards
   * (`"*.example.com"` matches `a.example.com`, not `a.b.example.com`). Defaults to any host for
   * `"openai-compatible"` and to `*.openai.azure.com` and `*.cognitiveservices.azure.com` for
   * `"azure-openai"`; required with `allowPrivateNetwork`.
   */
  hosts?: string[];
  /**
   * Allow http and loopback, private, link-local and metadata addresses (a self-hosted Ollama or
   * vLLM on the server's own network). Off by default: endpoints must be https, and every
   * connection whose address is not public is refused at connect time. Defaults to `false`.
   */
  allowPrivateNetwork?: boolean;
}

/** Which key an event is about, beside its `provider`: its label and whose it is. */
export interface KeyNaming {
  label: string;
  keyOwner: "user" | "team" | "platform";
}

/** What every {@link ByokEvent} carries. */
export interface ByokEventBase {
  /**
   * The user who acted or called: for a chat with a team key, the member; for a team key registered
   * or deleted, the `actorId` given (empty when none was).
   */
  userId: string;
  /** The team whose key the event is about (a team key served the call, or was registered or deleted). */
  teamId?: string;
  provider: string;
  /** ISO-8601, when the event was emitted. */
  at: string;
  /** Milliseconds from the start of the operation (the call, or the router request's handling) to this event. */
  durationMs: number;
  /**
   * The router request's `X-Request-Id` when the operation came through `byokRouter` (or `req.ai`) and
   * the header is 1–128 printable ASCII characters; else a `randomUUID()` per router request, or per
   * operation outside the router. Every event of one operation shares it.
   */
  requestId: string;
}

/** A key was checked (unless `validate: false`), encrypted and stored. */
export interface KeyRegisteredEvent extends ByokEventBase {
  type: "key.registered";
  /** `…` plus the key's last 4 characters. */
  hint: string;
}

/** A key was removed (`deleteKey`, `deleteUser`, `DELETE {basePath}/keys`). */
export interface KeyDeletedEvent extends ByokEventBase {
  type: "key.deleted";
}

/** The provider refused a key: at registration (with its `hint`), or later on a chat. */
export interface KeyRejectedEvent extends ByokEventBase {
  type: "key.rejected";
  /** Set at registration, where the refused key is the one being added. */
  hint?: string;
}

/** A stored key was re-validated with its provider (`ai.checkKey`, `POST {basePath}/keys/check`). */
export interface KeyCheckedEvent extends ByokEventBase {
  type: "key.checked";
  hint: string;
  /** What the check found. */
  status: KeyStatus;
}

/** A stored key's health changed, learned from a call or a check (see {@link KeyStatus}). */
export interface KeyStatusChangedEvent extends ByokEventBase, KeyNaming {
  type: "key.status_changed";
  hint: string;
  status: Exclude<KeyStatus, "unreadable" | "expired">;
  previousStatus: Exclude<KeyStatus, "unreadable" | "expired">;
  /** With `"rate_limited"`: ISO-8601, when the provider said to try again. */
  statusUntil?: string;
}

/** A request through `ai.connection()`'s `fetch` reached the provider with the user's key. */
export interface KeyUsedEvent extends ByokEventBase {
  type: "key.used";
  /** HTTP method, e.g. `"POST"`. */
  method: string;
  /** URL path without the query (never a key), e.g. `"/v1/chat/completions"`. */
  path: string;
  /** The provider's HTTP status; absent when no answer came (connection failure, abort). */
  status?: number;
}

/**
 * The provider refused a key of the chain (401/403, quota or billing, 429) before anything reached the caller, and
 * the call moved on to the next key. Names the refused key and the refusal's code.
 */
export interface KeyFailoverEvent extends ByokEventBase, KeyNaming {
  type: "key.failover";
  hint: string;
  model: string;
  code: ByokErrorCode;
}

/** A chat or stream finished; `usage` is what the provider reported; `label`/`keyOwner` name the key that served. */
export interface ChatCompletedEvent extends ByokEventBase, KeyNaming {
  type: "chat.completed";
  model: string;
  /** With `costUsd` when the model has a price. */
  usage: Usage;
  /** The price table's version (e.g. `"@pydantic/genai-prices@0.1.8"`) when it priced `usage.costUsd`, for an audit to replay. */
  priceVersion?: string;
}

/**
 * A chat or stream failed or was cancelled (`code: "ABORTED"`). `usage` is set when the provider had
 * reported usage before a stream broke or was aborted: the key was charged for it.
 */
export interface ChatFailedEvent extends ByokEventBase, Partial<KeyNaming> {
  type: "chat.failed";
  model: string;
  /** One of the documented codes; `ABORTED` when the caller gave up. */
  code: ByokErrorCode;
  usage?: Usage;
  /** As for `chat.completed`. */
  priceVersion?: string;
}

/**
 * Audit and usage events, a union discriminated by `type`: `switch (event.type)` narrows it to the
 * fields of that type. Built from an allow-list of fields: never a key, a prompt or a reply.
 */
export type ByokEvent =
  | KeyRegisteredEvent
  | KeyDeletedEvent
  | KeyRejectedEvent
  | KeyCheckedEvent
  | KeyStatusChangedEvent
  | KeyFailoverEvent
  | KeyUsedEvent
  | ChatCompletedEvent
  | ChatFailedEvent;

/** What `byok.use(userId)` and `req.ai` are: AI calls with one user's own keys (and, with `teamId`, their team's). */
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
   * The user's key for the SDKs apps already use (Vercel AI SDK, openai, @anthropic-ai/sdk,
   * @google/genai), without ever handing the key to app code. Provider choice as in `chat`.
   * @throws ByokError KEY_NOT_FOUND, UNKNOWN_PROVIDER, CONFIG_INVALID (a provider without `connection`), STORE_UNAVAILABLE
   */
  connection(provider?: string): Promise<ProviderConnection>;
  /**
   * Re-validates the user's stored key for `provider` with the provider and answers its KeyInfo
   * with the status found (`"invalid"` when refused, `"quota_exhausted"` when refused for quota or
   * billing, `"unreadable"` when it cannot be decrypted), which is also stored. Emits `key.checked`,
   * and `key.status_changed` when the status changes.
   * @throws ByokError KEY_NOT_FOUND, UNKNOWN_PROVIDER, PROVIDER_* (when the provider could not tell), STORE_UNAVAILABLE
   */
  checkKey(provider: string): Promise<KeyInfo>;
  /**
   * The models the user's key can use, from the provider's list-models API (provider chosen as in
   * `chat` when omitted). A provider that cannot list its models answers its `defaultModel` alone.
   * @throws ByokError UNKNOWN_PROVIDER (not configured), KEY_NOT_FOUND, KEY_UNREADABLE, KEY_REJECTED, PROVIDER_*, STORE_UNAVAILABLE
   */
  models(provider?: string): Promise<ModelInfo[]>;
  /**
   * This user's usage, of their own keys and of team keys they used, per day, provider and model,
   * from `from` to `to` (YYYY-MM-DD, UTC, both included; default: the last 30 days up to today).
   * @throws ByokError INVALID_REQUEST (bad dates), CONFIG_INVALID (usage is off), STORE_UNAVAILABLE
   */
  usage(range?: { from?: string; to?: string }): Promise<UsageRow[]>;
}
