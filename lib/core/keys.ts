// Key management on a CoreContext: register (validate, seal, store), delete, list, delete a user; the KeyInfo view.
import { ByokError } from "../errors.js";
import { type CoreContext, providerFor, sealContextOf, storeCall } from "./context.js";
import { callWithDeadline } from "./deadline.js";
import { startOperation } from "./events.js";
import type { KeyInfo, KeyRecord, KeyStatus, Provider } from "./types.js";
import {
  checkApiKey,
  checkObject,
  REGISTER_KEY_FIELDS,
  checkProviderId,
  checkRequestId,
  checkSignal,
  checkUserId,
  invalid,
} from "./validate.js";

/** What KeyInfo shows for the fields of a record the store could not read. */
const UNKNOWN_HINT = "\u2026????";
const UNKNOWN_TIME = new Date(0).toISOString();

/** The host (and port) of a stored endpoint; `undefined` for one that does not parse (the record then fails to decrypt anyway). */
function hostOf(endpoint: string): string | undefined {
  try {
    return new URL(endpoint).host;
  } catch {
    return undefined;
  }
}

/** The public view of a stored record, with its status: never the ciphertext. */
export function toKeyInfo(record: KeyRecord, status: KeyStatus): KeyInfo {
  const info: KeyInfo = {
    provider: record.provider,
    hint: record.broken ? UNKNOWN_HINT : record.hint,
    status,
    createdAt: record.broken ? UNKNOWN_TIME : record.createdAt,
    updatedAt: record.broken ? UNKNOWN_TIME : record.updatedAt,
  };
  const host = record.endpoint === undefined ? undefined : hostOf(record.endpoint);
  if (host) info.endpoint = host;
  if (record.lastUsedAt !== undefined) info.lastUsedAt = record.lastUsedAt;
  return info;
}

/**
 * A record's status as stored, or `"unreadable"` when it does not decrypt (one AES-GCM decryption, a
 * few µs: cheap enough for every listing; the plaintext bytes are zeroed at once). When a key service
 * cannot be asked (an uncached v2 record during an outage) the stored status stands: an outage must
 * not tell users to re-enter their keys.
 */
export async function statusOf(context: CoreContext, record: KeyRecord): Promise<KeyStatus> {
  if (record.broken || (await context.vault.readability(record.ciphertext, sealContextOf(record))) === "unreadable")
    return "unreadable";
  return record.status === "invalid" ? "invalid" : "ok";
}

/** `…` plus the key's last 4 characters. */
export function hintFor(apiKey: string): string {
  return `\u2026${apiKey.slice(-4)}`;
}

/** Arguments of `byok.registerKey`. */
export interface RegisterKeyInput {
  userId: string;
  provider: string;
  /** The user's key, as the provider issued it. */
  apiKey: string;
  /**
   * Where the key is used, for providers that let keys carry their own endpoint (`"azure-openai"`:
   * required, the resource endpoint; `"openai-compatible"` with `userEndpoints`: the API root).
   * Checked against the provider's allowed hosts and addresses, and bound to the stored key.
   */
  endpoint?: string;
  /** Check the key with the provider before storing it. Defaults to `true`. */
  validate?: boolean;
  /** Cancels the check with the provider; once it fired, nothing is stored. Defaults to none. */
  signal?: AbortSignal;
  /** The id events of this call carry (the router passes the request's `X-Request-Id`). Defaults to a new UUID. */
  requestId?: string;
}

const REGISTER_FIELDS = new Set([...Object.keys(REGISTER_KEY_FIELDS), "userId", "validate", "signal", "requestId"]);
const DELETE_FIELDS = new Set(["userId", "provider", "requestId"]);

/**
 * The endpoint to store with a key: the provider's own check of the one given, else none.
 * @throws ByokError INVALID_REQUEST naming `endpoint`: given where the provider takes none, missing where it needs one, or refused
 */
async function checkEndpoint(provider: Provider, endpoint: unknown): Promise<string | undefined> {
  const rules = provider.userEndpoints;
  if (endpoint === undefined) {
    if (rules?.required)
      throw invalid('This provider needs the key\'s endpoint, e.g. endpoint: "https://my-resource.openai.azure.com".', [
        "endpoint",
      ]);
    return undefined;
  }
  if (!rules) throw invalid("This provider takes no endpoint with a key; leave endpoint out.", ["endpoint"]);
  if (typeof endpoint !== "string") throw invalid("endpoint must be a string (a URL).", ["endpoint"]);
  try {
    return await rules.check(endpoint);
  } catch (error) {
    if (ByokError.is(error)) throw error;
    throw invalid("endpoint was refused by the provider's check.", ["endpoint"]);
  }
}

/**
 * Validates the key with its provider (unless `validate: false`), encrypts it bound to (userId,
 * provider), and stores it, replacing any previous key (whose `createdAt` is kept).
 * @returns the KeyInfo and whether a key was replaced
 */
export async function registerKey(
  context: CoreContext,
  input: RegisterKeyInput,
): Promise<{ info: KeyInfo; replaced: boolean }> {
  const fields = checkObject(input, REGISTER_FIELDS, "registerKey");
  const operation = startOperation(checkRequestId(fields.requestId));
  const userId = checkUserId(fields.userId);
  const id = checkProviderId(fields.provider);
  const provider = providerFor(context, id);
  const apiKey = checkApiKey(fields.apiKey);
  const signal = checkSignal(fields.signal);
  if (fields.validate !== undefined && typeof fields.validate !== "boolean") {
    throw invalid("validate must be a boolean.", ["validate"]);
  }
  signal?.throwIfAborted();
  const endpoint = await checkEndpoint(provider, fields.endpoint);
  if (fields.validate !== false) {
    await callWithDeadline(provider, id, signal, (signal) => provider.validateKey({ apiKey, signal, endpoint })).catch(
      (error: unknown) => {
        if (ByokError.is(error) && error.code === "KEY_REJECTED")
          context.emit("key.rejected", operation, { userId, provider: id, hint: hintFor(apiKey) });
        throw error;
      },
    );
  }
  signal?.throwIfAborted();
  const now = new Date().toISOString();
  const hint = hintFor(apiKey);
  const sealed: KeyRecord = { userId, provider: id, ciphertext: "", hint, createdAt: now, updatedAt: now };
  if (endpoint !== undefined) sealed.endpoint = endpoint;
  sealed.ciphertext = await context.vault.seal(apiKey, sealContextOf(sealed));
  const { record, replaced } = await storeCall("put", () => context.store.put(sealed));
  context.emit("key.registered", operation, { userId, provider: id, hint });
  return { info: toKeyInfo(record, "ok"), replaced };
}

/** Removes one key; `true` if there was one. */
export async function deleteKey(
  context: CoreContext,
  input: { userId: string; provider: string; requestId?: string },
): Promise<boolean> {
  const fields = checkObject(input, DELETE_FIELDS, "deleteKey");
  const operation = startOperation(checkRequestId(fields.requestId));
  const userId = checkUserId(fields.userId);
  const provider = checkProviderId(fields.provider);
  const removed = await storeCall("delete", () => context.store.delete(userId, provider));
  if (removed) context.emit("key.deleted", operation, { userId, provider });
  return removed;
}

/** The user's keys as KeyInfo, sorted by provider. */
export async function listKeys(context: CoreContext, rawUserId: string): Promise<KeyInfo[]> {
  const userId = checkUserId(rawUserId);
  const records = await storeCall("list", () => context.store.list(userId));
  const infos = await Promise.all(records.map(async (r) => toKeyInfo(r, await statusOf(context, r))));
  return infos.sort((a, b) => a.provider.localeCompare(b.provider));
}

/** Removes all of a user's keys (e.g. on account deletion); resolves to how many there were. */
export async function deleteUser(context: CoreContext, rawUserId: string): Promise<number> {
  const operation = startOperation(context.requestId);
  const userId = checkUserId(rawUserId);
  const before = await storeCall("list", () => context.store.list(userId));
  const count = await storeCall("deleteUser", () => context.store.deleteUser(userId));
  for (const record of before) context.emit("key.deleted", operation, { userId, provider: record.provider });
  return count;
}
