// Usage rows for the usage tests: one call's counts, on a day counted from today (UTC), and a client's rows once in.
import type { AiClient, UsageRow } from "../../lib";
import { waitFor } from "./wait-for";

export const DAY_MS = 86_400_000;

/** YYYY-MM-DD, `days` from today (UTC). */
export const dayFrom = (days: number): string => new Date(Date.now() + days * DAY_MS).toISOString().slice(0, 10);

/** A row of one call: 1 request, 10 input and 5 output tokens, today. */
export const row = (userId: string, more: Partial<UsageRow> = {}): UsageRow => ({
  day: dayFrom(0),
  provider: "gemini",
  model: "gemini-2.5-flash",
  userId,
  requests: 1,
  inputTokens: 10,
  outputTokens: 5,
  estimated: false,
  ...more,
});

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
