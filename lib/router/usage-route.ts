// Handler of GET {basePath}/usage: the signed-in user's usage rows, or with ?team=1 the request's team's, for a team manager.
import type { BYOK } from "../byok.js";
import { invalid } from "../core/validate.js";
import { queryValue } from "./provider-query.js";
import { checkManager, noTeam, type RouteAnswer, type RouteInput } from "./route-layer.js";

/** `?from=` / `?to=`: absent or empty is the core's default; the core checks the day itself (and names the field). */
function dayQuery(query: URLSearchParams, name: "from" | "to"): { from?: string } | { to?: string } {
  const value = queryValue(query, name, "a day YYYY-MM-DD (UTC)");
  return value === undefined || value === "" ? {} : { [name]: value };
}

/** `?team=1` (or `true`): the team's rows; absent, `0` or `false`: the user's own. */
function wantsTeam(query: URLSearchParams): boolean {
  const value = queryValue(query, "team", "1 for the team's usage");
  if (value === undefined || value === "" || value === "0" || value === "false") return false;
  if (value === "1" || value === "true") return true;
  throw invalid("?team= takes 1 (the team's usage) or 0 (your own).", ["team"]);
}

/**
 * `GET {basePath}/usage?from=&to=` → `200 { usage: UsageRow[] }`: the signed-in user's rows (their own
 * keys and the team keys they used), through `byok.usage({ userId })`. With `?team=1`, the request's
 * team's rows (every member's use of its keys) through `byok.usage({ teamId })`, only for a request
 * `canManageTeamKeys` allows (else `403 FORBIDDEN`); no team on the request: `404 NO_TEAM`. Other query
 * parameters are ignored, as on every byok route. With usage off (`usage: false`) the core's
 * CONFIG_INVALID answers 500: the app asked for a route its configuration does not serve.
 */
export function usageRoute(byok: BYOK) {
  return async (input: RouteInput): Promise<RouteAnswer> => {
    const range = { ...dayQuery(input.query, "from"), ...dayQuery(input.query, "to") };
    if (!wantsTeam(input.query))
      return { status: 200, json: { usage: await byok.usage({ userId: input.userId, ...range }) } };
    const teamId = await input.teamId();
    if (teamId === undefined) throw noTeam();
    await checkManager(input.canManage, "read the team's usage");
    return { status: 200, json: { usage: await byok.usage({ teamId, ...range }) } };
  };
}
