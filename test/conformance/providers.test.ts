// Runs the provider conformance suite over every built-in provider and one OpenAI-compatible provider.
import {
  runProviderConformance,
  startFakeAnthropic,
  startFakeAzureOpenAI,
  startFakeBedrock,
  type FakeBedrock,
  startFakeGemini,
  startFakeOpenAI,
  startFakeOpenRouter,
  startFakeVertex,
  type FakeVertex,
} from "../../lib/testing";
import { chatReaders, connectionChats } from "../../lib/testing/provider-conformance-support";

runProviderConformance(
  { describe, it },
  {
    name: "gemini",
    startFake: () => startFakeGemini(),
    readChat: chatReaders.gemini,
    connectionChat: connectionChats.gemini,
    providerOptions: (baseUrl, extra) => ({ baseUrl, ...extra }),
  },
);

runProviderConformance(
  { describe, it },
  {
    name: "openai",
    startFake: () => startFakeOpenAI(),
    readChat: chatReaders.openai,
    connectionChat: connectionChats.openai,
    providerOptions: (baseUrl, extra) => ({ baseUrl: `${baseUrl}/v1`, ...extra }),
  },
);

runProviderConformance(
  { describe, it },
  {
    name: "anthropic",
    startFake: () => startFakeAnthropic(),
    readChat: chatReaders.anthropic,
    connectionChat: connectionChats.anthropic,
    providerOptions: (baseUrl, extra) => ({ baseUrl, ...extra }),
  },
);

runProviderConformance(
  { describe, it },
  {
    name: "groq (openai-compatible)",
    id: "groq",
    startFake: () => startFakeOpenAI(),
    readChat: chatReaders.openai,
    connectionChat: connectionChats.openai,
    providerOptions: (baseUrl, extra) => ({
      kind: "openai-compatible",
      baseUrl: `${baseUrl}/v1`,
      defaultModel: "llama-3.1-8b-instant",
      ...extra,
    }),
  },
);

runProviderConformance(
  { describe, it },
  {
    name: "openrouter",
    startFake: () => startFakeOpenRouter(),
    readChat: chatReaders.openai,
    connectionChat: connectionChats.openai,
    providerOptions: (baseUrl, extra) => ({ baseUrl: `${baseUrl}/api/v1`, ...extra }),
  },
);

runProviderConformance(
  { describe, it },
  {
    name: "azure-openai",
    startFake: () => startFakeAzureOpenAI(),
    readChat: (request) => ({
      ...chatReaders.openai(request),
      model: decodeURIComponent(/\/deployments\/([^/]+)\//.exec(request.path)?.[1] ?? ""),
    }),
    providerOptions: (_url, extra) => ({
      userEndpoints: { hosts: ["127.0.0.1"], allowPrivateNetwork: true },
      ...extra,
    }),
    keyEndpoint: (url) => url,
  },
);

runProviderConformance(
  { describe, it },
  {
    name: "ollama (openai-compatible, user endpoints)",
    id: "ollama",
    startFake: () => startFakeOpenAI(),
    readChat: chatReaders.openai,
    connectionChat: connectionChats.openai,
    providerOptions: (_url, extra) => ({
      kind: "openai-compatible",
      defaultModel: "llama3.2",
      userEndpoints: { hosts: ["127.0.0.1"], allowPrivateNetwork: true },
      ...extra,
    }),
    keyEndpoint: (url) => `${url}/v1`,
  },
);

runProviderConformance(
  { describe, it },
  {
    name: "bedrock",
    startFake: () => startFakeBedrock({ region: "us-east-1" }),
    readChat: chatReaders.bedrock,
    providerOptions: (baseUrl, extra) => ({ baseUrl, ...extra }),
    rateLimitHint: false,
    credential: (fake, { refused }) => {
      const aws = (fake as FakeBedrock).credentials({ sessionToken: true });
      if (refused) (fake as FakeBedrock).revoke(aws.accessKeyId);
      return { credential: { ...aws, region: "us-east-1" }, apiKey: aws.accessKeyId, secret: aws.secretAccessKey };
    },
  },
);

runProviderConformance(
  { describe, it },
  {
    name: "vertex",
    startFake: () => startFakeVertex(),
    readChat: chatReaders.gemini,
    providerOptions: (baseUrl, extra) => ({ baseUrl, authUrl: `${baseUrl}/token`, ...extra }),
    rateLimitHint: false,
    // Token requests are not calls; a call is seen as the service account its access token belongs to.
    seeRequest: (fake, request) =>
      request.path === "/token"
        ? undefined
        : { ...request, apiKey: request.apiKey && ((fake as FakeVertex).accountOf(request.apiKey) ?? request.apiKey) },
    credential: (fake, { refused }) => {
      const vertex = fake as FakeVertex;
      // Refused: an account whose key file names a project it may not call (403 PERMISSION_DENIED).
      const account = refused
        ? { ...vertex.serviceAccount({ projectId: "another-project" }), project_id: "byok-test-project" }
        : vertex.serviceAccount();
      return {
        credential: { serviceAccount: account, location: "us-central1" },
        apiKey: account.client_email,
        // The key's random middle: a PEM's armour and PKCS#8 header are the same in every key.
        secret: account.private_key.replace(/-----[A-Z ]+-----|\s/g, "").slice(64, 400),
      };
    },
  },
);
