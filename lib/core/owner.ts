// Who owns a record: a user, or a team. Both live in the same stores; a team's records under an owner id no user id can be.
import { checkOwnerId, TEAM_OWNER_MARK } from "./validate.js";

/** The store owner id of `teamId`'s records. */
export const teamOwnerId = (teamId: string): string => `${TEAM_OWNER_MARK}${teamId}`;

/** Whose a record is, from the owner id it is stored under: `{ userId }` or `{ teamId }`. */
export function ownerOf(
  ownerId: string,
): { userId: string; teamId?: undefined } | { teamId: string; userId?: undefined } {
  return ownerId.startsWith(TEAM_OWNER_MARK) ? { teamId: ownerId.slice(TEAM_OWNER_MARK.length) } : { userId: ownerId };
}

/**
 * An owner id as one opaque, safe key part: `{<base64url of its UTF-8>}`. No id can spell another's, none can break
 * a Redis Cluster hash tag, and a key-value store needs no escaping. The router's rate-limit counters are keyed by
 * it, and RedisStore's keys hold it.
 */
export function encodedOwnerId(ownerId: string): string {
  return `{${Buffer.from(checkOwnerId(ownerId), "utf8").toString("base64url")}}`;
}
