// Handler of GET {basePath}/models: the models the signed-in user's key can use.
import { providerQuery } from "./provider-query.js";
import type { RouteAnswer, RouteInput } from "./route-layer.js";

/** `GET {basePath}/models?provider=`: `200 { models: [{ id, provider, displayName? }] }`; provider chosen as for a chat when omitted. */
export async function modelsRoute(input: RouteInput): Promise<RouteAnswer> {
  return { status: 200, json: { models: await input.ai.models(providerQuery(input.query)) } };
}
