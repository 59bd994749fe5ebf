// Handlers of the key-settings routes: register (201/200, through the core: the public method has no "replaced"), list, delete (204/404).
import type { Request } from "express";
import type { CoreContext } from "../core/context.js";
import { deleteKey, listKeys, registerKey } from "../core/keys.js";
import { checkProviderId } from "../core/validate.js";
import { ByokError } from "../errors.js";
import { asyncRoute } from "./async-route.js";
import { forRequest } from "./request-id.js";
import { userIdOf } from "./request-user.js";
import { sendJson } from "./send-json.js";

/** The provider to delete: from the body or `?provider=`; both and different is a 400. */
function providerToDelete(req: Request): string {
  const fromBody = (req.body as { provider?: unknown } | undefined)?.provider;
  const fromQuery = req.query.provider;
  if (fromQuery !== undefined && typeof fromQuery !== "string") {
    throw new ByokError("INVALID_REQUEST", "Give ?provider= once, as a provider id.", {
      details: { fields: ["provider"] },
    });
  }
  if (fromBody !== undefined && fromQuery !== undefined && fromBody !== fromQuery) {
    throw new ByokError("INVALID_REQUEST", "The provider in the body and in the query differ; give it once.", {
      details: { fields: ["provider"] },
    });
  }
  const provider = fromBody ?? fromQuery;
  if (provider === undefined)
    throw new ByokError("INVALID_REQUEST", 'Name the key to delete: { "provider": … } in the body or ?provider=.', {
      details: { fields: ["provider"] },
    });
  return checkProviderId(provider);
}

/** `POST`, `GET` and `DELETE {basePath}/keys` for the signed-in user. */
export function keysRoutes(context: CoreContext) {
  return {
    register: asyncRoute(async (req, res) => {
      const { provider, apiKey, endpoint } = req.body as { provider: string; apiKey: string; endpoint?: string };
      // A client that leaves cancels the validation call, and then nothing is stored.
      const gone = new AbortController();
      res.on("close", () => {
        if (!res.writableFinished) gone.abort(new DOMException("The client disconnected.", "AbortError"));
      });
      try {
        const { info, replaced } = await registerKey(
          forRequest(context, req),
          { userId: userIdOf(req), provider, apiKey, ...(endpoint === undefined ? {} : { endpoint }) },
          gone.signal,
        );
        sendJson(res, replaced ? 200 : 201, info);
      } catch (error) {
        if (gone.signal.aborted) return; // nobody is left to answer
        throw error;
      }
    }),
    list: asyncRoute(async (req, res) => {
      sendJson(res, 200, { keys: await listKeys(context, userIdOf(req)) });
    }),
    remove: asyncRoute(async (req, res) => {
      const provider = providerToDelete(req);
      if (!(await deleteKey(forRequest(context, req), { userId: userIdOf(req), provider }))) {
        // No `provider` here: it may be one this server does not configure, and answers never repeat what was sent.
        throw new ByokError("KEY_NOT_FOUND", "The user has no key for that provider to delete.", {
          details: { fields: ["provider"] },
        });
      }
      res.statusCode = 204;
      res.end();
    }),
  };
}
