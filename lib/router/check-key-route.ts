// POST {basePath}/keys/check: re-validates the signed-in user's stored key with its provider and answers its KeyInfo.
import type { CoreContext } from "../core/context.js";
import { checkKey } from "../core/key-health.js";
import { asyncRoute } from "./async-route.js";
import { userIdOf } from "./request-user.js";
import { sendJson } from "./send-json.js";

/** The handler: `200 KeyInfo` with the status found (`ok`, `invalid` or `unreadable`). */
export function checkKeyRoute(context: CoreContext) {
  return asyncRoute(async (req, res) => {
    const { provider } = req.body as { provider: string };
    sendJson(res, 200, await checkKey(context, userIdOf(req), provider));
  });
}
