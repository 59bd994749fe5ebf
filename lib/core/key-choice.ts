// Which stored key a call uses (the provider choice rule), and when its lastUsedAt is due: shared by chat and connection.
import { debuglog } from "node:util";
import { ByokError } from "../errors.js";
import { checkRecordEndpoint, type CoreContext, providerFor, storeCall } from "./context.js";
import type { KeyRecord, Provider } from "./types.js";
import { checkUserId } from "./validate.js";

const debug = debuglog("byok");

/** A provider and the user's record for it. */
export interface Resolved {
  id: string;
  provider: Provider;
  record: KeyRecord;
}

/** Picks the provider and its record: the one asked for, else `defaultProvider` if the user has it, else the user's only key. */
export async function resolveKey(
  context: CoreContext,
  userId: string,
  requested: string | undefined,
): Promise<Resolved> {
  if (requested !== undefined) {
    const provider = providerFor(context, requested);
    const record = await storeCall("get", () => context.store.get(userId, requested));
    if (!record) throw keyNotFound(requested);
    checkRecordEndpoint(provider, record);
    return { id: requested, provider, record };
  }
  const records = (await storeCall("list", () => context.store.list(userId))).filter((r) =>
    context.providers.has(r.provider),
  );
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
  const provider = providerFor(context, record.provider);
  checkRecordEndpoint(provider, record);
  return { id: record.provider, provider, record };
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
  userId: string,
  provider: string,
  lastUsedAt: string | undefined,
): string | undefined {
  const now = Date.now();
  const { store } = context;
  if (!store.touch || !needsTouch(lastUsedAt, now)) return lastUsedAt;
  const at = new Date(now).toISOString();
  void storeCall("touch", () => store.touch!(userId, provider, at)).catch((e: unknown) =>
    debug("lastUsedAt update failed: %s", ByokError.is(e) ? e.code : "error"),
  );
  return at;
}
