// Key management on a CoreContext: register (validate, seal, store), delete, list, delete a user; the KeyInfo view.
import { ByokError } from "../errors.js";
import { type CoreContext, providerFor, storeCall } from "./context.js";
import { callWithDeadline } from "./deadline.js";
import { startOperation } from "./events.js";
import type { KeyInfo, KeyRecord, KeyStatus } from "./types.js";
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
 * few µs: cheap enough for every listing; the plaintext bytes are zeroed at once).
 */
export function statusOf(context: CoreContext, record: KeyRecord): KeyStatus {
  const { userId, provider, ciphertext } = record;
  if (record.broken || !context.vault.canOpen(ciphertext, { userId, provider })) return "unreadable";
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
  /** Cancels the check with the provider; once it fired, nothing is stored. Defaults to none. */
  signal?: AbortSignal;
  /** The id events of this call carry (the router passes the request's `X-Request-Id`). Defaults to a new UUID. */
  requestId?: string;
}

const REGISTER_FIELDS = new Set([...Object.keys(REGISTER_KEY_FIELDS), "userId", "validate", "signal", "requestId"]);
const DELETE_FIELDS = new Set(["userId", "provider", "requestId"]);

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
  const ciphertext = context.vault.seal(apiKey, { userId, provider: id });
  const { record, replaced } = await storeCall("put", () =>
    context.store.put({ userId, provider: id, ciphertext, hint, createdAt: now, updatedAt: now }),
  );
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
  return records.map((r) => toKeyInfo(r, statusOf(context, r))).sort((a, b) => a.provider.localeCompare(b.provider));
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
