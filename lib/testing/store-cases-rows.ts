// Shared pieces of the usage and budget conformance cases: rows, counters, owners and polling.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { DAY_MS, dayOf } from "../core/days.js";
import type { BudgetCounter, UsageRow } from "../core/types.js";
import type { UserIds } from "./store-conformance-support.js";

/** `YYYY-MM-DD` of today (UTC) plus `days`. */
export const dayFrom = (days: number): string => dayOf(Date.now() + days * DAY_MS);

/** A row of one call: 1 request, 10 input and 5 output tokens, today. */
export const call = (userId: string, more: Partial<UsageRow> = {}): UsageRow => ({
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

/** Orders rows for order-free comparisons of `readUsage()`. */
export const sorted = (rows: UsageRow[]): UsageRow[] =>
  [...rows].sort((a, b) => {
    const ka = JSON.stringify([a.day, a.provider, a.model, a.userId, a.teamId ?? ""]);
    const kb = JSON.stringify([b.day, b.provider, b.model, b.userId, b.teamId ?? ""]);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });

/** A team's owner id, as byok-ai stores a team's rows and counters. */
export const teamOwner = (user: UserIds): string => user(`\uFFFFteam:${randomUUID()}`);

/** A counter named at random (so runs sharing a backend never meet), resetting in an hour unless told. */
export const counter = (limit: number, resetsAt = Date.now() + 3_600_000): BudgetCounter => ({
  name: `gemini|day|${randomUUID()}`,
  limit,
  resetsAt,
});

/** Polls `check` every 20 ms until it holds; fails naming `what` after 10 s. No fixed sleeps. */
export async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out after 10 s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
