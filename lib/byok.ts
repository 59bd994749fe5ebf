// The BYOK class: checks options once, wires the vault, the store and the built-in providers, and exposes the key API.
import { inspect } from "node:util";
import { type CoreContext, storeCall } from "./core/context.js";
import { createAiClient } from "./core/ai-client.js";
import { createEventSink } from "./core/events.js";
import { deleteKey, deleteUser, listKeys, registerKey, type RegisterKeyInput } from "./core/keys.js";
import { type ByokOptions, isProvider, parseByokOptions } from "./core/options.js";
import type { AiClient, KeyInfo, Provider, ProviderOptions } from "./core/types.js";
import { isPeerInstalled, missingPeer } from "./core/optional-peer.js";
import { ANTHROPIC_SDK, createAnthropicProvider } from "./providers/anthropic.js";
import { createGeminiProvider, GEMINI_SDK } from "./providers/gemini.js";
import { createOpenAIProvider, OPENAI_SDK } from "./providers/openai.js";
import { MemoryStore } from "./stores/memory-store.js";
import { Keyring } from "./vault/keyring.js";
import { configError } from "./core/option-checks.js";
import { rotate, type RotateOptions, type RotateResult } from "./core/rotate.js";

/** Provider ids configured by default. */
export const BUILT_IN_PROVIDERS = ["gemini", "openai", "anthropic"] as const;

type Factory = (id: string, options: Readonly<ProviderOptions>) => Provider;
/** How to build each kind, and the SDK (an optional peer) it runs on. Creating one loads no SDK: that waits for the first call. */
const FACTORIES: Partial<Record<NonNullable<ProviderOptions["kind"]>, { create: Factory; sdk: string }>> = {
  gemini: { create: (id, o) => createGeminiProvider({ id, ...o }), sdk: GEMINI_SDK },
  openai: { create: (id, o) => createOpenAIProvider({ id, ...o }), sdk: OPENAI_SDK },
  anthropic: { create: (id, o) => createAnthropicProvider({ id, ...o }), sdk: ANTHROPIC_SDK },
  "openai-compatible": { create: (id, o) => createOpenAIProvider({ id, ...o, compatible: true }), sdk: OPENAI_SDK },
};

let memoryStoreWarned = false;
const contexts = new WeakMap<BYOK, CoreContext>();

/** @internal The wiring of a BYOK instance, for the router and rotation. */
export function coreContextOf(byok: BYOK): CoreContext {
  const context = contexts.get(byok);
  if (!context) throw configError("Expected a BYOK instance (new BYOK({ masterKey, store })).");
  return context;
}

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
  constructor(options: ByokOptions) {
    const parsed = parseByokOptions(options, BUILT_IN_PROVIDERS);
    const providers = new Map<string, Provider>();
    const missingSdks = new Map<string, string>();
    for (const [id, value] of Object.entries(parsed.providers)) {
      if (isProvider(value)) {
        providers.set(id, value);
        continue;
      }
      const factory = FACTORIES[value.kind!];
      if (!factory)
        throw configError(`providers.${id}: kind "${value.kind}" is not available in this version of byok-ai.`);
      // A built-in left at its defaults is simply not offered without its SDK; one the app configured must have it.
      if (!isPeerInstalled(factory.sdk)) {
        if (options.providers?.[id] !== undefined) throw missingPeer(factory.sdk, `providers.${id}`);
        missingSdks.set(id, factory.sdk);
        continue;
      }
      providers.set(id, factory.create(id, value));
    }
    if (!parsed.store && process.env.NODE_ENV === "production" && !memoryStoreWarned) {
      memoryStoreWarned = true;
      process.emitWarning(
        "byok-ai: no store given, using MemoryStore: keys are lost on restart and not shared between instances. Pass store: new RedisStore(...) or new PostgresStore(...).",
        {
          code: "BYOK_MEMORY_STORE",
        },
      );
    }
    contexts.set(this, {
      store: parsed.store ?? new MemoryStore(),
      vault: new Keyring({
        current: parsed.keyEncryption,
        previous: parsed.previousKeyEncryption,
        dataKeyCache: parsed.dataKeyCache,
      }),
      providers,
      missingSdks,
      defaultProvider: parsed.defaultProvider,
      emit: createEventSink(parsed.onEvent),
    });
  }

  /**
   * Checks the key with the provider (unless `validate: false`), encrypts it and stores it,
   * replacing the user's previous key for that provider.
   * @throws ByokError INVALID_REQUEST, UNKNOWN_PROVIDER, KEY_REJECTED, PROVIDER_*, STORE_UNAVAILABLE
   */
  async registerKey(input: RegisterKeyInput): Promise<KeyInfo> {
    return (await registerKey(coreContextOf(this), input)).info;
  }

  /** Removes one key; `true` if a key was removed. */
  deleteKey(input: { userId: string; provider: string }): Promise<boolean> {
    return deleteKey(coreContextOf(this), input);
  }

  /** The user's keys: provider, hint and dates, never the key itself. */
  listKeys(userId: string): Promise<KeyInfo[]> {
    return listKeys(coreContextOf(this), userId);
  }

  /** Removes all of a user's keys; resolves to how many. */
  deleteUser(userId: string): Promise<number> {
    return deleteUser(coreContextOf(this), userId);
  }

  /** AI calls with `userId`'s own keys. Cheap: touches the store only when a method is called. */
  use(userId: string): AiClient {
    return createAiClient(coreContextOf(this), userId);
  }

  /**
   * Re-encrypts every record that is not under the current master key (records under a
   * `previousMasterKeys` entry), in batches, streaming through the store. Safe to run with live
   * traffic (compare-and-set per record) and to run again after an interruption.
   * @returns `{ scanned, rotated, skipped, failed }`; `failed` records are unreadable by every known key and left untouched
   */
  rotate(options: RotateOptions = {}): Promise<RotateResult> {
    return rotate(coreContextOf(this), options);
  }

  /** Zeroes the cached data keys and closes the store (which closes only connections it opened itself). */
  async close(): Promise<void> {
    const { store, vault } = coreContextOf(this);
    vault.close();
    if (store.close) await storeCall("close", () => store.close!());
  }

  /** What JSON.stringify shows: configured provider ids, never keys. */
  toJSON(): { providers: string[] } {
    return { providers: [...coreContextOf(this).providers.keys()] };
  }

  [inspect.custom](): string {
    const { providers, store, defaultProvider } = coreContextOf(this);
    return `BYOK { providers: [${[...providers.keys()].join(", ")}], defaultProvider: '${defaultProvider}', store: ${store.constructor.name} }`;
  }
}
