// Handlers of the key-settings routes, each a client of BYOK's public API: register (201/200), list, delete (204/404), check.
import type { NextFunction, Request, Response } from "express";
import type { BYOK } from "../byok.js";
import type { KeyOwner } from "../core/keys.js";
import { ByokError } from "../errors.js";
import { invalid } from "../core/validate.js";
import { asyncRoute } from "./async-route.js";
import { providerQuery } from "./provider-query.js";
import { requestIdOf } from "./request-id.js";
import { clientGone, teamIdOf, userIdOf } from "./request-user.js";
import { sendJson } from "./send-json.js";

/** The provider to delete: from the body or `?provider=`; both and different is a 400. */
function providerToDelete(req: Request): string {
  const fromBody = (req.body as { provider?: string }).provider;
  const fromQuery = providerQuery(req);
  if (fromBody !== undefined && fromQuery !== undefined && fromBody !== fromQuery) {
    throw invalid("The provider in the body and in the query differ; give it once.", ["provider"]);
  }
  const provider = fromBody ?? fromQuery;
  if (provider === undefined)
    throw invalid('Name the key to delete: { "provider": … } in the body or ?provider=.', ["provider"]);
  return provider;
}

/** Whose keys a keys route works on: the signed-in user's own, or (team routes) the request's team's. */
type RouteOwner = (req: Request) => KeyOwner & { actorId?: string };

/** The user's own keys. */
const userOwner: RouteOwner = (req) => ({ userId: userIdOf(req) });

/** The request's team's keys, changed by the signed-in member; only after {@link requireTeam}. */
const teamOwner: RouteOwner = (req) => ({ teamId: requestTeamOf(req), actorId: userIdOf(req) });

/** `POST` (register), `DELETE` (remove) and `GET` (list) of one owner's keys. */
function ownerKeysRoutes(byok: BYOK, ownerOf: RouteOwner) {
  return {
    register: asyncRoute(async (req, res) => {
      const { provider, apiKey, endpoint } = req.body as { provider: string; apiKey: string; endpoint?: string };
      // A client that leaves cancels the validation call, and then nothing is stored.
      const signal = clientGone(req, res);
      try {
        const { replaced, ...info } = await byok.registerKey({
          ...ownerOf(req),
          provider,
          apiKey,
          ...(endpoint === undefined ? {} : { endpoint }),
          signal,
          requestId: requestIdOf(req),
        });
        sendJson(res, replaced ? 200 : 201, info);
      } catch (error) {
        if (signal.aborted) return; // nobody is left to answer
        throw error;
      }
    }),
    remove: asyncRoute(async (req, res) => {
      const provider = providerToDelete(req);
      if (!(await byok.deleteKey({ ...ownerOf(req), provider, requestId: requestIdOf(req) }))) {
        // As a chat's KEY_NOT_FOUND; `provider` only when configured: answers never repeat an arbitrary value sent.
        throw new ByokError("KEY_NOT_FOUND", "There is no key for that provider to delete.", {
          ...(byok.providers.includes(provider) ? { provider } : {}),
          details: { fields: ["provider"] },
        });
      }
      res.statusCode = 204;
      res.end();
    }),
    list: asyncRoute(async (req, res) => {
      const { actorId: _actor, ...owner } = ownerOf(req);
      sendJson(res, 200, { keys: await byok.listKeys(owner) });
    }),
  };
}

/**
 * `POST`, `GET` and `DELETE {basePath}/keys` and `POST {basePath}/keys/check` for the signed-in user.
 * `GET` adds the request's team's keys as `teamKeys` when it has a team.
 */
export function keysRoutes(byok: BYOK, getTeamId: (req: Request) => unknown) {
  const own = ownerKeysRoutes(byok, userOwner);
  return {
    register: own.register,
    remove: own.remove,
    list: asyncRoute(async (req, res) => {
      const teamId = teamIdOf(req, getTeamId);
      const [keys, teamKeys] = await Promise.all([
        byok.listKeys(userIdOf(req)),
        teamId === undefined ? undefined : byok.listKeys({ teamId }),
      ]);
      sendJson(res, 200, teamKeys === undefined ? { keys } : { keys, teamKeys });
    }),
    /** `200 KeyInfo` with the status found (`ok`, `invalid`, `quota_exhausted` or `unreadable`). */
    check: asyncRoute(async (req, res) => {
      const { provider } = req.body as { provider: string };
      sendJson(res, 200, await req.ai.checkKey(provider));
    }),
  };
}

/** The answer to a team route on a request without a team. */
export const noTeam = (): ByokError =>
  new ByokError("NO_TEAM", "This request has no team (getTeamId returned nothing): there are no team keys.");

const TEAM = Symbol("byok-ai.team");
type WithTeam = Request & { [TEAM]?: string };

/** The team {@link requireTeam} found; only valid after it ran. */
function requestTeamOf(req: Request): string {
  const teamId = (req as WithTeam)[TEAM];
  if (teamId === undefined) throw new ByokError("INTERNAL", "requestTeamOf called before requireTeam.");
  return teamId;
}

/**
 * @param action - what a manager may do, for the message, e.g. "read the team's usage"
 * @throws ByokError FORBIDDEN unless `canManage(req)` is `true`
 */
export async function checkManager(
  req: Request,
  canManage: (req: Request) => boolean | Promise<boolean>,
  action: string,
): Promise<void> {
  if ((await canManage(req)) !== true)
    throw new ByokError("FORBIDDEN", `Only a team member canManageTeamKeys allows may ${action}.`);
}

/**
 * `POST`, `GET` and `DELETE {basePath}/team/keys`: the request's team's keys. Any member lists them
 * (hints only); only a request `canManageTeamKeys` allows changes them (else `403 FORBIDDEN`); a request
 * without a team is `404 NO_TEAM`. Who did it is the `userId` of the events, the team their `teamId`.
 */
export function teamKeysRoutes(
  byok: BYOK,
  getTeamId: (req: Request) => unknown,
  canManage: (req: Request) => boolean | Promise<boolean>,
) {
  const requireTeam = (req: Request, _res: Response, next: NextFunction): void => {
    const teamId = teamIdOf(req, getTeamId);
    if (teamId === undefined) throw noTeam();
    (req as WithTeam)[TEAM] = teamId;
    next();
  };
  const requireManager = asyncRoute(async (req, _res, next) => {
    await checkManager(req, canManage, "add or remove the team's keys");
    next();
  });
  return { requireTeam, requireManager, ...ownerKeysRoutes(byok, teamOwner) };
}
