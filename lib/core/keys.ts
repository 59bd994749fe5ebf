// Key management on a CoreContext: register (validate, seal, store), delete, list, delete a user; the KeyInfo view.
import { ByokError } from "../errors.js";
import { type CoreContext, providerFor, sealContextOf, storeCall } from "./context.js";
import { callWithDeadline } from "./deadline.js";
import { startOperation } from "./events.js";
import { checkCredential, type CheckedCredential } from "./credentials.js";
import { currentStatus, hasExpired } from "./key-verdict.js";
import { ownerOf, teamOwnerId } from "./owner.js";
import {
  type Credential,
  DEFAULT_LABEL,
  type KeyInfo,
  type KeyRecord,
  type KeyStatus,
  type Provider,
} from "./types.js";
import {
  checkActorId,
  checkApiKey,
  checkExpiresAt,
  checkLabel,
  checkModels,
  checkObject,
  checkPriority,
  REGISTER_KEY_FIELDS,
  checkProviderId,
  checkRequestId,
  checkSignal,
  checkTeamId,
  checkUserId,
  endpointRefused,
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

/** The public view of a stored record, with its status (and, when `"rate_limited"`, until when): never the ciphertext. */
export function toKeyInfo(record: KeyRecord, status: KeyStatus): KeyInfo {
  const info: KeyInfo = {
    provider: record.provider,
    owner: ownerOf(record.userId).teamId === undefined ? "user" : "team",
    label: record.label ?? DEFAULT_LABEL,
    priority: record.priority ?? 0,
    hint: record.broken ? UNKNOWN_HINT : record.hint,
    status,
    createdAt: record.broken ? UNKNOWN_TIME : record.createdAt,
    updatedAt: record.broken ? UNKNOWN_TIME : record.updatedAt,
  };
  const host = record.endpoint === undefined ? undefined : hostOf(record.endpoint);
  if (host) info.endpoint = host;
  if (record.region !== undefined) info.endpoint = record.region;
  if (record.expiresAt !== undefined) info.expiresAt = record.expiresAt;
  if (record.models !== undefined) info.models = [...record.models];
  if (record.lastUsedAt !== undefined) info.lastUsedAt = record.lastUsedAt;
  if (status === "rate_limited" && record.statusUntil !== undefined) info.statusUntil = record.statusUntil;
  return info;
}

/**
 * A record's status as stored (a `"rate_limited"` whose `statusUntil` has passed is `"ok"`), or
 * `"unreadable"` when it does not decrypt (one AES-GCM decryption, a
 * few µs: cheap enough for every listing; the plaintext bytes are zeroed at once). When a key service
 * cannot be asked (an uncached v2 record during an outage) the stored status stands: an outage must
 * not tell users to re-enter their keys.
 */
export async function statusOf(context: CoreContext, record: KeyRecord): Promise<KeyStatus> {
  if (record.broken || (await context.vault.readability(record.ciphertext, sealContextOf(record))) === "unreadable")
    return "unreadable";
  if (hasExpired(record)) return "expired";
  return currentStatus(record);
}

/** `…` plus the key's last 4 characters. */
export function hintFor(apiKey: string): string {
  return `\u2026${apiKey.slice(-4)}`;
}

/** Whose keys an operation is about: exactly one of a user or a team. */
export type KeyOwner = { userId: string; teamId?: undefined } | { teamId: string; userId?: undefined };

/** Arguments of `byok.registerKey`: for a user's own key (`userId`) or a team's (`teamId`). */
export type RegisterKeyInput = KeyOwner & RegisterKeyFields;

/** The fields of `byok.registerKey` beside its owner. */
export interface RegisterKeyFields {
  provider: string;
  /** Who registered it (e.g. the team admin), for the `key.registered` event's `userId`. Defaults to the `userId`. */
  actorId?: string;
  /** The user's key, as the provider issued it. Exactly one of `apiKey` / `credential`. */
  apiKey?: string;
  /**
   * For a provider whose credential is several fields (see `Provider.credential`), e.g. a cloud
   * account's `{ accessKeyId, secretAccessKey, sessionToken?, region }`: checked field by field and by the provider,
   * then sealed as one unit, bound to the region it names. Exactly one of `apiKey` / `credential`.
   */
  credential?: Credential;
  /**
   * Which of the owner's keys for the provider this is (1–64 letters, digits, spaces, `_`, `.`, `-`): a key of the
   * same label is replaced, any other kept beside it. Defaults to `"default"`. At most 10 keys per provider.
   */
  label?: string;
  /** Its place in the key chain among the owner's keys for the provider: lower first. Defaults to 0. */
  priority?: number;
  /** ISO-8601, in the future: the key is `"expired"` from then on, and never used. Defaults to never. */
  expiresAt?: string;
  /** The model ids this key may serve (the chain skips it for any other). Defaults to any model. */
  models?: string[];
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

const OWNER_FIELDS = ["userId", "teamId", "actorId"];
const REGISTER_FIELDS = new Set([
  ...Object.keys(REGISTER_KEY_FIELDS),
  ...OWNER_FIELDS,
  "validate",
  "signal",
  "requestId",
]);
const DELETE_FIELDS = new Set([...OWNER_FIELDS, "provider", "label", "requestId"]);

/** Most keys one owner keeps for one provider. */
export const MAX_KEYS_PER_PROVIDER = 10;

/** Whose records an operation touches, and who acted, from `{ userId }` or `{ teamId }` (plus `actorId`). */
interface CheckedOwner {
  /** What the store keeps the records under (the user id, or the team's owner id). */
  ownerId: string;
  /** The events' `userId` (the actor) and, for a team, `teamId`. */
  who: { userId: string; teamId?: string };
}

/** @throws ByokError INVALID_REQUEST unless exactly one of `userId` / `teamId`, and valid ids */
export function checkOwner(fields: Record<string, unknown>): CheckedOwner {
  if ((fields.userId === undefined) === (fields.teamId === undefined))
    throw invalid("Give exactly one of userId (a user's own key) or teamId (a team's key).", ["userId", "teamId"]);
  const actor = fields.actorId === undefined ? undefined : checkActorId(fields.actorId);
  if (fields.userId !== undefined) {
    const userId = checkUserId(fields.userId);
    return { ownerId: userId, who: { userId: actor ?? userId } };
  }
  const teamId = checkTeamId(fields.teamId);
  return { ownerId: teamOwnerId(teamId), who: { userId: actor ?? "", teamId } };
}

/**
 * The endpoint to store with a key: the provider's own check of the one given, else none.
 * @throws ByokError INVALID_REQUEST naming `endpoint`: given where the provider takes none, missing where it needs one, or refused
 */
async function checkEndpoint(provider: Provider, endpoint: unknown): Promise<string | undefined> {
  const rules = provider.userEndpoints;
  if (endpoint === undefined) {
    if (rules?.required)
      throw endpointRefused(
        "This provider needs the key's endpoint, the URL of the API the key belongs to: pass endpoint with the key.",
        "missing",
      );
    return undefined;
  }
  if (!rules) throw endpointRefused("This provider takes no endpoint with a key; leave endpoint out.", "not_accepted");
  if (typeof endpoint !== "string") throw endpointRefused("endpoint must be a string (a URL).", "not_a_url");
  try {
    return await rules.check(endpoint);
  } catch (error) {
    if (ByokError.is(error)) throw error;
    throw endpointRefused("endpoint was refused by the provider's check.", "check_failed");
  }
}

/**
 * The plaintext to seal from exactly one of `apiKey` / `credential`, its hint, and the region a credential names.
 * @throws ByokError INVALID_REQUEST naming `apiKey` / `credential` (or `credential.<field>`), never a value
 */
async function checkSecret(provider: Provider, fields: Record<string, unknown>): Promise<CheckedCredential> {
  if ((fields.apiKey === undefined) === (fields.credential === undefined))
    throw invalid("Give exactly one of apiKey (a string) or credential (an object).", ["apiKey", "credential"]);
  if (fields.credential !== undefined) return checkCredential(provider, fields.credential);
  if (provider.credential && !provider.credential.acceptsApiKey)
    throw invalid(
      `This provider takes a credential (${Object.keys(provider.credential.fields).join(", ")}), not an apiKey.`,
      ["apiKey"],
    );
  const apiKey = checkApiKey(fields.apiKey);
  return { plaintext: apiKey, hint: hintFor(apiKey) };
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
  const { ownerId, who } = checkOwner(fields);
  const id = checkProviderId(fields.provider);
  const provider = providerFor(context, id);
  const { plaintext: apiKey, hint, region } = await checkSecret(provider, fields);
  const signal = checkSignal(fields.signal);
  if (fields.validate !== undefined && typeof fields.validate !== "boolean") {
    throw invalid("validate must be a boolean.", ["validate"]);
  }
  signal?.throwIfAborted();
  const settings = checkKeySettings(fields);
  const label = fields.label === undefined ? DEFAULT_LABEL : checkLabel(fields.label);
  await checkRoomFor(context, ownerId, id, label);
  const endpoint = await checkEndpoint(provider, fields.endpoint);
  if (fields.validate !== false) {
    await callWithDeadline(provider, id, signal, (signal) => provider.validateKey({ apiKey, signal, endpoint })).catch(
      (error: unknown) => {
        if (ByokError.is(error) && error.code === "KEY_REJECTED")
          context.emit("key.rejected", operation, { ...who, provider: id, hint });
        throw error;
      },
    );
  }
  signal?.throwIfAborted();
  const now = new Date().toISOString();
  const sealed: KeyRecord = {
    userId: ownerId,
    provider: id,
    label,
    ciphertext: "",
    hint,
    ...settings,
    createdAt: now,
    updatedAt: now,
  };
  if (endpoint !== undefined) sealed.endpoint = endpoint;
  if (region !== undefined) sealed.region = region;
  sealed.ciphertext = await context.vault.seal(apiKey, sealContextOf(sealed));
  const { record, replaced } = await storeCall("put", () => context.store.put(sealed));
  context.emit("key.registered", operation, { ...who, provider: id, hint });
  return { info: toKeyInfo(record, "ok"), replaced };
}

/** Arguments of `byok.deleteKey`: one label, or (without `label`) every key of the owner for the provider. */
export type DeleteKeyInput = KeyOwner & { provider: string; label?: string; actorId?: string; requestId?: string };

/** Removes one key of a user or a team, or every key of theirs for the provider; `true` if any was removed. */
export async function deleteKey(context: CoreContext, input: DeleteKeyInput): Promise<boolean> {
  const fields = checkObject(input, DELETE_FIELDS, "deleteKey");
  const operation = startOperation(checkRequestId(fields.requestId));
  const { ownerId, who } = checkOwner(fields);
  const provider = checkProviderId(fields.provider);
  const labels = fields.label !== undefined ? [checkLabel(fields.label)] : await labelsOf(context, ownerId, provider);
  let removed = false;
  for (const label of labels) {
    if (!(await storeCall("delete", () => context.store.delete(ownerId, provider, label)))) continue;
    removed = true;
    context.emit("key.deleted", operation, { ...who, provider });
  }
  return removed;
}

/** The labels of an owner's keys for one provider (one `list`). */
async function labelsOf(context: CoreContext, ownerId: string, provider: string): Promise<string[]> {
  const records = await storeCall("list", () => context.store.list(ownerId));
  return records.filter((r) => r.provider === provider).map((r) => r.label ?? DEFAULT_LABEL);
}

/** A key's chain settings from `registerKey`'s fields, checked: those given. */
function checkKeySettings(fields: Record<string, unknown>): Pick<KeyRecord, "priority" | "expiresAt" | "models"> {
  const settings: Pick<KeyRecord, "priority" | "expiresAt" | "models"> = {};
  if (fields.priority !== undefined) settings.priority = checkPriority(fields.priority);
  if (fields.expiresAt !== undefined) settings.expiresAt = checkExpiresAt(fields.expiresAt);
  if (fields.models !== undefined) settings.models = checkModels(fields.models);
  return settings;
}

/**
 * @throws ByokError INVALID_REQUEST naming `label` when the store keeps one key per provider and `label` is not
 * `"default"`, or when the owner already has the most keys for the provider and `label` is a new one
 */
async function checkRoomFor(context: CoreContext, ownerId: string, provider: string, label: string): Promise<void> {
  if (context.store.labels !== true) {
    if (label === DEFAULT_LABEL) return; // a store of one key per provider: it replaces that one
    throw invalid(
      'This store keeps one key per provider (its keys capability does not declare `labels`): register it without a label, or under label "default".',
      ["label"],
    );
  }
  const labels = await labelsOf(context, ownerId, provider);
  if (labels.length >= MAX_KEYS_PER_PROVIDER && !labels.includes(label))
    throw invalid(
      `At most ${MAX_KEYS_PER_PROVIDER} keys per provider: delete one, or replace one by registering under its label.`,
      ["label"],
    );
}

/** The store owner id of `owner` (a user id, or `{ userId }` / `{ teamId }`). */
function ownerIdOf(owner: string | KeyOwner): string {
  if (typeof owner === "string") return checkUserId(owner);
  return checkOwner(checkObject(owner, new Set(["userId", "teamId"]), "listKeys")).ownerId;
}

/** The keys of a user (or of a team) as KeyInfo, sorted by provider. */
export async function listKeys(context: CoreContext, owner: string | KeyOwner): Promise<KeyInfo[]> {
  const ownerId = ownerIdOf(owner);
  const records = await storeCall("list", () => context.store.list(ownerId));
  const infos = await Promise.all(records.map(async (r) => toKeyInfo(r, await statusOf(context, r))));
  return infos.sort(
    (a, b) =>
      a.provider.localeCompare(b.provider) ||
      a.priority - b.priority ||
      (a.label < b.label ? -1 : a.label > b.label ? 1 : 0),
  );
}

/**
 * Removes all of a user's keys (account deletion) or a team's, then what every other capability keeps for them
 * (usage rows, budget counters, connect-flow state); resolves to how many keys there were.
 */
export async function deleteOwner(context: CoreContext, owner: KeyOwner): Promise<number> {
  const operation = startOperation(context.requestId);
  const { ownerId, who } = checkOwner(owner);
  const before = await storeCall("list", () => context.store.list(ownerId));
  const count = await storeCall("deleteUser", () => context.store.deleteUser(ownerId));
  for (const record of before) context.emit("key.deleted", operation, { ...who, provider: record.provider });
  const { usage, budgets, once } = context.stores;
  for (const [name, capability] of Object.entries({ usage, budgets, once }))
    if (capability) await storeCall(`${name}.deleteOwner`, () => capability.deleteOwner(ownerId));
  return count;
}
