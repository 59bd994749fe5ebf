// Handler of GET {basePath}/models: the models the signed-in user's key can use.
import { asyncRoute } from "./async-route.js";
import "./express-augment.js";
import { providerQuery } from "./provider-query.js";
import { sendJson } from "./send-json.js";

/** `GET {basePath}/models?provider=`: `200 { models: [{ id, provider, displayName? }] }`; provider chosen as for a chat when omitted. */
export function modelsRoute() {
  return asyncRoute(async (req, res) => {
    sendJson(res, 200, { models: await req.ai.models(providerQuery(req)) });
  });
}
