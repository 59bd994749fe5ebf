// Handlers of the key-settings routes, each a client of BYOK's public API: register (201/200), list, delete (204/404), check.
import type { BYOK } from "../byok.js";
import type { KeyOwner, RegisterKeyFields } from "../core/keys.js";
import type { Credential } from "../core/types.js";
import { ByokError } from "../errors.js";
import { invalid } from "../core/validate.js";
import { queryValue } from "./provider-query.js";
import type { RouteAnswer, RouteInput } from "./route-layer.js";

/** The provider to delete: from the body or `?provider=`; both and different is a 400. */
/** `name` from the body or the query (the same when both); both and different: INVALID_REQUEST naming it. */
function bodyOrQuery(input: RouteInput, name: "provider" | "label"): string | undefined {
  const fromBody = (input.body as Record<string, string | undefined>)[name];
  const fromQuery = queryValue(input.query, name);
  if (fromBody !== undefined && fromQuery !== undefined && fromBody !== fromQuery) {
    throw invalid(`The ${name} in the body and in the query differ; give it once.`, [name]);
  }
  return fromBody ?? fromQuery;
}

/** The key(s) a `DELETE` names: a provider, and optionally one label (else every key of that provider). */
function keyToDelete(input: RouteInput): { provider: string; label?: string } {
  const provider = bodyOrQuery(input, "provider");
  if (provider === undefined)
    throw invalid('Name the key to delete: { "provider": … } in the body or ?provider=.', ["provider"]);
  const label = bodyOrQuery(input, "label");
  return label === undefined ? { provider } : { provider, label };
}

/** Whose keys a keys route works on: the signed-in user's own, or (team routes) the request's team's. */
type RouteOwner = (input: RouteInput) => Promise<KeyOwner & { actorId?: string }>;

/** The user's own keys. */
const userOwner: RouteOwner = async (input) => ({ userId: input.userId });

/** The request's team's keys, changed by the signed-in member; only on team routes (which require a team). */
const teamOwner: RouteOwner = async (input) => ({ teamId: (await input.teamId())!, actorId: input.userId });

/** `POST` (register), `DELETE` (remove) and `GET` (list) of one owner's keys. */
function ownerKeysRoutes(byok: BYOK, ownerOf: RouteOwner) {
  return {
    async register(input: RouteInput): Promise<RouteAnswer> {
      const { provider, apiKey, credential, ...settings } = input.body as Pick<
        RegisterKeyFields,
        "provider" | "endpoint" | "label" | "priority" | "expiresAt" | "models"
      > & { apiKey?: string; credential?: Credential };
      // A client that leaves cancels the validation call, and then nothing is stored.
      const { replaced, ...info } = await byok.registerKey({
        ...(await ownerOf(input)),
        provider,
        ...(apiKey === undefined ? {} : { apiKey }),
        ...(credential === undefined ? {} : { credential }),
        ...settings,
        signal: input.signal(),
        requestId: input.requestId,
      });
      return { status: replaced ? 200 : 201, json: info };
    },
    async remove(input: RouteInput): Promise<RouteAnswer> {
      const key = keyToDelete(input);
      const { provider } = key;
      if (!(await byok.deleteKey({ ...(await ownerOf(input)), ...key, requestId: input.requestId }))) {
        // As a chat's KEY_NOT_FOUND; `provider` only when configured: answers never repeat an arbitrary value sent.
        throw new ByokError("KEY_NOT_FOUND", "There is no such key to delete.", {
          ...(byok.providers.includes(provider) ? { provider } : {}),
          details: { fields: ["provider"] },
        });
      }
      return { status: 204 };
    },
    async list(input: RouteInput): Promise<RouteAnswer> {
      const { actorId: _actor, ...owner } = await ownerOf(input);
      return { status: 200, json: { keys: await byok.listKeys(owner) } };
    },
  };
}

/**
 * `POST`, `GET` and `DELETE {basePath}/keys` and `POST {basePath}/keys/check` for the signed-in user.
 * `GET` adds the request's team's keys as `teamKeys` when it has a team.
 */
export function keysRoutes(byok: BYOK) {
  const own = ownerKeysRoutes(byok, userOwner);
  return {
    register: own.register,
    remove: own.remove,
    async list(input: RouteInput): Promise<RouteAnswer> {
      const teamId = await input.teamId();
      const [keys, teamKeys] = await Promise.all([
        byok.listKeys(input.userId),
        teamId === undefined ? undefined : byok.listKeys({ teamId }),
      ]);
      return { status: 200, json: teamKeys === undefined ? { keys } : { keys, teamKeys } };
    },
    /** `200 KeyInfo` with the status found (`ok`, `invalid`, `quota_exhausted` or `unreadable`). */
    async check(input: RouteInput): Promise<RouteAnswer> {
      const { provider } = input.body as { provider: string };
      return { status: 200, json: await input.ai.checkKey(provider) };
    },
  };
}

/**
 * `POST`, `GET` and `DELETE {basePath}/team/keys`: the request's team's keys. Any member lists them
 * (hints only); only a request `canManageTeamKeys` allows changes them (else `403 FORBIDDEN`); a request
 * without a team is `404 NO_TEAM` (both checked by the route layer first). Who did it is the `userId` of
 * the events, the team their `teamId`.
 */
export const teamKeysRoutes = (byok: BYOK) => ownerKeysRoutes(byok, teamOwner);
