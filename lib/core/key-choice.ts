// Which stored key a call uses (the provider choice rule), and when its lastUsedAt is due: shared by chat and connection.
import { debuglog } from "node:util";
import { ByokError } from "../errors.js";
import { checkRecordEndpoint, type CoreContext, providerFor, storeCall } from "./context.js";
import { ownerOf, teamOwnerId } from "./owner.js";
import type { KeyRecord, KeyStore, Provider } from "./types.js";
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

/**
 * Every record a call of `userId` may use, one per provider: the user's own, then (with the client's
 * `teamId`) the team's for the providers the user has no own key for. Both lists are read together
 * (one round trip on Redis), or taken from the client's {@link KeyChain}. The app decides membership on
 * every call: nothing is cached.
 */
export async function usableRecords(context: CoreContext, userId: string): Promise<KeyRecord[]> {
  const { teamId } = context;
  const [own, team] = await (context.keyChain?.take(userId, teamId) ?? ownAndTeam(context.store, userId, teamId));
  const byProvider = new Map<string, KeyRecord>();
  for (const record of [...team, ...own]) byProvider.set(record.provider, record); // own keys win
  return [...byProvider.values()];
}

/**
 * The record of `userId` (else, with the client's `teamId`, of the team) for one provider, or
 * `undefined`. With a team both are read together (one round trip on Redis); with the client's
 * {@link KeyChain}, found in it.
 */
export async function usableRecord(
  context: CoreContext,
  userId: string,
  provider: string,
): Promise<KeyRecord | undefined> {
  const { teamId } = context;
  const ahead = context.keyChain?.take(userId, teamId);
  if (ahead) {
    const [own, team] = await ahead;
    return own.find((r) => r.provider === provider) ?? team.find((r) => r.provider === provider);
  }
  const [own, team] = await Promise.all([
    storeCall("get", () => context.store.get(userId, provider)),
    teamId === undefined ? undefined : storeCall("get", () => context.store.get(teamOwnerId(teamId), provider)),
  ]);
  return own ?? team;
}

/**
 * Picks the provider and its record: the one asked for, else `defaultProvider` if the user (or the
 * team) has it, else the only provider with a key. The user's own key wins over the team's.
 */
export async function resolveKey(
  context: CoreContext,
  userId: string,
  requested: string | undefined,
): Promise<Resolved> {
  if (requested !== undefined) {
    const provider = providerFor(context, requested);
    const record = await usableRecord(context, userId, requested);
    if (!record) throw keyNotFound(requested);
    return resolved(requested, provider, record);
  }
  const records = (await usableRecords(context, userId)).filter((r) => context.providers.has(r.provider));
  const record =
    records.find((r) => r.provider === context.defaultProvider) ?? (records.length === 1 ? records[0] : undefined);
  if (!record) {
    throw new ByokError(
      "KEY_NOT_FOUND",
      records.length === 0
        ? "The user has no API key yet; register one first (byok.registerKey or the router's keys route)."
        : `The user has keys for several providers (${records.map((r) => r.provider).join(", ")}); pass \`provider\` to pick one.`,
    );
  }
  return resolved(record.provider, providerFor(context, record.provider), record);
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
  { userId, provider, label }: KeyRecord,
  lastUsedAt: string | undefined,
): string | undefined {
  const now = Date.now();
  const { store } = context;
  if (!store.touch || !needsTouch(lastUsedAt, now)) return lastUsedAt;
  const at = new Date(now).toISOString();
  void storeCall("touch", () => store.touch!(userId, provider, at, label)).catch((e: unknown) =>
    debug("lastUsedAt update failed: %s", ByokError.is(e) ? e.code : "error"),
  );
  return at;
}
