// A fake Amazon Bedrock (runtime Converse and ConverseStream, control-plane ListFoundationModels) that checks SigV4 signatures as AWS does.
import type { FinishReason } from "../core/types.js";
import { lazyPeer } from "../core/optional-peer.js";
import { awsError, FakeAwsCredentialIssuer, type FakeAwsCredentials } from "./fake-aws-sigv4.js";
import {
  type FakeProtocol,
  type FakeUpstream,
  type FakeUpstreamOptions,
  type ResolvedReply,
  startFakeUpstream,
} from "./fake-upstream.js";

/** Options of {@link startFakeBedrock}. */
export interface FakeBedrockOptions extends FakeUpstreamOptions {
  /**
   * The region signatures must be scoped to, as the endpoint of one AWS region checks it (a signature for
   * another region is refused with InvalidSignatureException). Defaults to any region.
   */
  region?: string;
}

/** A running fake Bedrock. */
export interface FakeBedrock extends FakeUpstream {
  /**
   * New AWS credentials the fake accepts; `{ sessionToken: true }` issues temporary ones (ASIA…), whose
   * requests must carry the session token.
   */
  credentials(options?: { sessionToken?: boolean }): FakeAwsCredentials;
  /** A new Bedrock API key (`ABSK…`), sent as `Authorization: Bearer <key>`. */
  apiKey(): string;
  /** Revokes credentials (by access key id) or an API key: AWS's 403 answers their next request. */
  revoke(accessKeyIdOrApiKey: string): void;
}

/**
 * Bedrock's TokenUsage: `inputTokens` counts the input neither read from nor written to the prompt cache, which come
 * apart (`cacheReadInputTokens`, `cacheWriteInputTokens`) when the reply sets them. Reasoning is not counted apart.
 */
const bedrockUsage = (r: ResolvedReply) => {
  const { inputTokens, outputTokens, totalTokens, cachedInputTokens, cacheWriteTokens } = r.usage;
  return {
    inputTokens: inputTokens - (cachedInputTokens ?? 0) - (cacheWriteTokens ?? 0),
    outputTokens,
    totalTokens,
    ...(cachedInputTokens === undefined ? {} : { cacheReadInputTokens: cachedInputTokens }),
    ...(cacheWriteTokens === undefined ? {} : { cacheWriteInputTokens: cacheWriteTokens }),
  };
};

const STOP: Record<FinishReason, string> = {
  stop: "end_turn",
  length: "max_tokens",
  content_filter: "content_filtered",
  other: "tool_use",
};
/** The error type AWS names for a status. */
const ERROR_TYPE: Record<number, string> = {
  400: "ValidationException",
  403: "AccessDeniedException",
  404: "ResourceNotFoundException",
  408: "ModelTimeoutException",
  424: "ModelErrorException",
  429: "ThrottlingException",
  500: "InternalServerException",
  503: "ServiceUnavailableException",
};
const typeOf = (status: number, type?: string) => type ?? ERROR_TYPE[status] ?? "InternalServerException";

const codec = lazyPeer<typeof import("@smithy/eventstream-codec")>("@smithy/eventstream-codec", "startFakeBedrock");

/** Bedrock's foundation models, as ListFoundationModels lists them. */
const MODELS = [
  ["anthropic.claude-3-5-haiku-20241022-v1:0", "Claude 3.5 Haiku", "Anthropic"],
  ["amazon.nova-lite-v1:0", "Nova Lite", "Amazon"],
  ["meta.llama3-1-8b-instruct-v1:0", "Llama 3.1 8B Instruct", "Meta"],
].map(([modelId, modelName, providerName]) => ({
  modelArn: `arn:aws:bedrock:us-east-1::foundation-model/${modelId}`,
  modelId,
  modelName,
  providerName,
  inputModalities: ["TEXT"],
  outputModalities: ["TEXT"],
  responseStreamingSupported: true,
  customizationsSupported: [],
  inferenceTypesSupported: ["ON_DEMAND"],
  modelLifecycle: { status: "ACTIVE" },
}));

const toolUse = (call: ResolvedReply["toolCalls"][number]) => ({
  toolUseId: call.id,
  name: call.name,
  input: JSON.parse(call.arguments) as unknown,
});

/** The Bedrock protocol: AWS's REST-JSON with SigV4 (or API key) auth, and AWS event streams. */
function bedrockProtocol(
  issuer: FakeAwsCredentialIssuer,
  encoder: InstanceType<typeof import("@smithy/eventstream-codec").EventStreamCodec>,
): FakeProtocol {
  const message = (headers: Record<string, string>, payload: unknown) =>
    encoder.encode({
      headers: Object.fromEntries(Object.entries(headers).map(([k, value]) => [k, { type: "string", value }])),
      body: Buffer.from(JSON.stringify(payload), "utf8"),
    });
  const event = (type: string, payload: unknown) =>
    message({ ":event-type": type, ":content-type": "application/json", ":message-type": "event" }, payload);
  return {
    route(method, url) {
      if (method === "GET" && url.pathname === "/foundation-models") return { op: "validate", model: "" };
      const m = /^\/model\/([^/]+)\/(converse|converse-stream)$/.exec(url.pathname);
      if (method !== "POST" || !m) return undefined;
      return { op: m[2] === "converse" ? "chat" : "stream", model: decodeURIComponent(m[1]!) };
    },
    apiKey: (request) => FakeAwsCredentialIssuer.keyOf(request),
    verify: (request, _url, rawBody) => issuer.verify(request, rawBody),
    lastUserText(body) {
      const messages = (body as { messages?: { role?: string; content?: { text?: string }[] }[] } | undefined)
        ?.messages;
      const last = [...(messages ?? [])].reverse().find((m) => m.role === "user");
      return (last?.content ?? []).map((c) => c.text ?? "").join("");
    },
    rejectedKey: () =>
      awsError(403, "UnrecognizedClientException", "The security token included in the request is invalid."),
    // Bedrock sends no Retry-After: a throttled caller backs off on its own.
    refusal: (kind) =>
      kind === "quota"
        ? awsError(
            400,
            "ServiceQuotaExceededException",
            "Your request exceeds the service quota for your account. You can view your quotas at Viewing service quotas. You can resubmit your request later.",
          )
        : awsError(429, "ThrottlingException", "Too many requests, please wait before trying again."),
    errorBody: (_status, text) => ({ message: text }),
    errorHeaders: (status, type) => awsError(status, typeOf(status, type), "").headers ?? {},
    validateBody: () => ({ modelSummaries: MODELS }),
    chatBody: (r) => ({
      output: {
        message: {
          role: "assistant",
          content: [
            ...(r.text || !r.toolCalls.length ? [{ text: r.text }] : []),
            ...r.toolCalls.map((c) => ({ toolUse: toolUse(c) })),
          ],
        },
      },
      stopReason: r.toolCalls.length && r.finishReason === "other" ? "tool_use" : STOP[r.finishReason],
      usage: bedrockUsage(r),
      metrics: { latencyMs: 1 },
    }),
    streamContentType: "application/vnd.amazon.eventstream",
    streamFrames: (r) => ({
      start: () => event("messageStart", { role: "assistant" }),
      chunk: (text) => event("contentBlockDelta", { contentBlockIndex: 0, delta: { text } }),
      end: () => {
        const first = r.chunks.length ? 1 : 0;
        const frames = [
          ...(r.chunks.length ? [event("contentBlockStop", { contentBlockIndex: 0 })] : []),
          ...r.toolCalls.flatMap((call, i) => [
            event("contentBlockStart", {
              contentBlockIndex: first + i,
              start: { toolUse: { toolUseId: call.id, name: call.name } },
            }),
            event("contentBlockDelta", { contentBlockIndex: first + i, delta: { toolUse: { input: call.arguments } } }),
            event("contentBlockStop", { contentBlockIndex: first + i }),
          ]),
          event("messageStop", {
            stopReason: r.toolCalls.length && r.finishReason === "other" ? "tool_use" : STOP[r.finishReason],
          }),
          event("metadata", { usage: bedrockUsage(r), metrics: { latencyMs: 1 } }),
        ];
        return Buffer.concat(frames);
      },
      // An exception message: its type is the stream's union member (`modelStreamErrorException`, `throttlingException`…).
      error: (text, type = "modelStreamErrorException") =>
        message(
          {
            ":exception-type": type.charAt(0).toLowerCase() + type.slice(1),
            ":content-type": "application/json",
            ":message-type": "exception",
          },
          { message: text },
        ),
    }),
  };
}

/**
 * Starts a fake Amazon Bedrock on 127.0.0.1: `POST /model/{modelId}/converse` (JSON),
 * `POST /model/{modelId}/converse-stream` (an AWS event stream: messageStart, contentBlockDelta…,
 * contentBlockStop, messageStop, metadata with usage) and `GET /foundation-models`
 * (ListFoundationModels), as `@aws-sdk/client-bedrock-runtime` and `@aws-sdk/client-bedrock` call
 * them given `endpoint: fake.url`. Each request must be signed (SigV4, signing name `bedrock`) with
 * credentials from `fake.credentials()`, or carry `Authorization: Bearer <fake.apiKey()>`; the fake
 * recomputes the signature and answers AWS's 403 (`UnrecognizedClientException`,
 * `InvalidSignatureException`) when it differs. Refusals: `invalid` → 403 UnrecognizedClientException,
 * `rate_limit` → 429 ThrottlingException, `quota` → 400 ServiceQuotaExceededException. Needs
 * `@smithy/signature-v4` and `@smithy/eventstream-codec` (the Bedrock runtime client's own dependencies).
 *
 * @example
 * ```ts
 * const fake = await startFakeBedrock();
 * const client = new BedrockRuntimeClient({ endpoint: fake.url, region: "eu-west-1",
 *   credentials: fake.credentials(), requestHandler: new NodeHttpHandler() });
 * fake.enqueue({ refuse: "rate_limit" }); // the next call: ThrottlingException
 * ```
 */
export async function startFakeBedrock(options: FakeBedrockOptions = {}): Promise<FakeBedrock> {
  const issuer = new FakeAwsCredentialIssuer("bedrock", options.region);
  const { EventStreamCodec } = await codec();
  const encoder = new EventStreamCodec(
    (bytes) => Buffer.from(bytes).toString("utf8"),
    (text) => Buffer.from(text, "utf8"),
  );
  const fake = await startFakeUpstream(bedrockProtocol(issuer, encoder), options);
  return Object.assign(fake, {
    credentials: (o?: { sessionToken?: boolean }) => issuer.issue(o),
    apiKey: () => issuer.issueApiKey(),
    revoke: (key: string) => issuer.revoke(key),
  });
}
