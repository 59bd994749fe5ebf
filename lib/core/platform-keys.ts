// The app's own keys (`platformKeys`): the key chain's last link, from server configuration only.
import { configError } from "./option-checks.js";
import type { KeyRecord } from "./types.js";
import { checkApiKey } from "./validate.js";

/** The label a platform key serves under, in answers and events. */
export const PLATFORM_LABEL = "platform";

/** The owner id of a platform key's stand-in record: U+FFFF starts no user id a store keeps as a user's. */
const PLATFORM_OWNER = "\uFFFFplatform";

/**
 * The app's keys by provider. Never listed, never stored, never in a hint: a call's chain ends in one only where
 * `use(userId, { platform: true })` (the router's `allowPlatformKey`) allows it.
 */
export class PlatformKeys {
  readonly #keys: ReadonlyMap<string, string>;

  constructor(keys: ReadonlyMap<string, string>) {
    this.#keys = keys;
  }

  /** Whether the app has a key for `provider`. */
  has(provider: string): boolean {
    return this.#keys.has(provider);
  }

  /** The app's key for `provider`, for the length of one call. */
  reveal(provider: string): string | undefined {
    return this.#keys.get(provider);
  }

  /** The stand-in record the chain carries for `provider`'s platform key: no ciphertext, no hint. */
  recordFor(provider: string): KeyRecord {
    return {
      userId: PLATFORM_OWNER,
      provider,
      label: PLATFORM_LABEL,
      ciphertext: "",
      hint: "",
      createdAt: "",
      updatedAt: "",
    };
  }

  toJSON(): { providers: string[] } {
    return { providers: [...this.#keys.keys()] };
  }
}

/** Whether `record` is a platform key's stand-in (see {@link PlatformKeys.recordFor}). */
export const isPlatformRecord = (record: KeyRecord): boolean => record.userId === PLATFORM_OWNER;

/**
 * The `platformKeys` option, checked against the configured providers: a key string per provider id (a provider
 * whose credential has several fields takes the credential object).
 * @throws ByokError CONFIG_INVALID naming the provider, never the key
 */
export function parsePlatformKeys(value: unknown, providers: readonly string[]): PlatformKeys {
  if (value === undefined) return new PlatformKeys(new Map());
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw configError(
      "platformKeys must be an object of the app's own keys by provider id, e.g. { [providerId]: process.env.APP_PROVIDER_KEY }.",
    );
  const keys = new Map<string, string>();
  for (const [provider, key] of Object.entries(value)) {
    if (key === undefined) continue;
    if (!providers.includes(provider))
      throw configError(
        `platformKeys.${provider.slice(0, 40)}: no such provider is configured (${providers.join(", ")}).`,
      );
    if (typeof key === "object" && key !== null) keys.set(provider, JSON.stringify(key));
    else {
      try {
        keys.set(provider, checkApiKey(key));
      } catch {
        throw configError(
          `platformKeys.${provider}: the key must be 8 to 512 printable ASCII characters with no spaces.`,
        );
      }
    }
  }
  return new PlatformKeys(keys);
}
