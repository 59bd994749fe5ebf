// Handlers of the key-settings routes, each a client of BYOK's public API: register (201/200), list, delete (204/404), check.
import type { Request } from "express";
import type { BYOK } from "../byok.js";
import { ByokError } from "../errors.js";
import { invalid } from "../core/validate.js";
import { asyncRoute } from "./async-route.js";
import { providerQuery } from "./provider-query.js";
import { requestIdOf } from "./request-id.js";
import { clientGone, userIdOf } from "./request-user.js";
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

/** `POST`, `GET` and `DELETE {basePath}/keys` and `POST {basePath}/keys/check` for the signed-in user. */
export function keysRoutes(byok: BYOK) {
  return {
    register: asyncRoute(async (req, res) => {
      const { provider, apiKey, endpoint } = req.body as { provider: string; apiKey: string; endpoint?: string };
      // A client that leaves cancels the validation call, and then nothing is stored.
      const signal = clientGone(req, res);
      try {
        const { replaced, ...info } = await byok.registerKey({
          userId: userIdOf(req),
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
    list: asyncRoute(async (req, res) => {
      sendJson(res, 200, { keys: await byok.listKeys(userIdOf(req)) });
    }),
    remove: asyncRoute(async (req, res) => {
      const provider = providerToDelete(req);
      if (!(await byok.deleteKey({ userId: userIdOf(req), provider, requestId: requestIdOf(req) }))) {
        // As a chat's KEY_NOT_FOUND; `provider` only when configured: answers never repeat an arbitrary value sent.
        throw new ByokError("KEY_NOT_FOUND", "The user has no key for that provider to delete.", {
          ...(byok.providers.includes(provider) ? { provider } : {}),
          details: { fields: ["provider"] },
        });
      }
      res.statusCode = 204;
      res.end();
    }),
    /** `200 KeyInfo` with the status found (`ok`, `invalid` or `unreadable`). */
    check: asyncRoute(async (req, res) => {
      const { provider } = req.body as { provider: string };
      sendJson(res, 200, await req.ai.checkKey(provider));
    }),
  };
}
