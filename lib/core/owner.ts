// Who owns a record: a user, or a team. Both live in the same stores; a team's records under an owner id no user id can be.
import { TEAM_OWNER_MARK } from "./validate.js";

/** The store owner id of `teamId`'s records. */
export const teamOwnerId = (teamId: string): string => `${TEAM_OWNER_MARK}${teamId}`;

/** Whose a record is, from the owner id it is stored under: `{ userId }` or `{ teamId }`. */
export function ownerOf(
  ownerId: string,
): { userId: string; teamId?: undefined } | { teamId: string; userId?: undefined } {
  return ownerId.startsWith(TEAM_OWNER_MARK) ? { teamId: ownerId.slice(TEAM_OWNER_MARK.length) } : { userId: ownerId };
}
