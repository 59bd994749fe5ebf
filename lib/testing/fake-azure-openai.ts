// The Azure OpenAI data plane for the fake upstream: deployments' chat completions and the models list, api-key auth, api-version required.
import {
  type FakeProtocol,
  type FakeUpstream,
  type FakeUpstreamOptions,
  retryAfterHeader,
  startFakeUpstream,
} from "./fake-upstream.js";
import { openaiProtocol, openaiRefusal } from "./fake-openai.js";

const DEPLOYMENT_CHAT = /^\/openai\/deployments\/([^/]+)\/chat\/completions$/;
const sse = (data: unknown) => `data: ${JSON.stringify(data)}\n\n`;

/** Azure OpenAI as the openai SDK's AzureOpenAI client calls it. */
const azureProtocol: FakeProtocol = {
  ...openaiProtocol,
  route(method, url, body) {
    if (!url.searchParams.get("api-version")) return undefined; // Azure answers 404 without one
    const path = url.pathname.replace(/\/$/, "");
    if (method === "GET" && path === "/openai/models") return { op: "validate", model: "" };
    const deployment = DEPLOYMENT_CHAT.exec(path)?.[1];
    if (method !== "POST" || deployment === undefined) return undefined;
    const op = (body as { stream?: unknown } | undefined)?.stream === true ? "stream" : "chat";
    return { op, model: decodeURIComponent(deployment) };
  },
  apiKey: (request) => {
    const key = request.headers["api-key"];
    return typeof key === "string" ? key : undefined;
  },
  rejectedKey: () => ({
    status: 401,
    body: {
      error: {
        code: "401",
        message:
          "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.",
      },
    },
  }),
  // Azure's rate limit names the wait in its message and in retry-after; out of quota reads as OpenAI's.
  refusal: (kind, retryAfter) =>
    kind === "quota"
      ? openaiRefusal(kind)
      : {
          status: 429,
          body: {
            error: {
              code: "429",
              message: `Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after ${retryAfter ?? 60} seconds.`,
            },
          },
          headers: retryAfterHeader(retryAfter),
        },
  validateBody: () => ({
    object: "list",
    data: [{ id: "gpt-4o-mini", object: "model", created_at: 0, status: "succeeded" }],
  }),
  streamFrames(reply) {
    const frames = openaiProtocol.streamFrames(reply);
    // Azure opens every stream with a chunk of content-filter results and no choices.
    const filters = { prompt_index: 0, content_filter_results: {} };
    return {
      ...frames,
      start: () => sse({ id: "", object: "", created: 0, model: "", prompt_filter_results: [filters], choices: [] }),
    };
  },
};

/**
 * Starts a fake Azure OpenAI resource on 127.0.0.1: `POST /openai/deployments/<deployment>/chat/completions`
 * (JSON or SSE) and `GET /openai/models`, both needing `?api-version=` and the key in `api-key`. Keys
 * starting with `bad` or `invalid` get Azure's 401. The deployment name is the model the answer names.
 *
 * A key's endpoint is the fake's `url`; since it is http on loopback, the provider must allow it:
 * `providers: { "azure-openai": { userEndpoints: { hosts: ["127.0.0.1"], allowPrivateNetwork: true } } }`.
 *
 * @example
 * ```ts
 * const fake = await startFakeAzureOpenAI();
 * const byok = new BYOK({
 *   masterKey,
 *   providers: { "azure-openai": { userEndpoints: { hosts: ["127.0.0.1"], allowPrivateNetwork: true } } },
 * });
 * await byok.registerKey({ userId: "u1", provider: "azure-openai", apiKey, endpoint: fake.url });
 * ```
 */
export function startFakeAzureOpenAI(options?: FakeUpstreamOptions): Promise<FakeUpstream> {
  return startFakeUpstream(azureProtocol, options);
}
