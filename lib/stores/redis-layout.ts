// How RedisStore lays records out: the per-user hash key (hash-tagged, base64url user id) and the JSON of one record.
import type { KeyRecord } from "../core/types.js";
import { encodedOwnerId } from "../core/owner.js";
import { storedStatusOf } from "../core/key-verdict.js";
import { fieldParts } from "./store-support.js";

/** What one hash field holds: the record without its identity (the hash's key, and the field: provider and label). */
export type RecordJson = Omit<KeyRecord, "userId" | "provider" | "label" | "broken">;

/** `<prefix>{<base64url of the UTF-8 user id>}`: no id can reach another's hash or break the cluster hash tag. */
export function userKey(prefix: string, userId: string): string {
  return `${prefix}${encodedOwnerId(userId)}`;
}

/**
 * `<prefix>once:{<base64url of the UTF-8 owner>}:<base64url of the UTF-8 key>`: where the once capability keeps a
 * value. It never starts `<prefix>{`, so it is never a user's hash (nor read as one by `scan`); the owner's hash tag
 * keeps an owner's values on one cluster slot, and its encoding keeps owners apart.
 */
export function onceKey(prefix: string, owner: string, key: string): string {
  return `${prefix}once:${encodedOwnerId(owner)}:${Buffer.from(key, "utf8").toString("base64url")}`;
}

/** The SCAN pattern of every value {@link onceKey} keeps for `owner`. */
export const onceKeysOf = (prefix: string, owner: string): string => `${prefix}once:${encodedOwnerId(owner)}:*`;

/** The user id of a key written by {@link userKey}, or `undefined` for any other key. */
export function userIdOf(prefix: string, key: string): string | undefined {
  const head = `${prefix}{`;
  if (!key.startsWith(head) || !key.endsWith("}")) return undefined;
  const encoded = key.slice(head.length, -1);
  const userId = Buffer.from(encoded, "base64url").toString("utf8");
  // Only canonical encodings are ours (anything else matching the pattern is someone else's key).
  return Buffer.from(userId, "utf8").toString("base64url") === encoded && userId.length > 0 ? userId : undefined;
}

/**
 * Parses one hash field (named by `recordField`) and its JSON. A value that is not RedisStore's format (not JSON,
 * a field missing or of the wrong type) becomes a `broken` record rather than an error: one damaged field must not
 * block the user's other keys.
 */
export function toRecord(userId: string, field: string, json: string): KeyRecord {
  const { provider, label } = fieldParts(field);
  let v: Partial<Record<keyof RecordJson, unknown>> | undefined;
  try {
    v = JSON.parse(json) as typeof v;
  } catch {
    // broken, below
  }
  if (
    typeof v !== "object" ||
    v === null ||
    [v.ciphertext, v.hint, v.createdAt, v.updatedAt].some((f) => typeof f !== "string")
  ) {
    return { userId, provider, label, ciphertext: "", hint: "", createdAt: "", updatedAt: "", broken: true };
  }
  const record: KeyRecord = {
    userId,
    provider,
    label,
    ciphertext: v.ciphertext as string,
    hint: v.hint as string,
    createdAt: v.createdAt as string,
    updatedAt: v.updatedAt as string,
  };
  if (typeof v.endpoint === "string") record.endpoint = v.endpoint;
  if (typeof v.region === "string") record.region = v.region;
  if (typeof v.priority === "number") record.priority = v.priority;
  if (typeof v.expiresAt === "string") record.expiresAt = v.expiresAt;
  if (Array.isArray(v.models)) record.models = v.models.filter((m): m is string => typeof m === "string");
  if (typeof v.lastUsedAt === "string") record.lastUsedAt = v.lastUsedAt;
  return { ...record, ...storedStatusOf(v.status, v.statusUntil) };
}
