// Checks `new BYOK(options)` once, at construction: unknown keys, types, master keys, store shape, providers.
import {
  type DataKeyCacheOptions,
  DEFAULT_DATA_KEY_MAX_AGE_MS,
  DEFAULT_DATA_KEY_MAX_ENTRIES,
} from "../vault/data-key-cache.js";
import type { KeyEncryptionKey } from "../vault/key-encryption.js";
import { localKey } from "../vault/local-key.js";
import { parseMasterKey } from "../vault/master-key.js";
import {
  applySettingRules,
  checkDuration,
  checkOptionsObject,
  configError,
  type KeysEnum,
  type SettingRules,
} from "./option-checks.js";
import {
  checkUserEndpoints,
  MAX_TIMEOUT_MS,
  PROVIDER_SETTING_RULES,
  USER_ENDPOINT_RULES,
} from "./provider-settings.js";
import type { UsageOptions } from "./metering.js";
import type { Budgets, ByokEvent, ByokStores, KeyStore, Pricing, Provider, ProviderOptions } from "./types.js";
import { parseStores } from "./stores.js";
import { PROVIDER_ID } from "./validate.js";
import type { BuiltInProviderId } from "../providers/built-ins.js";

/** The optional settings a kind of provider may take besides `defaultModel` and `timeoutMs`. */
type KindSetting = "baseUrl" | "authUrl" | "userEndpoints";

/** A kind's checked settings, as its factory gets them. */
export type KindOptions = Readonly<Omit<ProviderOptions, "kind">>;

/** One kind of built-in provider, as `lib/providers/built-ins.ts` lists them. */
export interface ProviderKind {
  /** Builds the provider from its checked settings; loads no SDK (that waits for its first call). */
  create(id: string, options: KindOptions): Provider;
  /** The npm package it runs on (an optional peer). */
  sdk: string;
  /** Configured by default under the kind's name, when its SDK is installed. */
  byDefault: boolean;
  /**
   * `true` for each optional setting it takes; for one it refuses, the fix (the message of its
   * CONFIG_INVALID), else the message names the kinds that take it.
   */
  settings: Partial<Record<KindSetting, true | string>>;
  /**
   * **Optional.** What its checked settings need together.
   * @throws ByokError CONFIG_INVALID naming the fix
   */
  check?(id: string, options: KindOptions): void;
}

/** The kinds of built-in provider, by name. */
export type ProviderKinds = Readonly<Record<string, ProviderKind>>;

/** Options of `new BYOK()`. */
export interface ByokOptions {
  /**
   * 32 bytes as base64 (44 chars), hex (64 chars) or a Buffer. Generate one with `npx byok-ai keygen`.
   * Required unless `keyEncryption` is given (not both).
   */
  masterKey?: string | Buffer;
  /** Older master keys that still decrypt; `byok.rotate()` re-encrypts their records. Defaults to none. */
  previousMasterKeys?: (string | Buffer)[];
  /**
   * Instead of `masterKey`: the key that wraps the records' data keys, kept in a key service
   * (`vaultTransit()`, `awsKms()`, your own {@link KeyEncryptionKey}) so it never enters the process.
   * `localKey(masterKey)` is the same as `masterKey`. See docs/key-encryption.md.
   */
  keyEncryption?: KeyEncryptionKey;
  /** Older key-encryption keys that still unwrap; `byok.rotate()` re-wraps their records under `keyEncryption`. Defaults to none. */
  previousKeyEncryption?: KeyEncryptionKey[];
  /**
   * Unwrapped data keys kept in memory, so that a chat costs no key-service call while its key is cached
   * and an outage is felt only after `maxAgeMs`. Defaults to `{ maxAgeMs: 300_000, maxEntries: 10_000 }`.
   */
  dataKeyCache?: DataKeyCacheOptions;
  /**
   * Where byok-ai keeps what it keeps: a {@link ByokStores} (`keys`, and optionally `usage`, `budgets`, `once`,
   * `rateLimits`, e.g. a MemoryStore, RedisStore or PostgresStore whole, or a mix), or a {@link KeyStore} alone.
   * Defaults to a `MemoryStore` (with one warning when NODE_ENV=production).
   */
  store?: KeyStore | ByokStores;
  /**
   * Settings per provider id, or your own {@link Provider}; `false` turns a built-in off (even when
   * its SDK is installed). Defaults to the built-ins with their defaults, each offered when its SDK
   * is installed.
   */
  providers?: { [id in BuiltInProviderId]?: ProviderOptions | false } & {
    [id: string]: ProviderOptions | Provider | false | undefined;
  };
  /**
   * Provider used when a request names none and the user has a key for it. Defaults to `"gemini"`,
   * or, with gemini turned off, the first configured provider.
   */
  defaultProvider?: string;
  /** Audit and usage events; never carry a key. Not awaited; a throwing listener cannot break a request. */
  onEvent?: (event: ByokEvent) => void;
  /**
   * Usage rows (per UTC day, provider, model, user and team) kept in the store for `retentionDays`
   * (default 90), read with `byok.usage()` and `ai.usage()`; `false` counts nothing. Defaults to on
   * where there is a `store.usage` capability (the three built-in stores have one). See docs/usage.md.
   */
  usage?: false | UsageOptions;
  /**
   * Token budgets per user key, team key and member; a call that would exceed one is refused with
   * `BUDGET_EXCEEDED` before anything is sent. Defaults to none. See docs/usage.md.
   */
  budgets?: Budgets;
  /**
   * How many of the key chain's keys one call may try when the provider refuses a key (401/403, quota or billing,
   * 429) before anything reached the caller: a whole number from 1 (no failover) to 10. Defaults to 3.
   */
  failover?: { maxAttempts?: number };
  /**
   * The app's own keys by provider id, from server configuration only: the key chain's last link, used only where
   * `use(userId, { platform: true })` (the router's `allowPlatformKey`) allows it, never listed to users.
   * `budgets.platform` caps each user's use of them. Defaults to none.
   */
  platformKeys?: { [provider: string]: string | Record<string, unknown> };
  /**
   * Prices for `costUsd` over the price table (`@pydantic/genai-prices`): overrides by `"provider:model"`, and what a
   * call to an unpriced model does under a dollar budget. Defaults to the table alone. See docs/pricing.md.
   */
  pricing?: Pricing;
}

/** Keys one call may try by default (see {@link ByokOptions.failover}). */
export const DEFAULT_FAILOVER_ATTEMPTS = 3;
const MAX_FAILOVER_ATTEMPTS = 10;

/** The checked, frozen result of {@link parseByokOptions}. */
export interface ParsedByokOptions {
  /** Writes new records: `keyEncryption`, or `localKey(masterKey)`. */
  keyEncryption: KeyEncryptionKey;
  /** Still open old records: `previousMasterKeys` (as localKeys), then `previousKeyEncryption`. */
  previousKeyEncryption: readonly KeyEncryptionKey[];
  dataKeyCache: Required<DataKeyCacheOptions>;
  /** The `store` option as capabilities. */
  stores?: Readonly<ByokStores>;
  /** Every configured provider id → its settings (built-ins filled in) or a custom Provider. */
  providers: Readonly<Record<string, Readonly<ProviderOptions> | Provider>>;
  defaultProvider: string;
  /** Keys one call may try (`failover.maxAttempts`). */
  maxAttempts: number;
  /** Checked with the configured providers in the BYOK constructor (parsePlatformKeys). */
  platformKeys?: unknown;
  onEvent?: (event: ByokEvent) => void;
  /** Checked with the store in the BYOK constructor (parseMetering). */
  usage?: unknown;
  budgets?: unknown;
  /** Checked with the configured provider ids in the BYOK constructor (parsePricing). */
  pricing?: unknown;
}

const KNOWN: KeysEnum<ByokOptions> = {
  masterKey: true,
  previousMasterKeys: true,
  keyEncryption: true,
  previousKeyEncryption: true,
  dataKeyCache: true,
  store: true,
  providers: true,
  defaultProvider: true,
  onEvent: true,
  usage: true,
  budgets: true,
  failover: true,
  platformKeys: true,
  pricing: true,
};

/** `failover.maxAttempts`, checked. */
function parseFailover(value: unknown): number {
  if (value === undefined) return DEFAULT_FAILOVER_ATTEMPTS;
  const o = checkOptionsObject<{ maxAttempts?: number }>(value, { maxAttempts: true }, "failover");
  const n = o.maxAttempts ?? DEFAULT_FAILOVER_ATTEMPTS;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > MAX_FAILOVER_ATTEMPTS)
    throw configError(
      `failover.maxAttempts must be a whole number from 1 (never fail over) to ${MAX_FAILOVER_ATTEMPTS}; the default is ${DEFAULT_FAILOVER_ATTEMPTS}.`,
    );
  return n;
}
const CACHE_KNOWN: KeysEnum<DataKeyCacheOptions> = { maxAgeMs: true, maxEntries: true };
/** The same rules as each create*Provider factory's (lib/core/provider-settings.ts); `kind` is checked with the id. */
const PROVIDER_RULES: SettingRules<ProviderOptions> = {
  kind: (value) => value as NonNullable<ProviderOptions["kind"]>,
  baseUrl: PROVIDER_SETTING_RULES.baseUrl,
  authUrl: PROVIDER_SETTING_RULES.authUrl,
  userEndpoints: (value, label) => checkUserEndpoints(value, label, USER_ENDPOINT_RULES),
  defaultModel: PROVIDER_SETTING_RULES.defaultModel,
  timeoutMs: PROVIDER_SETTING_RULES.timeoutMs,
};
const MAX_CACHE_AGE_MS = 24 * 3_600_000;
const MAX_CACHE_ENTRIES = 10_000_000;

/** A KeyEncryptionKey: `id`, `wrap()` and `unwrap()`. */
function checkKeyEncryption(value: unknown, label: string): KeyEncryptionKey {
  const k = value as Partial<KeyEncryptionKey> | null;
  const ok =
    typeof k === "object" &&
    k !== null &&
    typeof k.id === "string" &&
    k.id.length > 0 &&
    k.id.length <= 256 &&
    typeof k.wrap === "function" &&
    typeof k.unwrap === "function";
  if (!ok)
    throw configError(
      `${label} must be a KeyEncryptionKey ({ id: string of 1 to 256 characters, wrap(), unwrap() }), e.g. vaultTransit({ url, token, keyName }) or awsKms({ keyId }).`,
    );
  return value as KeyEncryptionKey;
}

/** The keys that protect records: the current one first, then those that still open old records. */
function parseKeys(o: Partial<ByokOptions>): Pick<ParsedByokOptions, "keyEncryption" | "previousKeyEncryption"> {
  if (o.masterKey !== undefined && o.keyEncryption !== undefined)
    throw configError(
      "Pass masterKey or keyEncryption, not both: to move records from a master key to keyEncryption, put the master key in previousMasterKeys and run byok.rotate().",
    );
  const current =
    o.keyEncryption !== undefined
      ? checkKeyEncryption(o.keyEncryption, "keyEncryption")
      : localKey(parseMasterKey(o.masterKey, "masterKey"));
  if (o.previousMasterKeys !== undefined && !Array.isArray(o.previousMasterKeys)) {
    throw configError(
      "previousMasterKeys must be an array of master keys (base64, hex or Buffer), e.g. from BYOK_PREVIOUS_MASTER_KEYS split on commas.",
    );
  }
  if (o.previousKeyEncryption !== undefined && !Array.isArray(o.previousKeyEncryption))
    throw configError("previousKeyEncryption must be an array of KeyEncryptionKeys, e.g. [vaultTransit({ ... })].");
  const previous = [
    ...(o.previousMasterKeys ?? []).map((k, i) => localKey(parseMasterKey(k, `previousMasterKeys[${i}]`))),
    ...(o.previousKeyEncryption ?? []).map((k, i) => checkKeyEncryption(k, `previousKeyEncryption[${i}]`)),
  ];
  return { keyEncryption: current, previousKeyEncryption: Object.freeze(previous) };
}

function parseDataKeyCache(value: unknown): Required<DataKeyCacheOptions> {
  const o = checkOptionsObject<DataKeyCacheOptions>(value, CACHE_KNOWN, "dataKeyCache");
  const maxEntries = o.maxEntries ?? DEFAULT_DATA_KEY_MAX_ENTRIES;
  if (!Number.isInteger(maxEntries) || maxEntries < 1 || maxEntries > MAX_CACHE_ENTRIES)
    throw configError(`dataKeyCache.maxEntries must be a whole number from 1 to ${MAX_CACHE_ENTRIES}.`);
  return Object.freeze({
    maxAgeMs:
      o.maxAgeMs === undefined
        ? DEFAULT_DATA_KEY_MAX_AGE_MS
        : checkDuration(o.maxAgeMs, "dataKeyCache.maxAgeMs", MAX_CACHE_AGE_MS),
    maxEntries,
  });
}

/** True for an object implementing the {@link Provider} spec (rather than ProviderOptions). */
export function isProvider(value: unknown): value is Provider {
  const p = value as Partial<Provider> | null;
  return typeof p === "object" && p !== null && p.specificationVersion === "v1";
}

function checkProvider(id: string, value: unknown): Provider {
  const p = value as Partial<Provider>;
  const missing = (["validateKey", "doChat", "doStream"] as const).filter((m) => typeof p[m] !== "function");
  if (missing.length || typeof p.defaultModel !== "string" || p.defaultModel.length === 0) {
    throw configError(
      `providers.${id}: a custom Provider needs defaultModel (string), validateKey(), doChat() and doStream()${missing.length ? `; missing ${missing.join(", ")}` : ""}. See the Provider interface in the README.`,
    );
  }
  if (p.timeoutMs !== undefined) checkDuration(p.timeoutMs, `providers.${id}.timeoutMs`, MAX_TIMEOUT_MS);
  if (p.readRefusal !== undefined && typeof p.readRefusal !== "function")
    throw configError(`providers.${id}.readRefusal must be a function (refusal) => verdict, or left out.`);
  const pricing = p.pricing as { providerId?: unknown; modelId?: unknown } | undefined;
  if (
    pricing !== undefined &&
    (typeof pricing !== "object" ||
      pricing === null ||
      typeof pricing.providerId !== "string" ||
      pricing.providerId === "" ||
      (pricing.modelId !== undefined && typeof pricing.modelId !== "function"))
  )
    throw configError(
      `providers.${id}.pricing must be { providerId: string, modelId?: (model) => string | undefined } (the price table's ids), or left out.`,
    );
  return value as Provider;
}

/** The ids configured by default: the kinds `byDefault`, in their list's order. */
const builtInIds = (kinds: ProviderKinds): string[] => Object.keys(kinds).filter((kind) => kinds[kind]!.byDefault);

/** `kind "a"`, or `kinds "a" and "b"`: the kinds that take `setting`. */
function kindsTaking(kinds: ProviderKinds, setting: KindSetting): string {
  const names = Object.keys(kinds)
    .filter((kind) => kinds[kind]!.settings[setting] === true)
    .map((kind) => `"${kind}"`);
  if (names.length < 2) return `kind ${names.join("")}`;
  return `kinds ${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;
}

const KIND_SETTINGS: readonly KindSetting[] = ["baseUrl", "authUrl", "userEndpoints"];

function checkProviderOptions(id: string, value: unknown, kinds: ProviderKinds): Readonly<ProviderOptions> {
  const where = `providers.${id}`;
  const o = checkOptionsObject<ProviderOptions>(value, PROVIDER_RULES, where);
  const builtIns = builtInIds(kinds);
  const kind: unknown = o.kind ?? (builtIns.includes(id) ? id : undefined);
  const spec = typeof kind === "string" && Object.hasOwn(kinds, kind) ? kinds[kind] : undefined;
  if (!spec) {
    throw configError(
      `${where}.kind must be one of ${Object.keys(kinds).join(", ")}${builtIns.includes(id) ? "" : ` (required for a provider id that is not built in: ${builtIns.join(", ")})`}.`,
    );
  }
  for (const setting of KIND_SETTINGS) {
    const rule = spec.settings[setting];
    if (o[setting] === undefined || rule === true) continue;
    throw configError(
      typeof rule === "string"
        ? `${where}.${setting}: ${rule}`
        : `${where}.${setting} is only for ${kindsTaking(kinds, setting)}.`,
    );
  }
  const out: ProviderOptions = {
    ...applySettingRules(o, PROVIDER_RULES, where),
    kind: kind as ProviderOptions["kind"],
  };
  spec.check?.(id, out);
  return Object.freeze(out);
}

/**
 * Checks BYOK options: unknown keys (with a "did you mean"), master keys, store shape, providers.
 * @param kinds - the kinds of built-in provider (those `byDefault` are configured by default)
 * @throws ByokError CONFIG_INVALID with a message that names the fix
 */
export function parseByokOptions(input: unknown, kinds: ProviderKinds): ParsedByokOptions {
  if (input === undefined)
    throw configError(
      "new BYOK() needs options: at least { masterKey } (or { keyEncryption }). Generate a master key with `npx byok-ai keygen`.",
    );
  const o = checkOptionsObject<ByokOptions>(input, KNOWN, "BYOK");
  const keys = parseKeys(o);
  const dataKeyCache = parseDataKeyCache(o.dataKeyCache);

  const stores = o.store === undefined ? undefined : parseStores(o.store);

  const builtIns = builtInIds(kinds);
  const providersInput = o.providers ?? {};
  if (typeof providersInput !== "object" || providersInput === null || Array.isArray(providersInput)) {
    throw configError(
      `providers must be an object keyed by provider id, e.g. { ${builtIns[0]}: { timeoutMs: 30000 } }.`,
    );
  }
  const providers: Record<string, Readonly<ProviderOptions> | Provider> = {};
  for (const id of builtIns) providers[id] = Object.freeze({ kind: id as ProviderOptions["kind"] });
  for (const [id, value] of Object.entries(providersInput)) {
    if (value === undefined) continue;
    if (value === false) {
      if (!builtIns.includes(id))
        throw configError(
          `providers.${id}: false turns a built-in provider off (${builtIns.join(", ")}); for your own provider, leave it out.`,
        );
      delete providers[id];
      continue;
    }
    if (!PROVIDER_ID.test(id))
      throw configError(
        `providers: "${id.slice(0, 40)}" is not a valid provider id (lower-case letter first, then a-z, 0-9, "-" or "_", at most 32 characters).`,
      );
    providers[id] = isProvider(value) ? checkProvider(id, value) : checkProviderOptions(id, value, kinds);
  }

  // The first configured: the built-ins in their list's order, then the app's own.
  const defaultProvider = o.defaultProvider ?? Object.keys(providers)[0];
  if (typeof defaultProvider !== "string" || !Object.hasOwn(providers, defaultProvider)) {
    throw configError(`defaultProvider must name a configured provider (${Object.keys(providers).join(", ")}).`);
  }
  if (o.onEvent !== undefined && typeof o.onEvent !== "function")
    throw configError("onEvent must be a function (event) => void.");

  const parsed: ParsedByokOptions = {
    ...keys,
    dataKeyCache,
    providers: Object.freeze(providers),
    defaultProvider,
    maxAttempts: parseFailover(o.failover),
  };
  if (stores !== undefined) parsed.stores = stores;
  if (o.onEvent !== undefined) parsed.onEvent = o.onEvent;
  if (o.usage !== undefined) parsed.usage = o.usage;
  if (o.budgets !== undefined) parsed.budgets = o.budgets;
  if (o.platformKeys !== undefined) parsed.platformKeys = o.platformKeys;
  if (o.pricing !== undefined) parsed.pricing = o.pricing;
  return Object.freeze(parsed);
}
