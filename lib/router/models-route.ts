// Handler of GET {basePath}/models: the models the signed-in user's key can use.
import { ByokError } from "../errors.js";
import { asyncRoute } from "./async-route.js";
import "./express-augment.js";
import { sendJson } from "./send-json.js";

/** `GET {basePath}/models?provider=`: `200 { models: [{ id, provider, displayName? }] }`; provider chosen as for a chat when omitted. */
export function modelsRoute() {
  return asyncRoute(async (req, res) => {
    const provider = req.query.provider;
    if (provider !== undefined && typeof provider !== "string") {
      throw new ByokError("INVALID_REQUEST", "Give ?provider= once, as a provider id.", {
        details: { fields: ["provider"] },
      });
    }
    sendJson(res, 200, { models: await req.ai.models(provider) });
  });
}
