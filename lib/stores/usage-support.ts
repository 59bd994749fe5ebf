// Checks RedisStore and PostgresStore share for usage rows and budgets: token counts, rows, retention, counters.
import type { BudgetCounter, UsageRow } from "../core/types.js";
import { dayStart } from "../core/days.js";
import { invalid } from "../core/validate.js";

/**
 * `value` when it is a whole number from 0 to `Number.MAX_SAFE_INTEGER` (what Redis's HINCRBY and a
 * PostgreSQL bigint both keep exactly).
 * @throws ByokError INVALID_REQUEST naming `field` otherwise
 */
export function checkCount(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0)
    throw invalid(`${field} must be a whole number from 0 up.`, [field]);
  return value;
}

/**
 * The usage row as the networked stores keep it: a real day, string ids, whole counts.
 * @throws ByokError INVALID_REQUEST naming the first field that is not
 */
export function checkUsageRow(usage: UsageRow): UsageRow {
  dayStart(usage?.day, "day");
  for (const field of ["provider", "model", "userId"] as const)
    if (typeof usage[field] !== "string") throw invalid(`${field} must be a string.`, [field]);
  if (usage.teamId !== undefined && (typeof usage.teamId !== "string" || usage.teamId === ""))
    throw invalid("teamId must be a non-empty string when set.", ["teamId"]);
  for (const field of ["requests", "inputTokens", "outputTokens"] as const) checkCount(usage[field], field);
  return usage;
}

/**
 * A positive number of days to keep usage rows.
 * @throws ByokError INVALID_REQUEST otherwise
 */
export function checkRetentionDays(value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0)
    throw invalid("retentionDays must be a number of days from 0 up.", ["retentionDays"]);
  return value;
}

/**
 * The budget counters of one call: at least one, each with a string name, a limit and a `resetsAt`
 * in ms, no name twice (a reservation is one per counter).
 * @throws ByokError INVALID_REQUEST otherwise
 */
export function checkCounters(counters: readonly BudgetCounter[]): readonly BudgetCounter[] {
  if (!Array.isArray(counters) || counters.length === 0)
    throw invalid("counters must be a non-empty array of budget counters.", ["counters"]);
  const names = new Set<string>();
  for (const c of counters as unknown[]) {
    const { name, limit, resetsAt } = (c ?? {}) as Partial<BudgetCounter>;
    if (typeof name !== "string" || names.has(name))
      throw invalid("each counter needs a name of its own (a string).", ["counters"]);
    names.add(name);
    if (
      typeof limit !== "number" ||
      !Number.isFinite(limit) ||
      typeof resetsAt !== "number" ||
      !Number.isFinite(resetsAt)
    )
      throw invalid("each counter needs a finite limit and resetsAt (ms since the epoch).", ["counters"]);
  }
  return counters;
}
