// startFakeBedrock(): the real AWS SDK clients, signing with SigV4 or a Bedrock API key, against the fake.
import { BedrockClient, ListFoundationModelsCommand } from "@aws-sdk/client-bedrock";
import {
  BedrockRuntimeClient,
  type BedrockRuntimeClientConfig,
  ConverseCommand,
  ConverseStreamCommand,
} from "@aws-sdk/client-bedrock-runtime";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { type FakeBedrock, startFakeBedrock } from "../../lib/testing";

const REGION = "eu-west-1";
const MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0";

/** A runtime client pointed at the fake; one attempt, so refusals surface at once. */
const runtime = (fake: FakeBedrock, config: BedrockRuntimeClientConfig = {}) =>
  new BedrockRuntimeClient({
    endpoint: fake.url,
    region: REGION,
    maxAttempts: 1,
    // The runtime client defaults to HTTP/2; the fake, like every fake here, speaks HTTP/1.1.
    requestHandler: new NodeHttpHandler(),
    ...config,
  });

const converse = (text = "hello there") =>
  new ConverseCommand({ modelId: MODEL, messages: [{ role: "user", content: [{ text }] }] });

/** The SDK error a call fails with. */
async function failure(promise: Promise<unknown>): Promise<{ name: string; $metadata?: { httpStatusCode?: number } }> {
  try {
    await promise;
  } catch (error) {
    return error as { name: string };
  }
  throw new Error("expected the call to fail");
}

describe("startFakeBedrock", () => {
  let fake: FakeBedrock;
  beforeEach(async () => {
    fake = await startFakeBedrock();
  });
  afterEach(() => fake.close());

  it("answers a signed Converse call with the echo, stop reason and usage", async () => {
    const out = await runtime(fake, { credentials: fake.credentials() }).send(converse());
    expect(out.output?.message?.content?.[0]?.text).toBe("Echo: hello there");
    expect(out.stopReason).toBe("end_turn");
    expect(out.usage).toEqual({ inputTokens: 2, outputTokens: 3, totalTokens: 5 });
    expect(fake.requests[0]).toMatchObject({ op: "chat", path: `/model/${encodeURIComponent(MODEL)}/converse` });
  });

  it("streams ConverseStream chunks as AWS event-stream events, then the stop reason and usage", async () => {
    fake.enqueue({ chunks: ["one ", "two ", "three"], usage: { inputTokens: 4, outputTokens: 3 } });
    const out = await runtime(fake, { credentials: fake.credentials() }).send(
      new ConverseStreamCommand({ modelId: MODEL, messages: [{ role: "user", content: [{ text: "count" }] }] }),
    );
    const events: string[] = [];
    const deltas: string[] = [];
    let usage: unknown;
    let stopReason: string | undefined;
    for await (const event of out.stream!) {
      events.push(Object.keys(event).find((k) => k !== "$unknown")!);
      if (event.contentBlockDelta?.delta?.text !== undefined) deltas.push(event.contentBlockDelta.delta.text);
      if (event.messageStop) stopReason = event.messageStop.stopReason;
      if (event.metadata) usage = event.metadata.usage;
    }
    expect(deltas).toEqual(["one ", "two ", "three"]);
    expect(events).toEqual([
      "messageStart",
      "contentBlockDelta",
      "contentBlockDelta",
      "contentBlockDelta",
      "contentBlockStop",
      "messageStop",
      "metadata",
    ]);
    expect(stopReason).toBe("end_turn");
    expect(usage).toEqual({ inputTokens: 4, outputTokens: 3, totalTokens: 7 });
  });

  it("asks for tool calls as toolUse blocks, in Converse and in the stream", async () => {
    const client = runtime(fake, { credentials: fake.credentials() });
    const call = { name: "get_weather", arguments: { city: "Paris" }, id: "tooluse_1" };
    fake.enqueue({ toolCalls: [call] }, { toolCalls: [call] });
    const out = await client.send(converse());
    expect(out.stopReason).toBe("tool_use");
    expect(out.output?.message?.content).toEqual([
      { toolUse: { toolUseId: "tooluse_1", name: "get_weather", input: { city: "Paris" } } },
    ]);
    const streamed = await client.send(
      new ConverseStreamCommand({ modelId: MODEL, messages: [{ role: "user", content: [{ text: "weather?" }] }] }),
    );
    const seen: unknown[] = [];
    for await (const event of streamed.stream!)
      if (event.contentBlockStart || event.contentBlockDelta || event.messageStop) seen.push(event);
    expect(seen).toEqual([
      {
        contentBlockStart: {
          contentBlockIndex: 0,
          start: { toolUse: { toolUseId: "tooluse_1", name: "get_weather" } },
        },
      },
      { contentBlockDelta: { contentBlockIndex: 0, delta: { toolUse: { input: '{"city":"Paris"}' } } } },
      { messageStop: { stopReason: "tool_use" } },
    ]);
  });

  it("ends a stream with the SDK's exception when errorAfterChunks sends an in-stream error", async () => {
    fake.enqueue({ chunks: ["a ", "b"], errorAfterChunks: 1, errorType: "throttlingException" });
    const out = await runtime(fake, { credentials: fake.credentials() }).send(
      new ConverseStreamCommand({ modelId: MODEL, messages: [{ role: "user", content: [{ text: "x" }] }] }),
    );
    const iterate = async () => {
      for await (const event of out.stream!) void event;
    };
    expect((await failure(iterate())).name).toBe("ThrottlingException");
  });

  it("lists foundation models for @aws-sdk/client-bedrock's ListFoundationModels", async () => {
    const client = new BedrockClient({
      endpoint: fake.url,
      region: REGION,
      maxAttempts: 1,
      credentials: fake.credentials(),
    });
    const out = await client.send(new ListFoundationModelsCommand({}));
    expect(out.modelSummaries?.map((m) => m.modelId)).toContain(MODEL);
    expect(fake.requests[0]).toMatchObject({ op: "validate", method: "GET", path: "/foundation-models" });
  });

  it("refuses a signature made with the wrong secret access key with InvalidSignatureException", async () => {
    const credentials = { ...fake.credentials(), secretAccessKey: "wrong-secret-wrong-secret-wrong-secret-00" };
    const error = await failure(runtime(fake, { credentials }).send(converse()));
    expect(error.name).toBe("InvalidSignatureException");
    expect(error.$metadata?.httpStatusCode).toBe(403);
  });

  it("refuses an access key id it never issued, or one revoked, with UnrecognizedClientException", async () => {
    const credentials = fake.credentials();
    expect(
      (
        await failure(
          runtime(fake, { credentials: { ...credentials, accessKeyId: "AKIANOTISSUED0000000" } }).send(converse()),
        )
      ).name,
    ).toBe("UnrecognizedClientException");
    await runtime(fake, { credentials }).send(converse());
    fake.revoke(credentials.accessKeyId);
    expect((await failure(runtime(fake, { credentials }).send(converse()))).name).toBe("UnrecognizedClientException");
  });

  it("refuses a request whose body changed after it was signed", async () => {
    const client = runtime(fake, { credentials: fake.credentials() });
    // After signing (the deserialize step wraps the send): same length, one word changed.
    client.middlewareStack.add(
      (next) => (args) => {
        const request = args.request as { body: Uint8Array };
        const { buffer, byteOffset, byteLength } = request.body;
        const signed = Buffer.from(buffer, byteOffset, byteLength).toString("utf8");
        request.body = Buffer.from(signed.replace("hello", "HELLO"), "utf8");
        return next(args);
      },
      { step: "deserialize" },
    );
    const error = await failure(client.send(converse("hello there")));
    expect(error.name).toBe("InvalidSignatureException");
    expect(fake.requests[0]!.body).toMatchObject({ messages: [{ content: [{ text: "HELLO there" }] }] });
  });

  it("refuses a signature scoped to another region when started for one", async () => {
    const regional = await startFakeBedrock({ region: REGION });
    try {
      const credentials = regional.credentials();
      await runtime(regional, { credentials }).send(converse());
      const error = await failure(runtime(regional, { credentials, region: "us-east-1" }).send(converse()));
      expect([error.name, error.$metadata?.httpStatusCode]).toEqual(["InvalidSignatureException", 403]);
    } finally {
      await regional.close();
    }
  });

  it("requires the session token of temporary credentials", async () => {
    const credentials = fake.credentials({ sessionToken: true });
    expect(credentials.accessKeyId).toMatch(/^ASIA/);
    const { sessionToken: _, ...withoutToken } = credentials;
    expect((await failure(runtime(fake, { credentials: withoutToken }).send(converse()))).name).toBe(
      "UnrecognizedClientException",
    );
    const out = await runtime(fake, { credentials }).send(converse());
    expect(out.output?.message?.content?.[0]?.text).toBe("Echo: hello there");
    expect(fake.requests[1]!.headers["x-amz-security-token"]).toBe(credentials.sessionToken);
  });

  it("accepts a Bedrock API key as a bearer token, and refuses it once revoked", async () => {
    const apiKey = fake.apiKey();
    const client = () => runtime(fake, { token: { token: apiKey }, authSchemePreference: ["httpBearerAuth"] });
    const out = await client().send(converse());
    expect(out.output?.message?.content?.[0]?.text).toBe("Echo: hello there");
    expect(fake.requests[0]!.headers.authorization).toBe(`Bearer ${apiKey}`);
    fake.revoke(apiKey);
    const error = await failure(client().send(converse()));
    expect([error.name, error.$metadata?.httpStatusCode]).toEqual(["UnrecognizedClientException", 403]);
  });

  it("maps the refusal knobs to the SDK's exceptions, as Bedrock sends them", async () => {
    const client = runtime(fake, { credentials: fake.credentials() });
    fake.enqueue({ refuse: "invalid" }, { refuse: "rate_limit" }, { refuse: "quota" }, { status: 503 });
    const seen = [];
    for (let i = 0; i < 4; i++) {
      const error = await failure(client.send(converse()));
      seen.push([error.name, error.$metadata?.httpStatusCode]);
    }
    expect(seen).toEqual([
      ["UnrecognizedClientException", 403],
      ["ThrottlingException", 429],
      ["ServiceQuotaExceededException", 400],
      ["ServiceUnavailableException", 503],
    ]);
  });
});
