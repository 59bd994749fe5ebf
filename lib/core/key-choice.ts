// Which stored key a call uses (the provider choice rule), and when its lastUsedAt is due: shared by chat and connection.
import { debuglog } from "node:util";
import { ByokError } from "../errors.js";
import { checkRecordEndpoint, type CoreContext, providerFor, storeCall } from "./context.js";
import { ownerOf, teamOwnerId } from "./owner.js";
import {
  DEFAULT_LABEL,
  type KeyNaming,
  type KeyRecord,
  type KeyStore,
  type Provider,
  type ServingKey,
} from "./types.js";
import { currentStatus, hasExpired } from "./key-verdict.js";
import { isPlatformRecord } from "./platform-keys.js";
import { checkTeamId, checkUserId } from "./validate.js";

const debug = debuglog("byok");

/** A provider and the record a call uses for it: the user's own, or (with `teamId`) the team's. */
export interface Resolved {
  id: string;
  provider: Provider;
  record: KeyRecord;
  /** The team whose key it is, when a team key serves the call. */
  teamId?: string;
}

/** An event's `userId` (the member who called) and, when a team key served, `teamId`. */
export function whoCalled(userId: string, resolved: { teamId?: string }): { userId: string; teamId?: string } {
  return resolved.teamId === undefined ? { userId } : { userId, teamId: resolved.teamId };
}

/** How events name the key `resolved` uses: its label and whose it is. */
export function keyNaming(resolved: { record: KeyRecord; teamId?: string }): KeyNaming {
  const keyOwner = isPlatformRecord(resolved.record) ? "platform" : resolved.teamId === undefined ? "user" : "team";
  return { label: resolved.record.label ?? DEFAULT_LABEL, keyOwner };
}

/** How a {@link ChatResponse} names the key that served it. */
export function servingKey(resolved: { record: KeyRecord; teamId?: string }): ServingKey {
  const { label, keyOwner } = keyNaming(resolved);
  return { owner: keyOwner, label, hint: resolved.record.hint };
}

/** The resolved record, and the team it belongs to when it is the team's. */
function resolved(id: string, provider: Provider, record: KeyRecord): Resolved {
  checkRecordEndpoint(provider, record);
  const { teamId } = ownerOf(record.userId);
  return teamId === undefined ? { id, provider, record } : { id, provider, record, teamId };
}

/**
 * The key records a call of one user (and team) reads first, read ahead of it: the router starts this
 * beside its rate-limit count, so on RedisStore both go out in one round trip. A call takes them once,
 * and only for the same user and team; a request the limiter refused never takes them.
 */
export class KeyChain {
  readonly userId: string;
  readonly teamId: string | undefined;
  #records?: Promise<[own: KeyRecord[], team: KeyRecord[]]>;

  constructor(store: KeyStore, userId: string, teamId: string | undefined) {
    this.userId = userId;
    this.teamId = teamId;
    this.#records = ownAndTeam(store, userId, teamId);
    this.#records.catch(() => undefined); // its failure is the call's to report, if a call takes it
  }

  /** The records read ahead, once, for a call of `userId` with `teamId`; `undefined` for any other. */
  take(userId: string, teamId: string | undefined): Promise<[own: KeyRecord[], team: KeyRecord[]]> | undefined {
    if (userId !== this.userId || teamId !== this.teamId) return undefined;
    const records = this.#records;
    this.#records = undefined;
    return records;
  }
}

/** Both lists, read together (one round trip on Redis); ids are checked before anything is read. */
function ownAndTeam(
  store: KeyStore,
  userId: string,
  teamId: string | undefined,
): Promise<[own: KeyRecord[], team: KeyRecord[]]> {
  return Promise.all([
    storeCall("list", async () => store.list(checkUserId(userId))),
    teamId === undefined ? [] : storeCall("list", async () => store.list(teamOwnerId(checkTeamId(teamId)))),
  ]);
}

/** Both lists, from the client's {@link KeyChain} when the router read them ahead, else read now (together). */
function ownAndTeamOf(context: CoreContext, userId: string): Promise<[own: KeyRecord[], team: KeyRecord[]]> {
  const { teamId } = context;
  return context.keyChain?.take(userId, teamId) ?? ownAndTeam(context.store, userId, teamId);
}

const labelOf = (record: KeyRecord): string => record.label ?? DEFAULT_LABEL;

/** One owner's records in chain order: by `priority` (lower first), then label in byte order. */
function inChainOrder(records: KeyRecord[]): KeyRecord[] {
  return [...records].sort((a, b) => {
    const [x, y] = [labelOf(a), labelOf(b)];
    return (a.priority ?? 0) - (b.priority ?? 0) || (x < y ? -1 : x > y ? 1 : 0);
  });
}

/** Why the chain passes a record over without any upstream call, or `undefined` when it may serve `model`. */
export function skipReason(
  record: KeyRecord,
  model: string | undefined,
  now = Date.now(),
): "models" | "unreadable" | "expired" | "status" | undefined {
  if (model !== undefined && record.models !== undefined && !record.models.includes(model)) return "models";
  if (record.broken) return "unreadable";
  if (hasExpired(record, now)) return "expired";
  if (currentStatus(record, now) !== "ok") return "status";
  return undefined;
}

/**
 * The keys a call of `model` may try, in order: the user's own, then the team's, each by priority, less those that
 * are skipped. When every key that may serve the model is skipped for its status alone, the first of them is still
 * tried, as a lone key always was (the user may have fixed their billing); a broken record is kept last so that the
 * call answers `KEY_UNREADABLE` for it, as before, when nothing else may serve.
 */
function candidatesOf(own: KeyRecord[], team: KeyRecord[], provider: string, model: string | undefined): KeyRecord[] {
  const now = Date.now();
  const ofProvider = (records: KeyRecord[]) => inChainOrder(records.filter((r) => r.provider === provider));
  const mayServe = [...ofProvider(own), ...ofProvider(team)].filter((r) => skipReason(r, model, now) !== "models");
  const usable = mayServe.filter((r) => skipReason(r, model, now) === undefined);
  if (usable.length > 0) return usable;
  const resting = mayServe.find((r) => skipReason(r, model, now) === "status");
  const broken = mayServe.find((r) => r.broken);
  return resting ? [resting] : broken ? [broken] : [];
}

/** A provider and the keys one call may try for it, first to last (never empty). */
export interface KeyChoice {
  id: string;
  provider: Provider;
  candidates: Resolved[];
}

/**
 * The provider of a call and its key chain: the provider asked for, else `defaultProvider` when the chain has a key
 * for it, else the only provider with one. `model` is the request's (else each provider's default), which a key's
 * `models` list may exclude. Every candidate's record comes from the one lookup (one round trip on Redis).
 * @throws ByokError KEY_NOT_FOUND when no key may serve, nothing sent
 */
export async function resolveChain(
  context: CoreContext,
  userId: string,
  requested: string | undefined,
  model?: string,
): Promise<KeyChoice> {
  const [own, team] = await ownAndTeamOf(context, userId);
  const platform = context.platform === true ? context.platformKeys : undefined;
  const choice = (id: string): KeyChoice => {
    const provider = providerFor(context, id);
    const served = model ?? provider.defaultModel;
    let records = candidatesOf(own, team, id, served);
    // The app's key is the last link, after every key of the user's and the team's that may serve (a resting or
    // broken one is then passed over: the app's key can serve instead).
    if (platform?.has(id))
      records = [...records.filter((r) => skipReason(r, served) === undefined), platform.recordFor(id)];
    return { id, provider, candidates: records.map((record) => resolved(id, provider, record)) };
  };
  if (requested !== undefined) {
    const found = choice(requested);
    if (found.candidates.length === 0) throw keyNotFound(requested, noKeyMessage(own, team, requested));
    return found;
  }
  const withPlatform = platform ? [...context.providers.keys()].filter((id) => platform.has(id)) : [];
  const ids = [...new Set([...[...own, ...team].map((r) => r.provider), ...withPlatform])].filter((id) =>
    context.providers.has(id),
  );
  const choices = ids.map(choice).filter((c) => c.candidates.length > 0);
  const found =
    choices.find((c) => c.id === context.defaultProvider) ?? (choices.length === 1 ? choices[0] : undefined);
  if (!found) {
    throw new ByokError(
      "KEY_NOT_FOUND",
      choices.length === 0
        ? "The user has no API key yet; register one first (byok.registerKey or the router's keys route)."
        : `The user has keys for several providers (${choices.map((c) => c.id).join(", ")}); pass \`provider\` to pick one.`,
    );
  }
  return found;
}

/** Why no key of `provider` may serve: none at all, or every one expired or limited to other models. */
function noKeyMessage(own: KeyRecord[], team: KeyRecord[], provider: string): string | undefined {
  const records = [...own, ...team].filter((r) => r.provider === provider);
  if (records.length === 0) return undefined;
  if (records.every((r) => skipReason(r, undefined) === "expired"))
    return "Every key for the requested provider has expired; register a new one.";
  return "No key for the requested provider may serve this model (each lists the models it serves); pick another model or key.";
}

/** The first key of the chain for `provider` (or the provider choice rule's), for calls that cannot fail over. */
export async function resolveKey(
  context: CoreContext,
  userId: string,
  requested: string | undefined,
  model?: string,
): Promise<Resolved> {
  return (await resolveChain(context, userId, requested, model)).candidates[0]!;
}

/**
 * Whether the chain has a key for `provider` (for any configured provider when omitted), whatever the model: the
 * user's, the team's, or (where the client allows it) the app's.
 */
export async function hasKey(context: CoreContext, userId: string, provider: string | undefined): Promise<boolean> {
  const [own, team] = await ownAndTeamOf(context, userId);
  const platform = context.platform === true ? context.platformKeys : undefined;
  const ids =
    provider !== undefined ? [provider] : [...[...own, ...team].map((r) => r.provider), ...context.providers.keys()];
  return ids.some(
    (id) => context.providers.has(id) && (platform?.has(id) || candidatesOf(own, team, id, undefined).length > 0),
  );
}

/** KEY_NOT_FOUND for a named provider: `provider` and `details.fields` say which, on every route alike. */
export function keyNotFound(
  provider: string,
  message = "The user has no key for the requested provider; register one first (byok.registerKey or the router's keys route).",
): ByokError {
  return new ByokError("KEY_NOT_FOUND", message, { provider, details: { fields: ["provider"] } });
}

/** UNAUTHENTICATED: a call or byok route without a signed-in user. */
export const unauthenticated = (): ByokError =>
  new ByokError(
    "UNAUTHENTICATED",
    "No signed-in user: getUserId returned nothing. Sign the user in before the byok routes and req.ai.",
  );

/** The checked user id, or UNAUTHENTICATED when there is none. */
export function userOf(rawUserId: string | undefined): string {
  if (rawUserId === undefined) throw unauthenticated();
  return checkUserId(rawUserId);
}

/** `lastUsedAt` is written at most once per this interval per key: a store write on every chat would double the store traffic. */
export const TOUCH_INTERVAL_MS = 60_000;

/** Whether a record last used at `lastUsedAt` (ISO, or never) needs its `lastUsedAt` written now. */
export function needsTouch(lastUsedAt: string | undefined, now: number): boolean {
  if (lastUsedAt === undefined) return true;
  const last = Date.parse(lastUsedAt);
  return !(now - last < TOUCH_INTERVAL_MS); // also true for an unparsable date (NaN)
}

/**
 * Writes `lastUsedAt` when it is due (see {@link needsTouch}), without waiting for the store and
 * without failing the call.
 * @returns the `lastUsedAt` the record has now, as far as this call knows
 */
export function touchIfDue(
  context: CoreContext,
  record: KeyRecord,
  lastUsedAt: string | undefined,
): string | undefined {
  const now = Date.now();
  const { store } = context;
  if (!store.touch || !needsTouch(lastUsedAt, now) || isPlatformRecord(record)) return lastUsedAt;
  const at = new Date(now).toISOString();
  const { userId, provider, label } = record;
  void context.background.track(
    storeCall("touch", () => store.touch!(userId, provider, at, label)).catch((e: unknown) =>
      debug("lastUsedAt update failed: %s", ByokError.is(e) ? e.code : "error"),
    ),
  );
  return at;
}
