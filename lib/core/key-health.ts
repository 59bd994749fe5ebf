// Key health: remembers when a provider refuses a stored key (or accepts it again), and re-checks a key on demand.
import { debuglog } from "node:util";
import { ByokError } from "../errors.js";
import { checkRecordEndpoint, type CoreContext, providerFor, sealContextOf, storeCall } from "./context.js";
import { callWithDeadline } from "./deadline.js";
import { startOperation } from "./events.js";
import { keyNotFound, usableRecord, whoCalled } from "./key-choice.js";
import { ownerOf } from "./owner.js";
import { toKeyInfo } from "./keys.js";
import type { KeyInfo, KeyRecord } from "./types.js";
import { checkProviderId } from "./validate.js";

const debug = debuglog("byok");

/** Writes `status` for `record`, awaited or not by the caller, only when it changes and the store keeps statuses. */
function saveStatus(context: CoreContext, record: KeyRecord, status: "ok" | "invalid"): Promise<void> {
  const stored = record.status === "invalid" ? "invalid" : "ok";
  const { store } = context;
  if (stored === status || !store.setStatus) return Promise.resolve();
  // Compare-and-set on the ciphertext used: a key the user replaced meanwhile keeps its own status.
  return storeCall("setStatus", () => store.setStatus!(record.userId, record.provider, record.ciphertext, status));
}

/**
 * After a chat or stream with `record`'s key: `"invalid"` when the provider refused it, `"ok"` when
 * it worked. Not awaited (like `touch`): a status write must never slow or fail the request.
 */
export function noteKeyOutcome(context: CoreContext, record: KeyRecord, status: "ok" | "invalid"): void {
  void saveStatus(context, record, status).catch((e: unknown) =>
    debug("key status update failed: %s", ByokError.is(e) ? e.code : "error"),
  );
}

/**
 * `ai.checkKey(provider)`: validates the stored key with the provider (its cheapest call), stores the
 * status found and answers the KeyInfo. A key that does not decrypt is answered as `"unreadable"`
 * without any upstream call; a provider failure that says nothing about the key (5xx, 429, timeout)
 * is thrown, and the stored status is left as it was.
 * @param userId - an already checked user id
 */
export async function checkKey(context: CoreContext, userId: string, rawProvider: unknown): Promise<KeyInfo> {
  const operation = startOperation(context.requestId);
  const id = checkProviderId(rawProvider);
  const provider = providerFor(context, id);
  // The key a chat would use: the user's own, else (with the client's team) the team's.
  const record = await usableRecord(context, userId, id);
  if (!record) throw keyNotFound(id, "The user has no key for this provider to check.");
  checkRecordEndpoint(provider, record);
  const who = whoCalled(userId, ownerOf(record.userId));
  let apiKey: string;
  try {
    apiKey = await context.vault.open(record.ciphertext, sealContextOf(record)); // fails closed for a broken record too
  } catch (error) {
    if (!ByokError.is(error) || error.code !== "KEY_UNREADABLE") throw error; // a key service outage is no verdict
    context.emit("key.checked", operation, { ...who, provider: id, hint: record.hint, status: "unreadable" });
    return toKeyInfo(record, "unreadable");
  }
  let status: "ok" | "invalid" = "ok";
  try {
    const { endpoint } = record;
    await callWithDeadline(provider, id, context.signal, (signal) =>
      provider.validateKey({ apiKey, signal, endpoint }),
    );
  } catch (error) {
    if (!ByokError.is(error) || error.code !== "KEY_REJECTED") throw error;
    status = "invalid";
  }
  await saveStatus(context, record, status);
  context.emit("key.checked", operation, { ...who, provider: id, hint: record.hint, status });
  return toKeyInfo(record, status);
}
