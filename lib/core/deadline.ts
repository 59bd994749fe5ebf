// One AbortSignal per provider call that fires on the caller's abort or on timeoutMs, and leaves no timer behind.
import { ByokError } from "../errors.js";
import { DEFAULT_TIMEOUT_MS } from "./context.js";
import type { Provider } from "./types.js";

/** A provider call's signal plus how to tell why it fired. */
export interface Deadline {
  readonly signal: AbortSignal;
  /** Restarts the timer (streams: `timeoutMs` is the longest silence between two parts). */
  refresh(): void;
  /** Turns whatever the call threw into what the caller should see. */
  translate(error: unknown, provider: string): unknown;
  /**
   * Clears the timer and the listener on the caller's signal. Always call it. With `cancel` (the
   * default) it also aborts the signal if still live, which stops an upstream call that was left
   * early; pass `false` once the provider call has settled: there is nothing left to stop, and an
   * abort per call (a DOMException and an event through the SDK's listeners) is measurable overhead.
   */
  dispose(cancel?: boolean): void;
}

/**
 * @param timeoutMs - limit for the call
 * @param callerSignal - the request's own signal, if any
 */
export function startDeadline(timeoutMs: number, callerSignal: AbortSignal | undefined): Deadline {
  const controller = new AbortController();
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new ByokError("PROVIDER_TIMEOUT", "timeout"));
    }, timeoutMs);
  };
  const onCallerAbort = () => controller.abort(callerSignal?.reason);
  if (callerSignal?.aborted) controller.abort(callerSignal.reason);
  else {
    callerSignal?.addEventListener("abort", onCallerAbort, { once: true });
    arm();
  }
  return {
    signal: controller.signal,
    refresh: () => {
      if (!controller.signal.aborted) arm();
    },
    translate(error, provider) {
      if (callerSignal?.aborted) return callerSignal.reason;
      if (timedOut) {
        return new ByokError(
          "PROVIDER_TIMEOUT",
          `The ${provider} provider did not answer within ${timeoutMs} ms; try again, or raise providers.${provider}.timeoutMs.`,
          { provider },
        );
      }
      if (ByokError.is(error)) return error;
      return new ByokError("PROVIDER_ERROR", `The ${provider} provider failed unexpectedly; try again later.`, {
        provider,
        cause: { type: error instanceof Error ? error.name : typeof error },
      });
    },
    dispose(cancel = true) {
      clearTimeout(timer);
      // Cancels the upstream request if the call is left early (a stream the consumer stopped reading).
      if (cancel && !controller.signal.aborted) controller.abort(new DOMException("The call is over.", "AbortError"));
      callerSignal?.removeEventListener("abort", onCallerAbort);
    },
  };
}

/**
 * One provider call that is not a chat (key validation, the model list) under the provider's
 * `timeoutMs`: loads the provider's SDK first (a one-time import is not upstream time), runs `call`
 * with the deadline's signal, and throws what it threw as the caller should see it.
 * @param id - the provider id, for messages
 * @param callerSignal - the request's own signal, if any
 */
export async function callWithDeadline<T>(
  provider: Provider,
  id: string,
  callerSignal: AbortSignal | undefined,
  call: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  await provider.load?.();
  const deadline = startDeadline(provider.timeoutMs ?? DEFAULT_TIMEOUT_MS, callerSignal);
  try {
    return await call(deadline.signal);
  } catch (error) {
    throw deadline.translate(error, id);
  } finally {
    deadline.dispose();
  }
}
