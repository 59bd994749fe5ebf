// RedisStore's usage rows and budget counters: their key shapes, how a row is kept in a hash, and the calls on them.
import type { Cluster, Redis } from "ioredis";
import type { BudgetCounter, BudgetRefusal, UsageRow } from "../core/types.js";
import { invalid } from "../core/validate.js";
import { hgetallMany } from "./redis-client.js";
import { encodedOwnerId } from "../core/owner.js";
import { runScriptOnKeys } from "./redis-scripts.js";
import { ADD_USAGE, RESERVE, SETTLE } from "./redis-usage-scripts.js";
import { checkCount, checkCounters, checkRetentionDays, checkUsageRow } from "./usage-support.js";
import { DAY_MS, dayOf, dayStart } from "../core/days.js";

type Client = Redis | Cluster;

/** The most days one `readUsage` reads (one hash each): the range's last 400 days, ending at `toDay`. */
export const MAX_USAGE_DAYS = 400;

/**
 * `<prefix>usage:{<base64url owner id>}:<YYYY-MM-DD>`: one hash per owner and day. It never matches
 * a record hash (`<prefix>{…}`, which `scan()` looks for) nor a rate-limit counter (`byok-rl:…`), and
 * its hash tag keeps an owner's days and counters in one cluster slot.
 */
export const usageKey = (prefix: string, ownerId: string, day: string): string =>
  `${prefix}usage:${encodedOwnerId(ownerId)}:${day}`;

/** `<prefix>budget:{<base64url owner id>}:<base64url counter name>`: one hash per budget counter. */
export const budgetKey = (prefix: string, ownerId: string, name: string): string =>
  `${prefix}budget:${encodedOwnerId(ownerId)}:${Buffer.from(name, "utf8").toString("base64url")}`;

/** SCAN patterns of every usage day and budget counter of `ownerId` (the prefix and the encoding hold no glob characters). */
export const ownerDataPatterns = (prefix: string, ownerId: string): { usage: string; budgets: string } => ({
  usage: `${prefix}usage:${encodedOwnerId(ownerId)}:*`,
  budgets: `${prefix}budget:${encodedOwnerId(ownerId)}:*`,
});

/**
 * A row's fields in its day's hash are `<stem>|r`, `|i`, `|o` (requests, input and output tokens,
 * each counted with HINCRBY) and `|e` (present once estimated); the stem is the JSON array
 * `[provider, model, userId, teamId or null]`, which no id can break out of.
 */
const stemOf = (u: UsageRow): string => JSON.stringify([u.provider, u.model, u.userId, u.teamId ?? null]);

/**
 * Adds one call's counts to the row of each owner: one script call per owner (owners live in
 * different slots), all sent at once. Each day's hash expires `retentionDays` days after its end.
 */
export async function addUsageOn(
  client: Client,
  prefix: string,
  ownerIds: readonly string[],
  usage: UsageRow,
  retentionDays: number,
): Promise<void> {
  const expiresAt = Math.ceil((dayStart(usage.day, "day") + DAY_MS + retentionDays * DAY_MS) / 1000);
  const args = [
    stemOf(usage),
    String(usage.requests),
    String(usage.inputTokens),
    String(usage.outputTokens),
    usage.estimated ? "1" : "0",
    String(expiresAt),
  ];
  await Promise.all(
    [...new Set(ownerIds)].map((ownerId) =>
      runScriptOnKeys(client, ADD_USAGE, [usageKey(prefix, ownerId, usage.day)], args),
    ),
  );
}

/** Checks addUsage's arguments before anything is sent. */
export function checkAddUsage(ownerIds: readonly string[], usage: UsageRow, retentionDays: number): void {
  if (!Array.isArray(ownerIds)) throw invalid("ownerIds must be an array of owner ids.", ["ownerIds"]);
  for (const ownerId of ownerIds) encodedOwnerId(ownerId);
  checkUsageRow(usage);
  checkRetentionDays(retentionDays);
}

/** The day hashes `readUsage(ownerId, fromDay, toDay)` reads: one per day, at most {@link MAX_USAGE_DAYS}. */
export function usageKeys(prefix: string, ownerId: string, fromDay: string, toDay: string): string[] {
  const to = dayStart(toDay, "toDay");
  const from = Math.max(dayStart(fromDay, "fromDay"), to - (MAX_USAGE_DAYS - 1) * DAY_MS);
  const keys: string[] = [];
  for (let at = from; at <= to; at += DAY_MS) keys.push(usageKey(prefix, ownerId, dayOf(at)));
  return keys;
}

/** Reads the day hashes of {@link usageKeys} (one pipelined read) back into rows. */
export async function readUsageFrom(client: Client, keys: string[]): Promise<UsageRow[]> {
  if (keys.length === 0) return [];
  const hashes = await hgetallMany(client, keys);
  return hashes.flatMap((hash, i) => toRows(keys[i]!.slice(-10), hash));
}

/** One day's hash as rows; a field that is not this layout's (written by something else) is skipped. */
function toRows(day: string, hash: Record<string, string>): UsageRow[] {
  const rows = new Map<string, UsageRow>();
  for (const [field, value] of Object.entries(hash)) {
    const stem = field.slice(0, -2);
    let row = rows.get(stem);
    if (!row) {
      const parsed = rowFor(day, stem);
      if (!parsed) continue;
      rows.set(stem, (row = parsed));
    }
    const count = Number(value);
    switch (field.slice(-2)) {
      case "|r":
        row.requests = count;
        break;
      case "|i":
        row.inputTokens = count;
        break;
      case "|o":
        row.outputTokens = count;
        break;
      case "|e":
        row.estimated = true;
    }
  }
  return [...rows.values()];
}

/** A zero row for a field stem, or `undefined` for a stem that is not `[provider, model, userId, teamId|null]`. */
function rowFor(day: string, stem: string): UsageRow | undefined {
  let ids: unknown;
  try {
    ids = JSON.parse(stem);
  } catch {
    return undefined;
  }
  if (!Array.isArray(ids) || ids.length !== 4) return undefined;
  const [provider, model, userId, teamId] = ids as unknown[];
  if (typeof provider !== "string" || typeof model !== "string" || typeof userId !== "string") return undefined;
  if (teamId !== null && typeof teamId !== "string") return undefined;
  const row: UsageRow = {
    day,
    provider,
    model,
    userId,
    requests: 0,
    inputTokens: 0,
    outputTokens: 0,
    estimated: false,
  };
  if (typeof teamId === "string") row.teamId = teamId;
  return row;
}

/** Checks reserve's or settle's arguments; the keys of the counters, in order. */
export function budgetKeys(
  prefix: string,
  ownerId: string,
  id: string,
  tokens: number,
  counters: readonly BudgetCounter[],
): string[] {
  if (typeof id !== "string" || id.length === 0) throw invalid("id must be a non-empty string.", ["id"]);
  checkCount(tokens, "tokens");
  return checkCounters(counters).map((c) => budgetKey(prefix, ownerId, c.name));
}

/** RESERVE on the counters' hashes: `undefined` when granted, else the first counter over its limit and what it holds. */
export async function reserveOn(
  client: Client,
  keys: string[],
  id: string,
  tokens: number,
  counters: readonly BudgetCounter[],
  ttlMs: number,
): Promise<BudgetRefusal | undefined> {
  const args = [id, String(tokens), String(ttlMs)];
  for (const c of counters) args.push(String(c.limit), String(Math.floor(c.resetsAt)));
  const answer = await runScriptOnKeys(client, RESERVE, keys, args);
  if (!Array.isArray(answer)) return undefined;
  const [index, used] = answer.map(Number) as [number, number];
  return { index, used };
}

/** SETTLE on the counters' hashes. */
export async function settleOn(
  client: Client,
  keys: string[],
  id: string,
  tokens: number,
  counters: readonly BudgetCounter[],
): Promise<void> {
  const args = [id, String(tokens), ...counters.map((c) => String(Math.floor(c.resetsAt)))];
  await runScriptOnKeys(client, SETTLE, keys, args);
}
