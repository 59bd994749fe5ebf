// Each create*Provider(settings) factory checks its settings by the rules `new BYOK({ providers: {…} })` applies.
import {
  BYOK,
  ByokError,
  createAnthropicProvider,
  createAzureOpenAIProvider,
  createGeminiProvider,
  createOpenAIProvider,
  createOpenRouterProvider,
} from "../../lib";
import type { Provider } from "../../lib/extend";
import { TEST_MASTER_KEY } from "../helpers/canary";

/** The CONFIG_INVALID message `build` throws with. */
function refusal(build: () => unknown): string {
  try {
    build();
  } catch (error) {
    if (ByokError.is(error) && error.code === "CONFIG_INVALID") return error.message;
    throw error;
  }
  throw new Error("expected CONFIG_INVALID, nothing was thrown");
}

/** The message without its label (`createGeminiProvider.baseUrl` or `providers.gemini.baseUrl`): the rule's own words. */
const rule = (message: string, setting: string) => message.slice(message.indexOf(`.${setting}`));

/** A factory, its kind in `providers: {…}`, a typo with the name it should suggest, and a setting with a bad URL. */
const FACTORIES: {
  name: string;
  create: (settings: never) => Provider;
  kind: string;
  typo: [Record<string, unknown>, string];
  badUrl: [Record<string, unknown>, string];
  accepted: Record<string, unknown>;
}[] = [
  {
    name: "createGeminiProvider",
    create: createGeminiProvider,
    kind: "gemini",
    typo: [{ baseURL: "https://llm.example.com" }, "baseUrl"],
    badUrl: [{ baseUrl: "ftp://evil/" }, "baseUrl"],
    accepted: { baseUrl: "http://127.0.0.1:8080/", defaultModel: "gemini-2.5-pro", timeoutMs: 600_000 },
  },
  {
    name: "createOpenAIProvider",
    create: createOpenAIProvider,
    kind: "openai",
    typo: [{ defaultmodel: "gpt-4o" }, "defaultModel"],
    badUrl: [{ baseUrl: "ftp://evil/" }, "baseUrl"],
    accepted: { baseUrl: "https://llm.example.com/v1/", defaultModel: "gpt-4o", timeoutMs: 1 },
  },
  {
    name: "createAnthropicProvider",
    create: createAnthropicProvider,
    kind: "anthropic",
    typo: [{ timeoutMS: 1000 }, "timeoutMs"],
    badUrl: [{ baseUrl: "https://user:pass@llm.example.com" }, "baseUrl"],
    accepted: { baseUrl: "https://llm.example.com", defaultModel: "claude-sonnet-4-5", timeoutMs: 30_000 },
  },
  {
    name: "createOpenRouterProvider",
    create: createOpenRouterProvider,
    kind: "openrouter",
    typo: [{ authURL: "https://llm.example.com/auth" }, "authUrl"],
    badUrl: [{ authUrl: "https://llm.example.com/auth?next=evil" }, "authUrl"],
    accepted: { baseUrl: "https://llm.example.com/api/v1", authUrl: "https://llm.example.com/auth", timeoutMs: 5 },
  },
  {
    name: "createAzureOpenAIProvider",
    create: createAzureOpenAIProvider,
    kind: "azure-openai",
    typo: [{ userEndpoint: { hosts: ["llm.example.com"] } }, "userEndpoints"],
    badUrl: [{ userEndpoints: { hosts: ["https://evil.example.com/"] } }, "userEndpoints"],
    accepted: { defaultModel: "my-deployment", userEndpoints: { hosts: ["*.example.com"], allowPrivateNetwork: true } },
  },
];

const inOptions = (kind: string, settings: Record<string, unknown>) => () =>
  new BYOK({ masterKey: TEST_MASTER_KEY, providers: { [kind]: settings } });

describe.each(FACTORIES)("$name", ({ name, create, kind, typo, badUrl, accepted }) => {
  const make = (settings: Record<string, unknown>) => () => create(settings as never);

  it("refuses a misspelt setting with CONFIG_INVALID, suggesting the right name", () => {
    const [settings, suggestion] = typo;
    const message = refusal(make(settings));
    expect(message).toContain(`${name}: unknown option \`${Object.keys(settings)[0]}\`.`);
    expect(message).toContain(`Did you mean \`${suggestion}\`?`);
  });

  it("refuses a bad URL with the words `providers: {…}` uses for it", () => {
    const [settings, setting] = badUrl;
    const message = refusal(make(settings));
    expect(message.startsWith(`${name}.${setting}`)).toBe(true);
    expect(rule(message, setting)).toBe(rule(refusal(inOptions(kind, settings)), setting));
  });

  it("accepts the settings `providers: {…}` accepts, and refuses a bad time limit as it does", () => {
    expect(inOptions(kind, accepted)).not.toThrow();
    expect(make(accepted)).not.toThrow();
    expect(make({})).not.toThrow();
    const message = refusal(make({ timeoutMs: 0 }));
    expect(rule(message, "timeoutMs")).toBe(rule(refusal(inOptions(kind, { timeoutMs: 0 })), "timeoutMs"));
  });

  it("refuses settings that are not a plain object, and an id that is not a provider id", () => {
    expect(refusal(make([] as never))).toContain(`${name}: options must be a plain object (got an array)`);
    expect(refusal(make({ id: "Not An Id" }))).toContain(`${name}.id must be a provider id`);
  });
});

describe("settings only a factory takes", () => {
  it("createOpenAIProvider checks compatible and userEndpoints, with the resolver hook", () => {
    expect(refusal(() => createOpenAIProvider({ compatible: "yes" as never }))).toBe(
      "createOpenAIProvider.compatible must be a boolean.",
    );
    expect(refusal(() => createOpenAIProvider({ userEndpoints: { lookup: "dns" as never } }))).toContain(
      "createOpenAIProvider.userEndpoints.lookup must be a function",
    );
    expect(refusal(() => createOpenAIProvider({ userEndpoints: { allowPrivateNetwork: true } }))).toContain(
      "createOpenAIProvider.userEndpoints: allowPrivateNetwork needs hosts",
    );
    expect(() => createOpenAIProvider({ compatible: true, userEndpoints: { lookup: () => undefined } })).not.toThrow();
  });

  it("createAzureOpenAIProvider checks apiVersion, and takes no baseUrl", () => {
    expect(refusal(() => createAzureOpenAIProvider({ apiVersion: "2024-10-21&x=1" }))).toContain(
      "createAzureOpenAIProvider.apiVersion must be an Azure OpenAI API version",
    );
    expect(() => createAzureOpenAIProvider({ apiVersion: "2025-04-01-preview" })).not.toThrow();
    expect(refusal(() => createAzureOpenAIProvider({ baseUrl: "https://x.openai.azure.com" } as never))).toContain(
      "createAzureOpenAIProvider: unknown option `baseUrl`.",
    );
  });
});
