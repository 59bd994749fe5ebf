// The BYOK class: checks options once, wires the vault, the store and the built-in providers, and exposes the key API.
import { inspect } from "node:util";
import { type CoreContext, storeCall } from "./core/context.js";
import { createAiClient, type UseOptions } from "./core/ai-client.js";
import { createEventSink } from "./core/events.js";
import {
  deleteKey,
  type DeleteKeyInput,
  deleteOwner,
  type KeyOwner,
  listKeys,
  registerKey,
  type RegisterKeyInput,
} from "./core/keys.js";
import { type ByokOptions, isProvider, parseByokOptions } from "./core/options.js";
import type { AiClient, ByokStores, KeyInfo, KeyStore, Provider, UsageRow } from "./core/types.js";
import { closersOf } from "./core/stores.js";
import { isPeerInstalled, missingPeer } from "./core/optional-peer.js";
import { PROVIDER_KINDS } from "./providers/built-ins.js";
import { MemoryStore } from "./stores/memory-store.js";
import { parseMetering, readUsage, type UsageQuery } from "./core/metering.js";
import { parsePricing } from "./core/pricing.js";
import { Background } from "./core/background.js";
import { parsePlatformKeys } from "./core/platform-keys.js";
import { Keyring } from "./vault/keyring.js";
import {
  rotate,
  type RotateOptions,
  type RotateResult,
  verify,
  type VerifyOptions,
  type VerifyResult,
} from "./core/rotate.js";

/** Marks a BYOK from any copy of byok-ai (`Symbol.for`: an ESM and a CommonJS copy in one app share it). */
const BRAND = Symbol.for("byok-ai.BYOK");

/**
 * Accepts users' own AI provider keys, stores them encrypted (AES-256-GCM, bound to user and
 * provider), and calls providers with them.
 *
 * @example
 * ```ts
 * const byok = new BYOK({ masterKey: process.env.BYOK_MASTER_KEY!, store: new MemoryStore() });
 * await byok.registerKey({ userId: "u1", provider: "gemini", apiKey });
 * const { text } = await byok.use("u1").chat({ prompt: "Hello" });
 * ```
 * @throws ByokError CONFIG_INVALID for bad options, with a message that names the fix
 */
export class BYOK {
  readonly #context: CoreContext;

  constructor(options: ByokOptions) {
    const parsed = parseByokOptions(options, PROVIDER_KINDS);
    const providers = new Map<string, Provider>();
    const missingSdks = new Map<string, string>();
    for (const [id, value] of Object.entries(parsed.providers)) {
      if (isProvider(value)) {
        providers.set(id, value);
        continue;
      }
      const { kind, ...settings } = value;
      const factory = PROVIDER_KINDS[kind!];
      // A built-in left at its defaults is simply not offered without its SDK; one the app configured must have it.
      if (!isPeerInstalled(factory.sdk)) {
        if (options.providers?.[id] !== undefined) throw missingPeer(factory.sdk, `providers.${id}`);
        missingSdks.set(id, factory.sdk);
        continue;
      }
      providers.set(id, factory.create(id, settings));
    }
    const stores = parsed.stores ?? new MemoryStore();
    this.#context = {
      store: stores.keys,
      stores,
      vault: new Keyring({
        current: parsed.keyEncryption,
        previous: parsed.previousKeyEncryption,
        dataKeyCache: parsed.dataKeyCache,
      }),
      providers,
      missingSdks,
      defaultProvider: parsed.defaultProvider,
      maxAttempts: parsed.maxAttempts,
      platformKeys: parsePlatformKeys(parsed.platformKeys, [...providers.keys()]),
      background: new Background(),
      emit: createEventSink(parsed.onEvent),
      metering: parseMetering(
        parsed.usage,
        parsed.budgets,
        stores,
        parsePricing(parsed.pricing, Object.keys(parsed.providers)),
      ),
    };
    Object.defineProperty(this, BRAND, { value: true });
  }

  /**
   * True for a BYOK from any copy of byok-ai (an app that loads byok-ai both through `import` and
   * `require` has two). Use it instead of `instanceof`.
   */
  static is(value: unknown): value is BYOK {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  /** The ids of the providers this instance offers (configured, with their SDK installed), e.g. for a settings page. */
  get providers(): string[] {
    return [...this.#context.providers.keys()];
  }

  /**
   * The configured provider `id` (the built-in's provider object, or the custom `Provider` passed), or
   * `undefined`. For what a provider offers beyond the `Provider` interface: the router's connect flow
   * reads an OpenRouter provider's `authUrl` and calls its `exchangeCode` (see `isOpenRouterProvider`).
   * A provider holds no user's key.
   */
  provider(id: string): Provider | undefined {
    return this.#context.providers.get(id);
  }

  /** The store this instance keeps its encrypted keys in (`stores.keys`). */
  get store(): KeyStore {
    return this.#context.store;
  }

  /**
   * What this instance keeps, by capability: the `store` option (a KeyStore alone gives the capabilities its
   * optional methods offer), or its default MemoryStore.
   */
  get stores(): Readonly<ByokStores> {
    return this.#context.stores;
  }

  /**
   * Checks the key with the provider (unless `validate: false`), encrypts it and stores it,
   * replacing the previous key of that user (`userId`) or team (`teamId`) for that provider.
   * `signal` cancels the check; once it fired, nothing is stored. `actorId` (who did it, e.g. the
   * team admin) is the `userId` of the `key.registered` event.
   * @returns the stored key's KeyInfo, and `replaced: true` when it replaced a key
   * @throws ByokError INVALID_REQUEST, UNKNOWN_PROVIDER, KEY_REJECTED, PROVIDER_*, STORE_UNAVAILABLE
   */
  async registerKey(input: RegisterKeyInput): Promise<KeyInfo & { replaced: boolean }> {
    const { info, replaced } = await registerKey(this.#context, input);
    return { ...info, replaced };
  }

  /**
   * Removes one key of a user (`userId`) or a team (`teamId`); `true` if a key was removed.
   * `actorId` and `requestId` go into the `key.deleted` event.
   * @throws ByokError INVALID_REQUEST, STORE_UNAVAILABLE
   */
  deleteKey(input: DeleteKeyInput): Promise<boolean> {
    return deleteKey(this.#context, input);
  }

  /** The keys of a user (`listKeys(userId)` or `{ userId }`) or a team (`{ teamId }`): provider, owner, hint and dates, never the key. */
  listKeys(owner: string | KeyOwner): Promise<KeyInfo[]> {
    return listKeys(this.#context, owner);
  }

  /** Removes all of a user's keys (account deletion); resolves to how many. */
  deleteUser(userId: string): Promise<number> {
    return deleteOwner(this.#context, { userId });
  }

  /** Removes all of a team's keys (the team was deleted); resolves to how many. */
  deleteTeam(teamId: string): Promise<number> {
    return deleteOwner(this.#context, { teamId });
  }

  /**
   * AI calls with `userId`'s own keys, and with `teamId` the team's keys for every provider the user
   * has no own key for. Cheap: touches the store only when a method is called. `undefined` (nobody
   * signed in) makes every call reject UNAUTHENTICATED. `signal` aborts every call made through the
   * client (the router passes one that fires when the client disconnects); `requestId` goes into
   * every event of its calls.
   */
  use(userId: string | undefined, options: UseOptions = {}): AiClient {
    return createAiClient(this.#context, userId, options);
  }

  /**
   * Usage rows, oldest day first: a user's (`{ userId }`: their own keys and the team keys they
   * used), a team's (`{ teamId }`: every member's use of its keys), or one member's use of a team's
   * keys (both). `from`/`to` are YYYY-MM-DD (UTC, both included; default the last 30 days).
   * @throws ByokError INVALID_REQUEST, CONFIG_INVALID (usage is off), STORE_UNAVAILABLE
   */
  usage(query: UsageQuery): Promise<UsageRow[]> {
    return readUsage(this.#context, query);
  }

  /**
   * Re-encrypts every record that is not under the current master key (records under a
   * `previousMasterKeys` entry), in batches, streaming through the store. Safe to run with live
   * traffic (compare-and-set per record) and to run again after an interruption.
   * @returns `{ scanned, rotated, skipped, failed }`; `failed` records are unreadable by every known key and left untouched
   */
  rotate(options: RotateOptions = {}): Promise<RotateResult> {
    return rotate(this.#context, options);
  }

  /**
   * Decrypts every record, streaming through the store, and counts them per master-key id; lists
   * the records no known key can read (user id and provider only). What `npx byok-ai verify` prints.
   */
  verify(options: VerifyOptions = {}): Promise<VerifyResult> {
    return verify(this.#context, options);
  }

  /**
   * Waits for the store writes calls left running (usage rows, `lastUsedAt`, key statuses, budget settles: each
   * bounded by its store's time limit), zeroes the cached data keys, and closes each store behind `stores` once (a
   * store closes only connections it opened itself).
   */
  async close(): Promise<void> {
    const { stores, vault, background } = this.#context;
    await background.drain(); // the writes calls left running: a usage row, a touch, a status, a settle
    vault.close();
    for (const store of closersOf(stores)) await storeCall("close", () => store.close());
  }

  /** What JSON.stringify shows: configured provider ids, never keys. */
  toJSON(): { providers: string[] } {
    return { providers: this.providers };
  }

  [inspect.custom](): string {
    const { providers, store, defaultProvider } = this.#context;
    return `BYOK { providers: [${[...providers.keys()].join(", ")}], defaultProvider: '${defaultProvider}', store: ${store.constructor.name} }`;
  }
}
