// Key management on a CoreContext: register (validate, seal, store), delete, list, delete a user.
import { ByokError } from "../errors.js";
import { type CoreContext, DEFAULT_TIMEOUT_MS, hintFor, providerFor, storeCall, toKeyInfo } from "./context.js";
import { startDeadline } from "./deadline.js";
import type { KeyInfo } from "./types.js";
import { checkApiKey, checkProviderId, checkUserId } from "./validate.js";

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
 * @returns the KeyInfo and whether a key was replaced
 */
export async function registerKey(
  context: CoreContext,
  input: RegisterKeyInput,
): Promise<{ info: KeyInfo; replaced: boolean }> {
  const fields = checkObject(input, REGISTER_FIELDS, "registerKey");
  const userId = checkUserId(fields.userId);
  const id = checkProviderId(fields.provider);
  const provider = providerFor(context, id);
  const apiKey = checkApiKey(fields.apiKey);
  if (fields.validate !== undefined && typeof fields.validate !== "boolean") {
    throw new ByokError("INVALID_REQUEST", "validate must be a boolean.", { details: { fields: ["validate"] } });
  }
  if (fields.validate !== false) {
    await provider.load?.(); // before the deadline starts, as for a chat
    const deadline = startDeadline(provider.timeoutMs ?? DEFAULT_TIMEOUT_MS, undefined);
    try {
      await provider.validateKey({ apiKey, signal: deadline.signal });
    } catch (error) {
      const translated = deadline.translate(error, id);
      if (ByokError.is(translated) && translated.code === "KEY_REJECTED")
        context.emit("key.rejected", { userId, provider: id, hint: hintFor(apiKey) });
      throw translated;
    } finally {
      deadline.dispose();
    }
  }
  const now = new Date().toISOString();
  const hint = hintFor(apiKey);
  const ciphertext = context.vault.seal(apiKey, { userId, provider: id });
  const { record, replaced } = await storeCall("put", () =>
    context.store.put({ userId, provider: id, ciphertext, hint, createdAt: now, updatedAt: now }),
  );
  context.emit("key.registered", { userId, provider: id, hint });
  return { info: toKeyInfo(record), replaced };
}

/** Removes one key; `true` if there was one. */
export async function deleteKey(context: CoreContext, input: { userId: string; provider: string }): Promise<boolean> {
  const fields = checkObject(input, new Set(["userId", "provider"]), "deleteKey");
  const userId = checkUserId(fields.userId);
  const provider = checkProviderId(fields.provider);
  const removed = await storeCall("delete", () => context.store.delete(userId, provider));
  if (removed) context.emit("key.deleted", { userId, provider });
  return removed;
}

/** The user's keys as KeyInfo, sorted by provider. */
export async function listKeys(context: CoreContext, rawUserId: string): Promise<KeyInfo[]> {
  const userId = checkUserId(rawUserId);
  const records = await storeCall("list", () => context.store.list(userId));
  return records.map(toKeyInfo).sort((a, b) => a.provider.localeCompare(b.provider));
}

/** Removes all of a user's keys (e.g. on account deletion); resolves to how many there were. */
export async function deleteUser(context: CoreContext, rawUserId: string): Promise<number> {
  const userId = checkUserId(rawUserId);
  const before = await storeCall("list", () => context.store.list(userId));
  const count = await storeCall("deleteUser", () => context.store.deleteUser(userId));
  for (const record of before) context.emit("key.deleted", { userId, provider: record.provider });
  return count;
}
