// Amazon Bedrock through the official AWS SDK (optional peers): Converse, ConverseStream, ListFoundationModels, with a user's AWS credential.
import type * as RuntimeSdk from "@aws-sdk/client-bedrock-runtime";
import type * as ControlSdk from "@aws-sdk/client-bedrock";
import { createRequire } from "node:module";
import { ByokError } from "../errors.js";
import { MAX_LISTED_MODELS } from "../core/models.js";
import { lazyPeer } from "../core/optional-peer.js";
import { checkSettings, type SettingRules } from "../core/option-checks.js";
import { providerSettingRules } from "../core/provider-settings.js";
import type {
  Credential,
  FinishReason,
  KeyVerdict,
  Provider,
  ProviderCallContext,
  ProviderChatRequest,
  ProviderChatResult,
  ProviderCredentialSpec,
  ProviderModel,
  ProviderRefusal,
  Usage,
} from "../core/types.js";
import { invalid, isPlainObject } from "../core/validate.js";
import { cleanUpstreamMessage, nonEmptyString as str, upstreamError } from "./upstream-error.js";

/** Settings of the Bedrock provider (server configuration only). */
export interface BedrockProviderSettings {
  /** The provider id the app uses (named in errors). Defaults to `"bedrock"`. */
  id?: string;
  /**
   * Sends every call here (runtime and control plane alike) instead of the regional endpoint the credential's
   * region picks: for tests and private (VPC) endpoints. Nothing in a credential can change it. Defaults to
   * `https://bedrock-runtime.<region>.amazonaws.com` (and `https://bedrock.<region>.amazonaws.com` for models).
   */
  baseUrl?: string;
  /** A model id or inference profile id. Defaults to `"amazon.nova-lite-v1:0"`. */
  defaultModel?: string;
  /** Defaults to 60 000. */
  timeoutMs?: number;
}

/** The npm package the Bedrock provider's calls run on (an optional peer of byok-ai). */
export const BEDROCK_SDK = "@aws-sdk/client-bedrock-runtime";
/** The npm package its key validation and model listing run on (an optional peer of byok-ai). */
export const BEDROCK_CONTROL_SDK = "@aws-sdk/client-bedrock";
/** Amazon's small, fast model, on demand in most regions; override with `defaultModel`. */
export const BEDROCK_DEFAULT_MODEL = "amazon.nova-lite-v1:0";
/** AWS's region syntax: `us-east-1`, `eu-central-2`, `us-gov-west-1`, `ap-southeast-5`, `cn-north-1`. */
export const AWS_REGION = /^[a-z]{2}(?:-gov)?-[a-z]+-\d{1,2}$/;
/** An AWS access key id: `AKIA…` (long-term) or `ASIA…` (temporary), upper-case letters and digits. */
const ACCESS_KEY_ID = /^[A-Z0-9]{16,128}$/;
/** A secret, a session token or a Bedrock API key: printable ASCII, no spaces. */
const PRINTABLE = /^[\x21-\x7e]+$/;

const SETTING_RULES: SettingRules<BedrockProviderSettings> = providerSettingRules(
  "id",
  "baseUrl",
  "defaultModel",
  "timeoutMs",
);

type Runtime = typeof RuntimeSdk;
type Control = typeof ControlSdk;
const loadRuntime = lazyPeer<Runtime>(BEDROCK_SDK, "The bedrock provider");
const loadControl = lazyPeer<Control>(BEDROCK_CONTROL_SDK, "The bedrock provider's key check and model list");

/** A Bedrock credential as stored: AWS access keys, or a Bedrock API key; each with its region. */
export type BedrockCredential =
  | { accessKeyId: string; secretAccessKey: string; sessionToken?: string; region: string }
  | { apiKey: string; region: string };

/** The fields of a Bedrock credential, for `registerKey({ credential })`. */
const CREDENTIAL_FIELDS: ProviderCredentialSpec["fields"] = {
  accessKeyId: { hint: true },
  secretAccessKey: { secret: true },
  sessionToken: { secret: true },
  apiKey: { secret: true, hint: true },
  region: { required: true },
};

/**
 * Which shape a credential is, each field's syntax, and the region's.
 * @throws ByokError INVALID_REQUEST naming `credential.<field>`, never its value
 */
export function checkBedrockCredential(credential: Credential): BedrockCredential {
  const { accessKeyId, secretAccessKey, sessionToken, apiKey, region } = credential as Record<string, string>;
  const bad = (message: string, fields: string[]) =>
    invalid(
      message,
      fields.map((f) => `credential.${f}`),
    );
  if (!AWS_REGION.test(region!))
    throw bad('region must be an AWS region such as "us-east-1" or "eu-west-1".', ["region"]);
  if (apiKey !== undefined) {
    const mixed = ["accessKeyId", "secretAccessKey", "sessionToken"].filter((f) => credential[f] !== undefined);
    if (mixed.length)
      throw bad("Give either a Bedrock API key (apiKey) or AWS access keys (accessKeyId, secretAccessKey), not both.", [
        "apiKey",
        ...mixed,
      ]);
    if (!PRINTABLE.test(apiKey)) throw bad("apiKey must be the Bedrock API key as AWS shows it.", ["apiKey"]);
    return { apiKey, region: region! };
  }
  const missing = (["accessKeyId", "secretAccessKey"] as const).filter((f) => credential[f] === undefined);
  if (missing.length)
    throw bad("Give AWS access keys (accessKeyId and secretAccessKey, and sessionToken if temporary) or an apiKey.", [
      ...missing,
    ]);
  if (!ACCESS_KEY_ID.test(accessKeyId!))
    throw bad("accessKeyId must be an AWS access key id (AKIA… or ASIA…).", ["accessKeyId"]);
  const malformed = (["secretAccessKey", "sessionToken"] as const).filter(
    (f) => credential[f] !== undefined && !PRINTABLE.test(credential[f] as string),
  );
  if (malformed.length) throw bad("AWS secrets are printable characters without spaces.", [...malformed]);
  return {
    accessKeyId: accessKeyId!,
    secretAccessKey: secretAccessKey!,
    ...(sessionToken === undefined ? {} : { sessionToken }),
    region: region!,
  };
}

/** The credential a call got as its `apiKey` (the JSON the core sealed). */
function credentialOf(context: ProviderCallContext): BedrockCredential {
  let parsed: unknown;
  try {
    parsed = JSON.parse(context.apiKey);
  } catch {
    parsed = undefined;
  }
  if (!isPlainObject(parsed) || typeof parsed.region !== "string" || !AWS_REGION.test(parsed.region))
    throw new ByokError(
      "KEY_UNREADABLE",
      "The stored bedrock key is not a Bedrock credential; ask the user to add it again.",
    );
  return parsed as BedrockCredential;
}

/** The secrets of a credential: scrubbed from any upstream text. */
const secretsOf = (c: BedrockCredential): string[] =>
  "apiKey" in c ? [c.apiKey] : [c.secretAccessKey, ...(c.sessionToken === undefined ? [] : [c.sessionToken])];

/** The DNS suffix of a region's partition: China's regions live under `amazonaws.com.cn`. */
const dnsSuffix = (region: string) => (region.startsWith("cn-") ? "amazonaws.com.cn" : "amazonaws.com");

/**
 * Where a region's calls go without a `baseUrl`: its Bedrock runtime endpoint (`"runtime"`, Converse) or its
 * control-plane endpoint (`"control"`, ListFoundationModels). `region` must match {@link AWS_REGION}.
 */
export function bedrockEndpoint(region: string, plane: "runtime" | "control"): string {
  if (!AWS_REGION.test(region)) throw new TypeError("bedrockEndpoint: not an AWS region.");
  return `https://${plane === "runtime" ? "bedrock-runtime" : "bedrock"}.${region}.${dnsSuffix(region)}`;
}

/** Bedrock's stop reasons → the contract's four. */
export function mapBedrockStopReason(reason: string | undefined): FinishReason {
  switch (reason) {
    case "end_turn":
    case "stop_sequence":
      return "stop";
    case "max_tokens":
    case "model_context_window_exceeded":
      return "length";
    case "content_filtered":
    case "guardrail_intervened":
      return "content_filter";
    default:
      return "other";
  }
}

/** AWS error types that mean the credential itself was refused (unknown, revoked, expired, mis-signed, not allowed). */
const INVALID_TYPES = new Set([
  "UnrecognizedClientException",
  "AccessDeniedException",
  "InvalidSignatureException",
  "ExpiredTokenException",
  "MissingAuthenticationTokenException",
  "InvalidClientTokenId",
]);
/** The HTTP status each AWS error type stands for, for errors without one (an exception inside a stream). */
const STATUS_OF_TYPE: Record<string, number> = {
  ValidationException: 400,
  ServiceQuotaExceededException: 400,
  AccessDeniedException: 403,
  UnrecognizedClientException: 403,
  InvalidSignatureException: 403,
  ExpiredTokenException: 403,
  ResourceNotFoundException: 404,
  ModelTimeoutException: 408,
  ThrottlingException: 429,
  InternalServerException: 500,
  ServiceUnavailableException: 503,
};
/** The model failed, not the request: a server-side error whatever status AWS gave it (424). */
const MODEL_FAILURES = new Set(["ModelErrorException", "ModelStreamErrorException", "ModelNotReadyException"]);

/** What an AWS error type says about the key: invalid, out of quota, rate limited, or nothing. */
function verdictOfType(type: string | undefined): KeyVerdict | undefined {
  if (type === undefined) return undefined;
  if (INVALID_TYPES.has(type)) return { status: "invalid" };
  if (type === "ServiceQuotaExceededException") return { status: "quota_exhausted" };
  if (type === "ThrottlingException") return { status: "rate_limited" };
  return undefined;
}

/**
 * What a Bedrock refusal says about the key (see `Provider.readRefusal`), from the error type of its JSON body
 * (`__type`, `code` or `name`, with AWS's namespace suffix or prefix dropped): `UnrecognizedClientException`,
 * `AccessDeniedException`, `InvalidSignatureException`, `ExpiredTokenException` → `"invalid"`,
 * `ServiceQuotaExceededException` → `"quota_exhausted"`, `ThrottlingException` → `"rate_limited"`.
 */
export function readBedrockRefusal({ body }: ProviderRefusal): KeyVerdict | undefined {
  if (!isPlainObject(body)) return undefined;
  const raw = str(body.__type) ?? str(body.code) ?? str(body.name);
  return verdictOfType(raw?.split(":")[0]?.split("#").at(-1));
}

/** Converse's usage: cache reads and writes are input the key pays for, so they count as input tokens. */
function usageOf(u: RuntimeSdk.TokenUsage | undefined): Usage {
  const inputTokens = (u?.inputTokens ?? 0) + (u?.cacheReadInputTokens ?? 0) + (u?.cacheWriteInputTokens ?? 0);
  const outputTokens = u?.outputTokens ?? 0;
  return { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens };
}

/** The Converse request of a chat. Messages pass through as given: Bedrock answers a bad turn order with a 400. */
function converseInput(request: ProviderChatRequest): RuntimeSdk.ConverseCommandInput {
  const input: RuntimeSdk.ConverseCommandInput = {
    modelId: request.model,
    messages: request.messages.map((m) => ({ role: m.role, content: [{ text: m.content }] })),
  };
  if (request.system) input.system = [{ text: request.system }];
  const inference: RuntimeSdk.InferenceConfiguration = {};
  if (request.maxTokens !== undefined) inference.maxTokens = request.maxTokens;
  if (request.temperature !== undefined) inference.temperature = request.temperature;
  if (Object.keys(inference).length) input.inferenceConfig = inference;
  return input;
}

/**
 * An AWS SDK error → ByokError. Aborts pass through untouched (the core knows whether it was the caller or
 * `timeoutMs`), as does a ByokError of our own. Only the error's type (its `name`), its HTTP status and its
 * message (cleaned of every secret of the credential and anything key-like) are read.
 */
function mapBedrockError(id: string, error: unknown, credential: BedrockCredential, signal: AbortSignal): unknown {
  if (ByokError.is(error)) return error;
  if (signal.aborted || (error instanceof Error && error.name === "AbortError")) return error;
  const e = error as
    | {
        name?: unknown;
        message?: unknown;
        $metadata?: { httpStatusCode?: unknown };
        $response?: { headers?: Record<string, string | undefined> };
      }
    | undefined;
  const type = str(e?.name);
  const known = type !== undefined && (type in STATUS_OF_TYPE || INVALID_TYPES.has(type) || MODEL_FAILURES.has(type));
  if (!known && !(typeof e?.$metadata?.httpStatusCode === "number"))
    return upstreamError(id, { type: error instanceof Error ? error.name : typeof error });
  // An exception inside a stream may carry the stream's own 200: only an error status says what the refusal was.
  const code = e?.$metadata?.httpStatusCode;
  const given = typeof code === "number" && code >= 400 ? code : undefined;
  const status = MODEL_FAILURES.has(type!) ? 502 : (given ?? STATUS_OF_TYPE[type!]);
  const [secret, ...others] = secretsOf(credential);
  let message = str(e?.message);
  for (const other of others) if (message !== undefined) message = cleanUpstreamMessage(message, other);
  const verdict = verdictOfType(type);
  // Bedrock sends no Retry-After today; one a private endpoint (or a later Bedrock) sends is honoured.
  const retryAfter = e?.$response?.headers?.["retry-after"];
  return upstreamError(
    id,
    { status, type, message, ...(retryAfter ? { retryAfter } : {}), ...(verdict ? { verdict } : {}) },
    secret,
  );
}

/**
 * The HTTP/1.1 handler every call shares (a connection pool, holding no credential), from the runtime SDK's own
 * `@smithy/node-http-handler` (resolved from where that SDK is installed, so strict installs find it). Both
 * Converse and ConverseStream run over HTTP/1.1. `undefined` if it cannot be found: the SDK's default then.
 */
function sharedHandler(): unknown {
  try {
    const fromSdk = createRequire(createRequire(__filename).resolve(BEDROCK_SDK));
    const { NodeHttpHandler } = fromSdk("@smithy/node-http-handler") as typeof import("@smithy/node-http-handler");
    return new NodeHttpHandler();
  } catch {
    return undefined;
  }
}

/**
 * What every client gets, whatever the environment says: the endpoint (so no `AWS_ENDPOINT_URL*` applies), the
 * region and the credential given (never a profile, the environment's keys or `AWS_BEARER_TOKEN_BEDROCK`, nor an
 * instance role), one auth scheme (`AWS_AUTH_SCHEME_PREFERENCE` cannot pick another), no retries (the core's
 * `timeoutMs` is a call's whole budget, and a throttled call reaches the app at once), no FIPS or dual-stack
 * rewriting.
 */
function clientConfig(credential: BedrockCredential, endpoint: string, handler: unknown) {
  const auth =
    "apiKey" in credential
      ? {
          authSchemePreference: ["httpBearerAuth"],
          token: { token: credential.apiKey },
          credentials: () => Promise.reject(new Error("This Bedrock credential is an API key.")),
        }
      : {
          authSchemePreference: ["sigv4"],
          credentials: {
            accessKeyId: credential.accessKeyId,
            secretAccessKey: credential.secretAccessKey,
            ...(credential.sessionToken === undefined ? {} : { sessionToken: credential.sessionToken }),
          },
        };
  return {
    region: credential.region,
    endpoint,
    ignoreConfiguredEndpointUrls: true,
    useFipsEndpoint: false,
    useDualstackEndpoint: false,
    maxAttempts: 1,
    retryMode: "standard",
    ...(handler === undefined ? {} : { requestHandler: handler }),
    ...auth,
  };
}

/**
 * The Amazon Bedrock provider: chats through the Converse API (`@aws-sdk/client-bedrock-runtime`), key checks and
 * model lists through ListFoundationModels (`@aws-sdk/client-bedrock`), both loaded on first use. A key is a
 * credential, `{ accessKeyId, secretAccessKey, sessionToken?, region }` (SigV4) or `{ apiKey, region }` (a Bedrock
 * API key, sent as a bearer token); its region picks the endpoint, `https://bedrock-runtime.<region>.amazonaws.com`,
 * unless the server's `baseUrl` names another. Each call builds its own SDK client around the credential (about
 * 0.2 ms, measured: the AWS SDK resolves its whole configuration per client), so a credential never outlives its
 * call; one shared client with a per-call identity provider would not do, since the SDK memoizes identities.
 */
export function createBedrockProvider(settings: BedrockProviderSettings = {}): Provider {
  const checked = checkSettings(settings, SETTING_RULES, "createBedrockProvider");
  const id = checked.id ?? "bedrock";
  const defaultModel = checked.defaultModel ?? BEDROCK_DEFAULT_MODEL;
  const { baseUrl } = checked;
  let handler: { value: unknown } | undefined;
  const handlerOnce = () => (handler ??= { value: sharedHandler() }).value;

  const runtimeUrl = (region: string) => baseUrl ?? bedrockEndpoint(region, "runtime");
  const controlUrl = (region: string) => baseUrl ?? bedrockEndpoint(region, "control");

  /** Runs one request with a client built for this call's credential; every failure goes through mapBedrockError. */
  async function run<T, C>(
    context: ProviderCallContext,
    build: (credential: BedrockCredential) => Promise<C>,
    send: (client: C) => Promise<T>,
  ): Promise<T> {
    const credential = credentialOf(context);
    const client = await build(credential);
    try {
      return await send(client);
    } catch (error) {
      throw mapBedrockError(id, error, credential, context.signal);
    }
  }
  const runtime = async (credential: BedrockCredential) =>
    new (await loadRuntime()).BedrockRuntimeClient(
      clientConfig(credential, runtimeUrl(credential.region), handlerOnce()) as RuntimeSdk.BedrockRuntimeClientConfig,
    );
  const control = async (credential: BedrockCredential) => {
    const sdk = await loadControl();
    return {
      sdk,
      client: new sdk.BedrockClient(
        clientConfig(credential, controlUrl(credential.region), handlerOnce()) as ControlSdk.BedrockClientConfig,
      ),
    };
  };

  const listFoundationModels = (context: ProviderCallContext) =>
    run(context, control, ({ sdk, client }) =>
      client.send(new sdk.ListFoundationModelsCommand({ byOutputModality: "TEXT" }), {
        abortSignal: context.signal,
      }),
    );

  return {
    specificationVersion: "v1",
    defaultModel,
    ...(checked.timeoutMs !== undefined ? { timeoutMs: checked.timeoutMs } : {}),
    readRefusal: readBedrockRefusal,
    credential: {
      fields: CREDENTIAL_FIELDS,
      check: checkBedrockCredential,
      region: (credential) => credential.region as string,
    },

    async load(): Promise<void> {
      await loadRuntime();
      handlerOnce();
    },

    async validateKey(context): Promise<void> {
      // ListFoundationModels: free, and it needs a credential AWS accepts (bedrock:ListFoundationModels).
      await listFoundationModels(context);
    },

    async listModels(context): Promise<ProviderModel[]> {
      const { modelSummaries } = await listFoundationModels(context);
      const out: ProviderModel[] = [];
      for (const model of modelSummaries ?? []) {
        if (!model.modelId) continue;
        out.push({ id: model.modelId, ...(model.modelName ? { displayName: model.modelName } : {}) });
        if (out.length >= MAX_LISTED_MODELS) break;
      }
      return out;
    },

    async doChat(request, context): Promise<ProviderChatResult> {
      const sdk = await loadRuntime();
      const answer = await run(context, runtime, (client) =>
        client.send(new sdk.ConverseCommand(converseInput(request)), { abortSignal: context.signal }),
      );
      const content = answer.output?.message?.content;
      if (!Array.isArray(content)) throw upstreamError(id, { type: "malformed reply" });
      return {
        text: content.map((block) => block.text ?? "").join(""),
        model: request.model,
        finishReason: mapBedrockStopReason(answer.stopReason),
        usage: usageOf(answer.usage),
      };
    },

    async *doStream(request, context) {
      const sdk = await loadRuntime();
      const credential = credentialOf(context);
      let stop: string | undefined;
      let usage: Usage = usageOf(undefined);
      try {
        const client = await runtime(credential);
        const answer = await client.send(new sdk.ConverseStreamCommand(converseInput(request)), {
          abortSignal: context.signal,
        });
        for await (const event of answer.stream ?? []) {
          const text = event.contentBlockDelta?.delta?.text;
          if (text) yield { type: "text", text };
          if (event.messageStop) stop = event.messageStop.stopReason ?? "end_turn";
          if (event.metadata?.usage) {
            usage = usageOf(event.metadata.usage);
            yield { type: "usage", usage };
          }
          // An exception event of the stream's union (the SDK usually throws them instead).
          const [member, exception] = (Object.entries(event).find(([name]) => name.endsWith("Exception")) ?? []) as [
            string?,
            { message?: string }?,
          ];
          if (member)
            throw Object.assign(new Error(exception?.message ?? ""), {
              name: member.charAt(0).toUpperCase() + member.slice(1),
            });
        }
      } catch (error) {
        throw mapBedrockError(id, error, credential, context.signal);
      }
      if (context.signal.aborted) throw context.signal.reason;
      if (!stop) throw upstreamError(id, { type: "incomplete stream" });
      yield { type: "finish", model: request.model, finishReason: mapBedrockStopReason(stop), usage };
    },
  };
}
