// Key management on a CoreContext: register (validate, seal, store), delete, list, delete a user; the KeyInfo view.
import { ByokError } from "../errors.js";
import { type CoreContext, providerFor, storeCall } from "./context.js";
import { callWithDeadline } from "./deadline.js";
import { startOperation } from "./events.js";
import type { KeyInfo, KeyRecord, KeyStatus } from "./types.js";
import { checkApiKey, checkProviderId, checkUserId } from "./validate.js";

/** What KeyInfo shows for the fields of a record the store could not read. */
const UNKNOWN_HINT = "\u2026????";
const UNKNOWN_TIME = new Date(0).toISOString();

/** The public view of a stored record, with its status: never the ciphertext. */
export function toKeyInfo(record: KeyRecord, status: KeyStatus): KeyInfo {
  const info: KeyInfo = {
    provider: record.provider,
    hint: record.broken ? UNKNOWN_HINT : record.hint,
    status,
    createdAt: record.broken ? UNKNOWN_TIME : record.createdAt,
    updatedAt: record.broken ? UNKNOWN_TIME : record.updatedAt,
  };
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
  const { userId, provider, ciphertext } = record;
  if (record.broken || (await context.vault.readability(ciphertext, { userId, provider })) === "unreadable")
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
  /** Check the key with the provider before storing it. Defaults to `true`. */
  validate?: boolean;
}

const REGISTER_FIELDS = new Set(["userId", "provider", "apiKey", "validate"]);

function checkObject(input: unknown, allowed: Set<string>, what: string): Record<string, unknown> {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new ByokError("INVALID_REQUEST", `${what} takes an object.`);
  }
  const unknown = Object.keys(input).filter((k) => !allowed.has(k));
  if (unknown.length)
    throw new ByokError("INVALID_REQUEST", `${what}: unknown field(s) ${unknown.join(", ")}.`, {
      details: { fields: unknown },
    });
  return input as Record<string, unknown>;
}

/**
 * Validates the key with its provider (unless `validate: false`), encrypts it bound to (userId,
 * provider), and stores it, replacing any previous key (whose `createdAt` is kept).
 * @param signal - cancels the validation call; once it fired nothing is stored (the router's client went away)
 * @returns the KeyInfo and whether a key was replaced
 */
export async function registerKey(
  context: CoreContext,
  input: RegisterKeyInput,
  signal?: AbortSignal,
): Promise<{ info: KeyInfo; replaced: boolean }> {
  const operation = startOperation(context.requestId);
  const fields = checkObject(input, REGISTER_FIELDS, "registerKey");
  const userId = checkUserId(fields.userId);
  const id = checkProviderId(fields.provider);
  const provider = providerFor(context, id);
  const apiKey = checkApiKey(fields.apiKey);
  if (fields.validate !== undefined && typeof fields.validate !== "boolean") {
    throw new ByokError("INVALID_REQUEST", "validate must be a boolean.", { details: { fields: ["validate"] } });
  }
  if (fields.validate !== false) {
    await callWithDeadline(provider, id, signal, (signal) => provider.validateKey({ apiKey, signal })).catch(
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
  const ciphertext = await context.vault.seal(apiKey, { userId, provider: id });
  const { record, replaced } = await storeCall("put", () =>
    context.store.put({ userId, provider: id, ciphertext, hint, createdAt: now, updatedAt: now }),
  );
  context.emit("key.registered", operation, { userId, provider: id, hint });
  return { info: toKeyInfo(record, "ok"), replaced };
}

/** Removes one key; `true` if there was one. */
export async function deleteKey(context: CoreContext, input: { userId: string; provider: string }): Promise<boolean> {
  const operation = startOperation(context.requestId);
  const fields = checkObject(input, new Set(["userId", "provider"]), "deleteKey");
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
