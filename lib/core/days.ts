// UTC days as usage rows, budgets and the stores write them: `YYYY-MM-DD`, checked to be real calendar days.
import { invalid } from "./validate.js";

/** One UTC day, in milliseconds. */
export const DAY_MS = 86_400_000;

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** The `YYYY-MM-DD` (UTC) of a time in ms. */
export const dayOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/**
 * Midnight UTC (ms since the epoch) of a `YYYY-MM-DD` day.
 * @throws ByokError INVALID_REQUEST naming `field` unless a real calendar day in that form (2026-02-30 is not)
 */
export function dayStart(day: unknown, field: string): number {
  const ms = typeof day === "string" && DAY.test(day) ? Date.parse(`${day}T00:00:00.000Z`) : NaN;
  if (Number.isNaN(ms) || dayOf(ms) !== day)
    throw invalid(`${field} must be a day written YYYY-MM-DD (UTC), e.g. "2026-12-04".`, [field]);
  return ms;
}
