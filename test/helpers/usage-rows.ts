// Usage rows for the usage tests: one call's counts, on a day counted from today (UTC), and a client's rows once in.
import type { AiClient } from "../../lib";
import { waitFor } from "./wait-for";

export { DAY_MS } from "../../lib/core/days";
/** YYYY-MM-DD, `days` from today (UTC), and a row of one call (1 request, 10 input and 5 output tokens, today). */
export { dayFrom, call as row } from "../../lib/testing/store-cases-rows";

/**
 * An AI client's usage rows (model, requests, tokens, estimated), once `requests` requests are in: rows are
 * written without being awaited.
 */
export async function rowsAfter(ai: AiClient, requests: number) {
  await waitFor(
    async () => (await ai.usage()).reduce((n, r) => n + r.requests, 0) >= requests,
    `${requests} metered requests`,
  );
  return (await ai.usage()).map(({ model, requests, inputTokens, outputTokens, estimated }) => ({
    model,
    requests,
    inputTokens,
    outputTokens,
    estimated,
  }));
}
