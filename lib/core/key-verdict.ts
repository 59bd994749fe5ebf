// What a provider's answer says about the key that made the call: invalid, out of quota, rate limited, or fine.
import type { StoredKeyStatus } from "./types.js";

/** The statuses a store keeps, for stores checking what they read back. */
const STORED: ReadonlySet<string> = new Set<StoredKeyStatus>(["invalid", "quota_exhausted", "rate_limited"]);

/**
 * The `status` and `statusUntil` a store read back, as a record carries them: a value that is not a
 * {@link StoredKeyStatus} is no status at all ("ok"), and `statusUntil` only comes with a status.
 */
export function storedStatusOf(
  status: unknown,
  statusUntil: unknown,
): { status?: StoredKeyStatus; statusUntil?: string } {
  if (typeof status !== "string" || !STORED.has(status)) return {};
  const out: { status?: StoredKeyStatus; statusUntil?: string } = { status: status as StoredKeyStatus };
  if (typeof statusUntil === "string" && statusUntil !== "") out.statusUntil = statusUntil;
  return out;
}
