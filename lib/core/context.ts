// What the BYOK instance shares with the clients it makes: store, vault, providers, events.
import { debuglog } from "node:util";
import { ByokError } from "../errors.js";
import type { Keyring } from "../vault/keyring.js";
import type { SealContext } from "../vault/vault.js";
import type { Background } from "./background.js";
import type { PlatformKeys } from "./platform-keys.js";
import type { EventSink } from "./events.js";
import type { KeyChain } from "./key-choice.js";
import type { Metering } from "./metering.js";
import type { ByokStores, KeyRecord, KeyStore, Provider } from "./types.js";

const debug = debuglog("byok");

/** The wiring a BYOK instance hands to its AiClients and to rotation. */
export interface CoreContext {
  /** The key records: `stores.keys`. */
  readonly store: KeyStore;
  /** Every capability the `store` option gave (see lib/core/stores.ts). */
  readonly stores: Readonly<ByokStores>;
  readonly vault: Keyring;
  readonly providers: ReadonlyMap<string, Provider>;
  /** Built-in providers not offered because their SDK is not installed: id → npm package. */
  readonly missingSdks?: ReadonlyMap<string, string>;
  readonly defaultProvider: string;
  /** Keys one call may try when the provider refuses a key (`failover.maxAttempts`). */
  readonly maxAttempts: number;
  /** The app's own keys (`platformKeys`). */
  readonly platformKeys: PlatformKeys;
  /** Whether this client's chain may end in a platform key, in its copy made by `use(userId, { platform: true })`. */
  readonly platform?: boolean;
  readonly emit: EventSink;
  /** The store writes calls left running (see {@link Background}); `byok.close()` waits for them. */
  readonly background: Background;
  /** Usage rows and budgets (see metering.ts). */
  readonly metering: Metering;
  /** The id events carry (the router's `X-Request-Id`), in a client's copy made by `use(userId, { requestId })`. */
  readonly requestId?: string;
  /** Aborts every call of a client, in its copy made by `use(userId, { signal })`. */
  readonly signal?: AbortSignal;
  /** The team whose keys a client may use, in its copy made by `use(userId, { teamId })`. */
  readonly teamId?: string;
  /** The key records the router read ahead for this client's request (see {@link KeyChain}); never set by the app. */
  readonly keyChain?: KeyChain;
}

/**
 * A call's own signal and its client's (from `use(userId, { signal })`) as one: either aborts the call.
 * `undefined` when there is neither.
 */
export function callSignal(context: CoreContext, own: AbortSignal | null | undefined): AbortSignal | undefined {
  const { signal } = context;
  if (!signal || !own) return signal ?? own ?? undefined;
  return AbortSignal.any([signal, own]);
}

/** Default upstream limit per call when a provider sets none. */
export const DEFAULT_TIMEOUT_MS = 60_000;

/**
 * Runs a store call; anything but a ByokError from a custom store becomes STORE_UNAVAILABLE, so a
 * broken backend never surfaces as an unexplained 500.
 */
export async function storeCall<T>(operation: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (ByokError.is(error)) throw error;
    debug("store %s failed: %s", operation, error instanceof Error ? error.name : typeof error);
    throw new ByokError(
      "STORE_UNAVAILABLE",
      `The key store failed during ${operation}; check that it is reachable, then try again.`,
      {
        cause: { type: error instanceof Error ? error.name : typeof error },
      },
    );
  }
}

/**
 * What a record's ciphertext is bound to: user, provider, label (when not "default") and, for a key with its own
 * endpoint, that endpoint; for a credential that names a region, that region.
 */
export function sealContextOf(record: KeyRecord): SealContext {
  const { userId, provider, label, endpoint, region } = record;
  const context: SealContext = { userId, provider };
  if (label !== undefined) context.label = label;
  if (endpoint !== undefined) context.endpoint = endpoint;
  if (region !== undefined) context.region = region;
  return context;
}

/**
 * @throws ByokError INVALID_REQUEST naming `endpoint` for a record that carries an endpoint when the
 * provider no longer takes one (its configuration changed): such a key is never sent anywhere else
 */
export function checkRecordEndpoint(provider: Provider, record: KeyRecord): void {
  if (record.endpoint !== undefined && !provider.userEndpoints)
    throw new ByokError(
      "INVALID_REQUEST",
      "The stored key was registered with its own endpoint, which this provider no longer takes; ask the user to add the key again.",
      { provider: record.provider, details: { fields: ["endpoint"], reason: "not_accepted" } },
    );
}

/** @throws ByokError UNKNOWN_PROVIDER unless `id` is configured */
export function providerFor(context: CoreContext, id: string): Provider {
  const provider = context.providers.get(id);
  const sdk = context.missingSdks?.get(id);
  if (!provider && sdk) {
    throw new ByokError(
      "UNKNOWN_PROVIDER",
      `Provider "${id}" is not available: its SDK is not installed on the server (\`npm install ${sdk}\`).`,
      { details: { fields: ["provider"] } },
    );
  }
  if (!provider) {
    throw new ByokError(
      "UNKNOWN_PROVIDER",
      `The requested provider is not configured; configured providers: ${[...context.providers.keys()].join(", ")}.`,
      {
        details: { fields: ["provider"] },
      },
    );
  }
  return provider;
}
