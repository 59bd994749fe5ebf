// Starts the fakes of the built-in providers at once, with a ready-made `providers` option pointing BYOK at them.
import {
  BUILT_IN_PROVIDERS,
  type BuiltInProviderId as BuiltInProvider,
  isBuiltInInstalled,
} from "../providers/built-ins.js";
import type { ProviderOptions } from "../core/types.js";
import { startFakeAnthropic } from "./fake-anthropic.js";
import { startFakeAzureOpenAI } from "./fake-azure-openai.js";
import { type FakeBedrock, startFakeBedrock } from "./fake-bedrock.js";
import { startFakeGemini } from "./fake-gemini.js";
import { startFakeOpenAI } from "./fake-openai.js";
import { type FakeOpenRouter, startFakeOpenRouter } from "./fake-openrouter.js";
import { type FakeVertex, startFakeVertex } from "./fake-vertex.js";
import type { FakeUpstream, FakeUpstreamOptions } from "./fake-upstream.js";

/** One running fake per built-in provider. */
export interface FakeProviderServers {
  gemini: FakeUpstream;
  openai: FakeUpstream;
  anthropic: FakeUpstream;
  /** A fake Amazon Bedrock: register `{ ...fakes.bedrock.credentials(), region: "us-east-1" }` as a credential. */
  bedrock: FakeBedrock;
  /** A fake Vertex AI: register `{ serviceAccount: fakes.vertex.serviceAccount() }` as a credential. */
  vertex: FakeVertex;
  openrouter: FakeOpenRouter;
  /** A fake Azure OpenAI resource: register keys with `endpoint: fakes["azure-openai"].url`. */
  "azure-openai": FakeUpstream;
}

/** The running fakes of {@link startFakeProviders}: those of the built-ins `P` (all of them unless `only` was given). */
export type FakeProviders<P extends BuiltInProvider = BuiltInProvider> = Pick<FakeProviderServers, P> & {
  /**
   * Pass as `new BYOK({ providers })`: each offered built-in pointed at its fake. With `only`, every other
   * built-in is `false` (off), so no test reaches a real vendor; without it, every built-in whose SDK is
   * installed is offered and the others are left out, which a BYOK answers as it would in production (not
   * offered; registering a key for one names the `npm install` to run). For `azure-openai`, whose keys
   * carry their endpoint, pointing it at its fake means allowing the fake's http loopback endpoint.
   */
  providers: { [P in BuiltInProvider]?: ProviderOptions | false };
  /** Stops all of them. */
  close(): Promise<void>;
};

/** Options of {@link startFakeProviders}: those of every fake, and which built-ins to fake. */
export interface FakeProvidersOptions<P extends BuiltInProvider = BuiltInProvider> extends FakeUpstreamOptions {
  /**
   * Starts only these fakes, and `providers` offers exactly these built-ins and turns the others off
   * (installed or not: a BYOK given a chosen one whose SDK is missing names the `npm install` to run).
   * Defaults to every fake, with `providers` offering the built-ins whose SDK is installed, so an app
   * that installed only `openai` gets `openai`, `openrouter` and `azure-openai` (they run on the openai SDK).
   */
  only?: readonly P[];
}

type Starters = { [P in BuiltInProvider]: (options?: FakeUpstreamOptions) => Promise<FakeProviderServers[P]> };
const STARTERS: Starters = {
  gemini: startFakeGemini,
  openai: startFakeOpenAI,
  anthropic: startFakeAnthropic,
  bedrock: startFakeBedrock,
  vertex: startFakeVertex,
  openrouter: startFakeOpenRouter,
  "azure-openai": startFakeAzureOpenAI,
};

type PointAt = { [P in BuiltInProvider]: (fake: FakeProviderServers[P]) => ProviderOptions };
const POINT_AT: PointAt = {
  gemini: (fake) => ({ baseUrl: fake.url }),
  openai: (fake) => ({ baseUrl: fake.url }),
  anthropic: (fake) => ({ baseUrl: fake.url }),
  bedrock: (fake) => ({ baseUrl: fake.url }),
  vertex: (fake) => ({ baseUrl: fake.url, authUrl: `${fake.url}/token` }),
  openrouter: (fake) => ({ baseUrl: `${fake.url}/api/v1`, authUrl: fake.authUrl }),
  "azure-openai": () => ({ userEndpoints: { hosts: ["127.0.0.1"], allowPrivateNetwork: true } }),
};

/**
 * Starts fake Gemini, OpenAI, Anthropic, Bedrock, Vertex AI, OpenRouter and Azure OpenAI servers on 127.0.0.1 (or only the
 * `only` ones).
 *
 * @param options - `only`, and the options of every fake (`acceptKey`, `defaultReply`)
 * @throws TypeError when `only` is empty or names no built-in provider
 * @example
 * ```ts
 * const fakes = await startFakeProviders({ only: ["openai"] });
 * const byok = new BYOK({ masterKey, providers: fakes.providers }); // offers openai alone
 * // … then: await fakes.close();
 * ```
 */
export async function startFakeProviders<P extends BuiltInProvider = BuiltInProvider>(
  options: FakeProvidersOptions<P> = {},
): Promise<FakeProviders<P>> {
  const { only, ...fakeOptions } = options;
  const unknown = only?.find((id) => !BUILT_IN_PROVIDERS.includes(id));
  if (only?.length === 0 || unknown !== undefined)
    throw new TypeError(`startFakeProviders: only must list built-in providers (${BUILT_IN_PROVIDERS.join(", ")}).`);
  const ids: readonly BuiltInProvider[] = only ?? BUILT_IN_PROVIDERS;
  const started = await Promise.allSettled(ids.map((id) => STARTERS[id](fakeOptions)));
  const running = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  const close = async () => void (await Promise.all(running.map((f) => f.close())));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) {
    await close();
    throw failed.reason;
  }
  const fakes = Object.fromEntries(ids.map((id, i) => [id, running[i]])) as Partial<FakeProviderServers>;
  const pointAt = <Q extends BuiltInProvider>(id: Q) => POINT_AT[id](fakes[id]!);
  const providers = Object.fromEntries(
    only
      ? BUILT_IN_PROVIDERS.map((id) => [id, only.includes(id as P) && pointAt(id)])
      : BUILT_IN_PROVIDERS.filter(isBuiltInInstalled).map((id) => [id, pointAt(id)]),
  );
  return { ...fakes, providers, close } as FakeProviders<P>;
}
