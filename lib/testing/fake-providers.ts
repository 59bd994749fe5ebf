// Starts the fakes of every built-in provider at once, with a ready-made `providers` option pointing BYOK at them.
import type { ProviderOptions } from "../core/types.js";
import { startFakeAnthropic } from "./fake-anthropic.js";
import { startFakeAzureOpenAI } from "./fake-azure-openai.js";
import { startFakeGemini } from "./fake-gemini.js";
import { startFakeOpenAI } from "./fake-openai.js";
import { type FakeOpenRouter, startFakeOpenRouter } from "./fake-openrouter.js";
import type { FakeUpstream, FakeUpstreamOptions } from "./fake-upstream.js";

/** The running fakes of {@link startFakeProviders}. */
export interface FakeProviders {
  gemini: FakeUpstream;
  openai: FakeUpstream;
  anthropic: FakeUpstream;
  openrouter: FakeOpenRouter;
  /** A fake Azure OpenAI resource: register keys with `endpoint: fakes["azure-openai"].url`. */
  "azure-openai": FakeUpstream;
  /**
   * Pass as `new BYOK({ providers })`: every built-in provider pointed at its fake. For `azure-openai`,
   * whose keys carry their endpoint, that means allowing the fake's http loopback endpoint.
   */
  providers: {
    gemini: ProviderOptions;
    openai: ProviderOptions;
    anthropic: ProviderOptions;
    openrouter: ProviderOptions;
    "azure-openai": ProviderOptions;
  };
  /** Stops all of them. */
  close(): Promise<void>;
}

/**
 * Starts fake Gemini, OpenAI, Anthropic, OpenRouter and Azure OpenAI servers on 127.0.0.1.
 *
 * @example
 * ```ts
 * const fakes = await startFakeProviders();
 * const byok = new BYOK({ masterKey, providers: fakes.providers });
 * // … then: await fakes.close();
 * ```
 */
export async function startFakeProviders(options?: FakeUpstreamOptions): Promise<FakeProviders> {
  const started = await Promise.allSettled([
    startFakeGemini(options),
    startFakeOpenAI(options),
    startFakeAnthropic(options),
    startFakeOpenRouter(options),
    startFakeAzureOpenAI(options),
  ]);
  const fakes = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  const close = async () => void (await Promise.all(fakes.map((f) => f.close())));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) {
    await close();
    throw failed.reason;
  }
  const [gemini, openai, anthropic, openrouter, azure] = fakes as [
    FakeUpstream,
    FakeUpstream,
    FakeUpstream,
    FakeOpenRouter,
    FakeUpstream,
  ];
  return {
    gemini,
    openai,
    anthropic,
    openrouter,
    "azure-openai": azure,
    providers: {
      gemini: { baseUrl: gemini.url },
      openai: { baseUrl: openai.url },
      anthropic: { baseUrl: anthropic.url },
      openrouter: { baseUrl: `${openrouter.url}/api/v1`, authUrl: openrouter.authUrl },
      "azure-openai": { userEndpoints: { hosts: ["127.0.0.1"], allowPrivateNetwork: true } },
    },
    close,
  };
}
