// Starts the three built-in fakes at once, with a ready-made `providers` option pointing BYOK at them.
import type { ProviderOptions } from "../core/types.js";
import { startFakeAnthropic } from "./fake-anthropic.js";
import { startFakeGemini } from "./fake-gemini.js";
import { startFakeOpenAI } from "./fake-openai.js";
import type { FakeUpstream, FakeUpstreamOptions } from "./fake-upstream.js";

/** The running fakes of {@link startFakeProviders}. */
export interface FakeProviders {
  gemini: FakeUpstream;
  openai: FakeUpstream;
  anthropic: FakeUpstream;
  /** Pass as `new BYOK({ providers })`: every built-in provider pointed at its fake. */
  providers: { gemini: ProviderOptions; openai: ProviderOptions; anthropic: ProviderOptions };
  /** Stops all three. */
  close(): Promise<void>;
}

/**
 * Starts fake Gemini, OpenAI and Anthropic servers on 127.0.0.1.
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
  ]);
  const fakes = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  const close = async () => void (await Promise.all(fakes.map((f) => f.close())));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) {
    await close();
    throw failed.reason;
  }
  const [gemini, openai, anthropic] = fakes as [FakeUpstream, FakeUpstream, FakeUpstream];
  return {
    gemini,
    openai,
    anthropic,
    providers: {
      gemini: { baseUrl: gemini.url },
      openai: { baseUrl: openai.url },
      anthropic: { baseUrl: anthropic.url },
    },
    close,
  };
}
