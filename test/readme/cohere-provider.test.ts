// examples/cohere-provider.ts (docs/extending.md, "A complete provider: Cohere") passes the provider conformance suite
// against its fake, examples/cohere-fake.ts, with the conformance run docs/extending.md shows.
import { readFileSync } from "node:fs";
import type { Provider } from "../../lib/extend";
import { type FakeUpstream, runProviderConformance } from "../../lib/testing";
import { blocksUnder, exampleAsModule } from "./readme-blocks";

const providerModule = exampleAsModule("cohere-provider.ts");
const fakeModule = exampleAsModule("cohere-fake.ts");
const { createCohereProvider } = jest.requireActual(providerModule.path) as {
  createCohereProvider: (options: { baseUrl: string; timeoutMs?: number }) => Provider;
};
const { startFakeCohere } = jest.requireActual(fakeModule.path) as { startFakeCohere: () => Promise<FakeUpstream> };
afterAll(() => (providerModule.remove(), fakeModule.remove()));

describe("docs/extending.md's conformance run of the Cohere provider", () => {
  it("is the one this file runs", () => {
    const source = readFileSync(__filename, "utf8");
    for (const block of blocksUnder("docs/extending.md", "Checking it with the conformance suite", ["ts"]))
      expect(source).toContain(block.code.replace(/^import .*\n/gm, ""));
  });
});

type CohereMessage = { role: "system" | "user" | "assistant"; content: string };
runProviderConformance(
  { describe, it },
  {
    name: "cohere",
    startFake: () => startFakeCohere(),
    providerOptions: (url, { timeoutMs }) => createCohereProvider({ baseUrl: url, timeoutMs }),
    // What the fake received, in the suite's terms: the system message apart from the turns.
    readChat: ({ body }) => {
      const { model, messages, temperature, max_tokens } = body as {
        model: string;
        messages: CohereMessage[];
        temperature?: number;
        max_tokens?: number;
      };
      const system = messages.filter((m) => m.role === "system").map((m) => m.content);
      return {
        model,
        ...(system.length > 0 ? { system: system.join("\n") } : {}),
        messages: messages.flatMap((m) => (m.role === "system" ? [] : [{ role: m.role, content: m.content }])),
        ...(temperature === undefined ? {} : { temperature }),
        ...(max_tokens === undefined ? {} : { maxTokens: max_tokens }),
      };
    },
    // How an app's SDK asks for a chat through ai.connection() (under its baseURL, …/v2).
    connectionChat: ({ model, prompt, stream }) => ({
      path: "/chat",
      body: { model, messages: [{ role: "user", content: prompt }], stream },
    }),
    finishReasons: ["stop", "length", "other"], // Cohere reports no content filter
  },
);
