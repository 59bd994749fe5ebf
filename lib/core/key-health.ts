// Key health: learns from every call whether the provider refused a stored key (or accepts it again), and re-checks a key on demand.
import { debuglog } from "node:util";
import { ByokError } from "../errors.js";
import { type CoreContext, providerFor, sealContextOf, storeCall } from "./context.js";
import { callWithDeadline } from "./deadline.js";
import { type Operation, startOperation } from "./events.js";
import { keyNaming, resolveKey, whoCalled } from "./key-choice.js";
import { currentStatus, type KeyHealth, keyVerdictOf, type KeyVerdict, type LearnedStatus } from "./key-verdict.js";
import { ownerOf } from "./owner.js";
import { isPlatformRecord } from "./platform-keys.js";
import { toKeyInfo } from "./keys.js";
import type { KeyInfo, KeyRecord } from "./types.js";
import { checkProviderId } from "./validate.js";

const debug = debuglog("byok");

/**
 * How long a key stays `"rate_limited"` when the provider's 429 named no wait (no `Retry-After`, no
 * `RetryInfo`): a minute, the window of most providers' per-minute limits.
 */
export const DEFAULT_RATE_LIMIT_SECONDS = 60;

/** The key a call used: its provider id, record and, for a team key, the team. */
interface UsedKey {
  id: string;
  record: KeyRecord;
  teamId?: string;
}

/**
 * Moves `used`'s key to `next` when that is a change from `health` (the record's, unless a connection
 * keeps its own): writes it (compare-and-set on the ciphertext used, so a key the user replaced
 * meanwhile keeps its own status), updates `health`, and emits one `key.status_changed`. Answers the
 * write, `undefined` when nothing changed or the store keeps no statuses.
 */
function changeStatus(
  context: CoreContext,
  operation: Operation,
  userId: string,
  used: UsedKey,
  next: LearnedStatus,
  retryAfter: number | undefined,
  health: KeyHealth = { status: used.record.status, statusUntil: used.record.statusUntil },
): Promise<void> | undefined {
  const { store } = context;
  // A rate limit whose statusUntil passed is usable ("ok" to the key chain) but still stored: a new
  // rate limit starts a new period from "ok", and anything else (a success included) is a change
  // from "rate_limited", written and announced.
  const previousStatus = next === "rate_limited" ? currentStatus(health) : (health.status ?? "ok");
  if (next === previousStatus || !store.setStatus) return undefined;
  const { record } = used;
  const statusUntil =
    next === "rate_limited"
      ? new Date(Date.now() + (retryAfter ?? DEFAULT_RATE_LIMIT_SECONDS) * 1000).toISOString()
      : undefined;
  health.status = next === "ok" ? undefined : next;
  health.statusUntil = statusUntil;
  const write = storeCall("setStatus", () =>
    store.setStatus!(record.userId, record.provider, record.ciphertext, next, statusUntil, record.label),
  );
  context.emit("key.status_changed", operation, {
    ...whoCalled(userId, used),
    ...keyNaming(used),
    provider: used.id,
    hint: record.hint,
    status: next,
    previousStatus,
    ...(statusUntil === undefined ? {} : { statusUntil }),
  });
  return write;
}

/**
 * After any call with a stored key (chat, stream, model listing, a `connection()` request): `"ok"` when
 * it worked, else the failure, whose verdict (see `keyVerdictOf`) may say the key is invalid, out of
 * quota or rate limited (or that verdict itself, read from a `connection()` response); a failure that
 * says nothing about the key (abort, timeout, 5xx) changes nothing. Emits `key.status_changed` when the status changes. Not awaited (like `touch`): a status
 * write must never slow or fail the request.
 * @param health - a connection's running copy of the key's health (its record is read once, its fetch
 * sends many requests); defaults to the record's
 */
export function noteKeyOutcome(
  context: CoreContext,
  operation: Operation,
  userId: string,
  used: UsedKey,
  outcome: "ok" | KeyVerdict | { error: unknown },
  health?: KeyHealth,
): void {
  if (isPlatformRecord(used.record)) return; // the app's own key: configuration, not a stored key with a status
  const verdict: KeyVerdict | { status: "ok"; retryAfter?: undefined } | undefined =
    outcome === "ok" ? { status: "ok" } : "error" in outcome ? keyVerdictOf(outcome.error) : outcome;
  if (!verdict) return;
  const write = changeStatus(context, operation, userId, used, verdict.status, verdict.retryAfter, health);
  if (write)
    void context.background.track(
      write.catch((e: unknown) => debug("key status update failed: %s", ByokError.is(e) ? e.code : "error")),
    );
}

/**
 * `ai.checkKey(provider)`: validates the stored key with the provider (its cheapest call), stores the
 * status found and answers the KeyInfo: `"ok"`, `"invalid"` (refused), or `"quota_exhausted"` (the key
 * is good but out of quota or credit). A key that does not decrypt is answered as `"unreadable"`
 * without any upstream call. A provider failure that gives no verdict on the key is thrown: a 5xx or a
 * timeout leaves the stored status as it was; a rate limit is recorded (`"rate_limited"`), as on any call.
 * @param userId - an already checked user id
 */
export async function checkKey(context: CoreContext, userId: string, rawProvider: unknown): Promise<KeyInfo> {
  const operation = startOperation(context.requestId);
  const id = checkProviderId(rawProvider);
  const provider = providerFor(context, id);
  // The key a chat would use first: the user's own, else (with the client's team) the team's.
  const { record } = await resolveKey(context, userId, id);
  const { teamId } = ownerOf(record.userId);
  const used: UsedKey = teamId === undefined ? { id, record } : { id, record, teamId };
  const who = whoCalled(userId, used);
  let apiKey: string;
  try {
    apiKey = await context.vault.open(record.ciphertext, sealContextOf(record)); // fails closed for a broken record too
  } catch (error) {
    if (!ByokError.is(error) || error.code !== "KEY_UNREADABLE") throw error; // a key service outage is no verdict
    context.emit("key.checked", operation, { ...who, provider: id, hint: record.hint, status: "unreadable" });
    return toKeyInfo(record, "unreadable");
  }
  let status: LearnedStatus = "ok";
  try {
    const { endpoint } = record;
    await callWithDeadline(provider, id, context.signal, (signal) =>
      provider.validateKey({ apiKey, signal, endpoint }),
    );
  } catch (error) {
    const verdict = keyVerdictOf(error);
    if (verdict?.status === "rate_limited") noteKeyOutcome(context, operation, userId, used, { error });
    if (verdict?.status !== "invalid" && verdict?.status !== "quota_exhausted") throw error;
    status = verdict.status;
  }
  await changeStatus(context, operation, userId, used, status, undefined);
  context.emit("key.checked", operation, { ...who, provider: id, hint: record.hint, status });
  return toKeyInfo(record, status);
}
