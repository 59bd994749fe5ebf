// Usage and budgets: what each call reserves before it is sent, what it settles to after, and the usage rows it adds.
import { randomUUID } from "node:crypto";
import { debuglog } from "node:util";
import { ByokError } from "../errors.js";
import { type CoreContext, storeCall } from "./context.js";
import { checkOptionsObject, configError, type KeysEnum } from "./option-checks.js";
import { checkObject, checkTeamId, checkUserId, invalid, isPlainObject } from "./validate.js";
import { DAY_MS, dayOf, dayStart } from "./days.js";
import { teamOwnerId } from "./owner.js";
import type { Cost, Prices } from "./pricing.js";
import type {
  Budget,
  BudgetCounter,
  Budgets,
  ByokStores,
  ProviderChatRequest,
  ProviderPricing,
  Usage,
  UsageRow,
} from "./types.js";

const debug = debuglog("byok");

/** How a BYOK meters: rows kept `retentionDays` (absent: usage off) and the budgets (absent: none). */
export interface Metering {
  readonly retentionDays?: number;
  readonly budgets?: Budgets;
  /** With budgets: the reservations whose reserve failed and whose release has not yet succeeded (see {@link startMeter}). */
  readonly unreleased?: Map<string, Unreleased>;
  /** The `pricing` option: what each call cost (absent: nothing is priced). */
  readonly prices?: Prices;
}

/**
 * A reservation whose reserve call failed (STORE_UNAVAILABLE): its answer may have been lost after
 * the store recorded it (a Redis script still runs once a hung server resumes), so it is released,
 * and released again before its owner's next reserve until one release succeeds.
 */
interface Unreleased {
  owner: string;
  counters: readonly BudgetCounter[];
  /** The release in flight, if one is. */
  releasing?: Promise<void>;
}

/** Failed reservations remembered for another release; past it the oldest is left to expire on its TTL. */
const MAX_UNRELEASED = 1000;

/** The output a call may produce when it names no `maxTokens`: its reservation's worst case. */
export const DEFAULT_MAX_OUTPUT_TOKENS = 4096;

/** How long a reservation outlives a process that died holding it. Longer than any call's upstream time. */
const RESERVATION_TTL_MS = 15 * 60_000;

/** What a call reserves: input tokens estimated from its text, plus the output it may produce. */
export interface Estimate {
  inputTokens: number;
  outputTokens: number;
}

/**
 * A generous guess of a request's input tokens: one token per 3 characters (English averages about 4)
 * plus a few per message for the roles and separators the providers add.
 */
export function estimateInputTokens(texts: readonly string[]): number {
  const characters = texts.reduce((sum, text) => sum + text.length, 0);
  return Math.ceil(characters / 3) + 8 * texts.length;
}

/** The estimate of a chat or stream request. */
export function estimateChat(request: ProviderChatRequest): Estimate {
  const texts = request.messages.map((m) => m.content);
  if (request.system !== undefined) texts.push(request.system);
  return { inputTokens: estimateInputTokens(texts), outputTokens: request.maxTokens ?? DEFAULT_MAX_OUTPUT_TOKENS };
}

/** The periods a budget counts in, each with its name part and when it resets (ms since the epoch). */
function periodsOf(budget: Budget, now: number): { period: string; limit: number; resetsAt: number }[] {
  const date = new Date(now);
  const [year, month, day] = [date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()];
  const out: { period: string; limit: number; resetsAt: number }[] = [];
  if (budget.tokensPerDay !== undefined)
    out.push({ period: dayOf(now), limit: budget.tokensPerDay, resetsAt: Date.UTC(year, month, day + 1) });
  if (budget.tokensPerMonth !== undefined)
    out.push({ period: dayOf(now).slice(0, 7), limit: budget.tokensPerMonth, resetsAt: Date.UTC(year, month + 1, 1) });
  return out;
}

/** Who a call is: the user, the team whose key serves it (if any), and the provider. */
export interface Payer {
  userId: string;
  teamId?: string;
  provider: string;
  /** The app's own key serves the call (`platformKeys`): `budgets.platform` applies, per user. */
  platform?: true;
}

/** The budgets that apply to a call, each with the scope its counters are named by. */
function budgetsOf(budgets: Budgets, payer: Payer): { scope: string[]; budget: Budget }[] {
  const { userId, teamId, provider } = payer;
  if (payer.platform) {
    const budget = typeof budgets === "function" ? undefined : budgets.platform;
    return budget ? [{ scope: ["platform", provider], budget }] : [];
  }
  if (typeof budgets === "function") {
    const budget = budgets(teamId === undefined ? { userId, provider } : { userId, teamId, provider });
    if (budget === undefined) return [];
    return [{ scope: teamId === undefined ? ["user", provider] : ["member", userId, provider], budget }];
  }
  if (teamId === undefined) return budgets.user ? [{ scope: ["user", provider], budget: budgets.user }] : [];
  const out: { scope: string[]; budget: Budget }[] = [];
  if (budgets.team) out.push({ scope: ["team", provider], budget: budgets.team });
  if (budgets.member) out.push({ scope: ["member", userId, provider], budget: budgets.member });
  return out;
}

/** One counter a call counts against, with the budget it comes from (for a refusal's details). */
interface Budgeted {
  counter: BudgetCounter;
  /** Whose budget: `"user"`, `"team"`, `"member"` or `"platform"`. */
  scope: string;
  period: "day" | "month";
}

/**
 * Every counter a call counts against (names are JSON arrays: no id can make one collide with
 * another), with the scope and period ("day" or "month") each counts.
 */
function countersOf(budgets: Budgets, payer: Payer, now: number): Budgeted[] {
  return budgetsOf(budgets, payer).flatMap(({ scope, budget }) =>
    periodsOf(budget, now).map(({ period, limit, resetsAt }) => ({
      counter: { name: JSON.stringify([...scope, period]), limit, resetsAt },
      scope: scope[0]!,
      period: period.length === 7 ? ("month" as const) : ("day" as const),
    })),
  );
}

/** The store owner whose counters a call uses: the key's owner (all of one call's counters share it). */
const budgetOwner = ({ userId, teamId }: Payer): string => (teamId === undefined ? userId : teamOwnerId(teamId));

/** What the call is, for its usage row and its price. */
export interface MeterSubject extends Payer {
  model: string;
  /** The provider's {@link ProviderPricing}: where its models are in the price table. */
  pricing?: ProviderPricing;
}

/**
 * `usage` with its `costUsd` (whole micro-dollars, in dollars), and the cost that set it (absent: unpriced, and
 * `usage` has no `costUsd`): the provider's own figure, else `pricing.prices`, else the price table at `at`.
 */
export function priceUsage(
  context: CoreContext,
  subject: MeterSubject,
  usage: Usage,
  at: number = Date.now(),
): { usage: Usage; cost?: Cost } {
  const { costUsd: _stated, ...counts } = usage;
  const cost = context.metering.prices?.cost({
    provider: subject.provider,
    ...(subject.pricing ? { table: subject.pricing } : {}),
    model: subject.model,
    usage,
    at,
  });
  return cost ? { usage: { ...counts, costUsd: cost.microUsd / MICRO_PER_USD }, cost } : { usage: counts };
}

const MICRO_PER_USD = 1_000_000;

/** How a call ended, for its {@link Meter}. */
export interface CallEnd {
  /** The model the provider reported, when it answered. */
  model?: string;
  /** What the provider reported spending, if it did. */
  usage?: Usage;
  /**
   * The provider had the request when the call ended (a stream cut short after it started, a chat
   * aborted after it was sent): without `usage`, the call is counted from its reservation and marked
   * estimated.
   */
  started?: boolean;
  /** The provider answered without stating usage (a request through `ai.connection()`): one request, no tokens. */
  answered?: boolean;
  /** What {@link priceUsage} found for `usage` already (`null`: unpriced); else `end` prices it. */
  cost?: Cost | null;
}

/** One metered call: reserved (when budgets apply) before it is sent; ended exactly once. */
export interface Meter {
  /**
   * Settles the reservation and adds the usage row, in the background. Resolves (never rejects) once
   * the settle is done: a failed call awaits it, so that its caller's retry never meets its stale
   * reservation; a served one does not (its settle rides with the next writes).
   */
  end(outcome: CallEnd): Promise<void>;
}

const tokensOf = (usage: Usage): number => usage.totalTokens || usage.inputTokens + usage.outputTokens;

/** Runs a store write that must never fail the call: a failure is only traced. Resolves when it is done. */
function inBackground(context: CoreContext, operation: string, write: () => Promise<void>): Promise<void> {
  return context.background.track(
    storeCall(operation, write).catch((error: unknown) =>
      debug("%s failed: %s", operation, ByokError.is(error) ? error.code : "error"),
    ),
  );
}

function addUsage(
  context: CoreContext,
  subject: MeterSubject,
  day: string,
  counts: Omit<UsageRow, "day" | "provider" | "model" | "userId" | "teamId">,
): void {
  const { retentionDays } = context.metering;
  const { usage } = context.stores;
  if (retentionDays === undefined || !usage) return;
  const { userId, teamId, provider, model } = subject;
  const row: UsageRow = { day, provider, model, userId, ...(teamId === undefined ? {} : { teamId }), ...counts };
  const owners = teamId === undefined ? [userId] : [userId, teamOwnerId(teamId)];
  void inBackground(context, "addUsage", () => usage.add(owners, row, retentionDays));
}

/** What a refusal by `budgeted`'s budget tells the app (numbers only): which budget, its limit, what the call asked. */
const figuresOf = ({ counter, scope, period }: Budgeted, requested: number) => ({
  scope,
  period,
  unit: "tokens",
  limit: counter.limit,
  requested,
});

/**
 * A call refused by the budget of `budgeted`, which holds `used` (spent and reserved) and has no
 * room for it until its period resets.
 */
function budgetExceeded(budgeted: Budgeted, used: number, requested: number, now: number, provider: string): ByokError {
  const { counter, scope, period } = budgeted;
  const retryAfter = Math.max(1, Math.ceil((counter.resetsAt - now) / 1000));
  return new ByokError(
    "BUDGET_EXCEEDED",
    `This call would exceed the ${scope} token budget for the ${period} (${requested} tokens asked, ${used} of ${counter.limit} used); it resets in ${retryAfter} seconds.`,
    { provider, retryAfter, details: { ...figuresOf(budgeted, requested), used } },
  );
}

/**
 * A call whose worst case alone is more than the whole budget of `budgeted`: waiting for the period
 * to reset will not help, so no `retryAfter`.
 */
function requestExceedsBudget(budgeted: Budgeted, requested: number, provider: string): ByokError {
  const { counter, scope, period } = budgeted;
  return new ByokError(
    "BUDGET_EXCEEDED",
    `This call's worst case (${requested} tokens: its estimated input plus maxTokens, ${DEFAULT_MAX_OUTPUT_TOKENS} when it sets none) is more than the whole ${scope} token budget for the ${period} (${counter.limit}); lower maxTokens or send less text.`,
    { provider, details: { ...figuresOf(budgeted, requested), reason: "request_exceeds_budget" } },
  );
}

/**
 * Starts metering a call: with budgets, reserves the call's worst case against every instance
 * (one store round trip) and throws when it would not fit; without budgets, or without an
 * `estimate` (a request that generates nothing, such as a model listing), costs nothing. A reserve
 * that fails is released in the background (its answer may be what was lost), and again before the
 * owner's next reserve until a release succeeds. A call larger than a whole budget is refused
 * without asking the store (`details.reason: "request_exceeds_budget"`, no `retryAfter`).
 * @throws ByokError BUDGET_EXCEEDED (nothing reserved), STORE_UNAVAILABLE
 */
export async function startMeter(
  context: CoreContext,
  subject: MeterSubject,
  estimate: Estimate | undefined,
): Promise<Meter> {
  const now = Date.now();
  const day = dayOf(now);
  const { budgets } = context.metering;
  const store = context.stores.budgets!;
  const budgeted = budgets === undefined || estimate === undefined ? [] : countersOf(budgets, subject, now);
  const counters = budgeted.map((b) => b.counter);
  const reserved = estimate ? estimate.inputTokens + estimate.outputTokens : 0;
  const id = randomUUID();
  const owner = budgetOwner(subject);
  if (counters.length > 0) {
    const tooBig = budgeted.find((b) => reserved > b.counter.limit);
    if (tooBig) throw requestExceedsBudget(tooBig, reserved, subject.provider);
    await releaseUnreleased(context, owner);
    const refusal = await storeCall("reserve", () =>
      store.reserve(owner, id, reserved, counters, RESERVATION_TTL_MS),
    ).catch((error: unknown) => {
      void release(context, id, { owner, counters });
      throw error;
    });
    if (refusal) throw budgetExceeded(budgeted[refusal.index]!, refusal.used, reserved, now, subject.provider);
  }
  let ended = false;
  return {
    async end({ model = subject.model, usage, started, answered, cost: known }) {
      if (ended) return;
      ended = true;
      const spent = usage ? tokensOf(usage) : started ? reserved : 0;
      const settled =
        counters.length > 0
          ? inBackground(context, "settle", () => store.settle(owner, id, spent, counters))
          : undefined;
      const call = { ...subject, model };
      const costOf = (counted: Usage) =>
        known !== undefined && counted === usage ? (known ?? undefined) : priceUsage(context, call, counted, now).cost;
      if (usage) addUsage(context, call, day, { requests: 1, ...counts(usage, costOf(usage)), estimated: false });
      else if (started && estimate) {
        const guessed = { ...estimate, totalTokens: estimate.inputTokens + estimate.outputTokens };
        addUsage(context, call, day, { requests: 1, ...counts(guessed, costOf(guessed)), estimated: true });
      } else if (answered)
        addUsage(context, call, day, {
          requests: 1,
          inputTokens: 0,
          outputTokens: 0,
          cachedInputTokens: 0,
          reasoningTokens: 0,
          costUsd: 0,
          // A generating request whose answer stated no usage cost something unknown; a listing cost nothing.
          unpriced: estimate ? 1 : 0,
          estimated: false,
        });
      await settled;
    },
  };
}

/**
 * Releases (settles to 0) reservation `id`, which a failed reserve may have left behind. Resolves
 * (never rejects) when done; while it has not succeeded, it stays in `metering.unreleased`.
 */
function release(context: CoreContext, id: string, entry: Unreleased): Promise<void> {
  const unreleased = context.metering.unreleased!;
  unreleased.delete(id); // re-added last: the map keeps the most recent failures
  if (unreleased.size >= MAX_UNRELEASED) unreleased.delete(unreleased.keys().next().value!);
  unreleased.set(id, entry);
  entry.releasing = context.background.track(
    storeCall("release", () => context.stores.budgets!.settle(entry.owner, id, 0, entry.counters)).then(
      () => void unreleased.delete(id),
      (error: unknown) => {
        entry.releasing = undefined;
        debug("release failed: %s", ByokError.is(error) ? error.code : "error");
      },
    ),
  );
  return entry.releasing;
}

/** Before `owner` reserves: the releases of its failed reservations, so that what they held is free again. */
async function releaseUnreleased(context: CoreContext, owner: string): Promise<void> {
  const own = [...context.metering.unreleased!].filter(([, entry]) => entry.owner === owner);
  await Promise.all(own.map(([id, entry]) => entry.releasing ?? release(context, id, entry)));
}

/** A call's counts for its usage row: tokens, and its cost in dollars (0 and `unpriced` when it has none). */
const counts = (usage: Usage, cost: Cost | undefined) => ({
  inputTokens: usage.inputTokens,
  outputTokens: usage.outputTokens,
  cachedInputTokens: usage.cachedInputTokens ?? 0,
  reasoningTokens: usage.reasoningTokens ?? 0,
  costUsd: cost ? cost.microUsd / MICRO_PER_USD : 0,
  unpriced: cost ? 0 : 1,
});

/** The `usage` option of `new BYOK()`. */
export interface UsageOptions {
  /** Days a usage row is kept. Defaults to 90. */
  retentionDays?: number;
}

const DEFAULT_RETENTION_DAYS = 90;
const MAX_RETENTION_DAYS = 3660;
const USAGE_KNOWN: KeysEnum<UsageOptions> = { retentionDays: true };
const BUDGETS_KNOWN: KeysEnum<Exclude<Budgets, (...args: never[]) => unknown>> = {
  user: true,
  team: true,
  member: true,
  platform: true,
};
const BUDGET_KNOWN: KeysEnum<Budget> = { tokensPerDay: true, tokensPerMonth: true };

function checkTokens(value: unknown, label: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0)
    throw configError(
      `${label} must be a positive whole number of tokens (got ${typeof value === "number" ? value : `a ${typeof value}`}).`,
    );
  return value;
}

/** A {@link Budget}, checked; also what a `budgets` function returns (then a bad one fails the call, not construction). */
export function checkBudget(value: unknown, label: string): Budget {
  const o = checkOptionsObject<Budget>(value, BUDGET_KNOWN, label);
  const out: Budget = {};
  if (o.tokensPerDay !== undefined) out.tokensPerDay = checkTokens(o.tokensPerDay, `${label}.tokensPerDay`);
  if (o.tokensPerMonth !== undefined) out.tokensPerMonth = checkTokens(o.tokensPerMonth, `${label}.tokensPerMonth`);
  return Object.freeze(out);
}

function checkBudgets(value: unknown): Budgets {
  if (typeof value === "function") {
    const fn = value as Extract<Budgets, (...args: never[]) => unknown>;
    return (owner) => {
      const budget = fn(owner);
      return budget === undefined ? undefined : checkBudget(budget, "the budget that budgets() returned");
    };
  }
  const o = checkOptionsObject<Exclude<Budgets, (...args: never[]) => unknown>>(value, BUDGETS_KNOWN, "budgets");
  const out: { user?: Budget; team?: Budget; member?: Budget; platform?: Budget } = {};
  for (const scope of ["user", "team", "member", "platform"] as const)
    if (o[scope] !== undefined) out[scope] = checkBudget(o[scope], `budgets.${scope}`);
  return Object.freeze(out);
}

/**
 * `new BYOK({ usage, budgets })` on `stores`: usage is on by default where there is a usage capability (off,
 * silently, without one); asking for usage or budgets without the capability is CONFIG_INVALID.
 */
export function parseMetering(usage: unknown, budgets: unknown, stores: ByokStores, prices?: Prices): Metering {
  const keepsUsage = stores.usage !== undefined;
  const out: { retentionDays?: number; budgets?: Budgets; unreleased?: Map<string, Unreleased>; prices?: Prices } =
    prices ? { prices } : {};
  if (usage !== false) {
    if (usage !== undefined && !isPlainObject(usage))
      throw configError("usage must be false (no usage counting) or { retentionDays?: number }.");
    const o = checkOptionsObject<UsageOptions>(usage, USAGE_KNOWN, "usage");
    if (usage !== undefined && !keepsUsage)
      throw configError(
        "usage: there is no store.usage (usage capability) to keep usage in; MemoryStore, RedisStore and PostgresStore each have one (e.g. store: { keys, usage: postgres.usage }), or pass usage: false.",
      );
    if (
      o.retentionDays !== undefined &&
      (!Number.isInteger(o.retentionDays) || o.retentionDays < 1 || o.retentionDays > MAX_RETENTION_DAYS)
    )
      throw configError(`usage.retentionDays must be a whole number of days from 1 to ${MAX_RETENTION_DAYS}.`);
    if (keepsUsage) out.retentionDays = o.retentionDays ?? DEFAULT_RETENTION_DAYS;
  }
  if (budgets !== undefined) {
    out.budgets = checkBudgets(budgets);
    out.unreleased = new Map();
    if (stores.budgets === undefined)
      throw configError(
        "budgets: there is no store.budgets (budgets capability) to hold reservations in; MemoryStore, RedisStore and PostgresStore each have one (e.g. store: { keys, budgets: redis.budgets }).",
      );
  }
  return Object.freeze(out);
}

/** Whose usage `byok.usage()` reads: a user's (optionally only with one team's key), or a team's. */
export interface UsageQuery {
  /** The user's rows: their own keys and the team keys they used. */
  userId?: string;
  /** The team's rows (every member's use of its keys); with `userId`, that user's use of them. */
  teamId?: string;
  /** First day, YYYY-MM-DD (UTC). Defaults to 29 days before `to`. */
  from?: string;
  /** Last day, YYYY-MM-DD (UTC), included. Defaults to today. */
  to?: string;
}

const USAGE_QUERY_FIELDS = new Set(["userId", "teamId", "from", "to"]);
/** The widest range one read covers (a year and a day). */
const MAX_RANGE_DAYS = 367;
const DEFAULT_RANGE_DAYS = 30;

/** The checked range `[from, to]` of a usage read. */
function usageRange(range: { from?: unknown; to?: unknown }): { from: string; to: string } {
  const to = range.to === undefined ? dayStart(dayOf(Date.now()), "to") : dayStart(range.to, "to");
  const from = range.from === undefined ? to - (DEFAULT_RANGE_DAYS - 1) * DAY_MS : dayStart(range.from, "from");
  const days = (to - from) / DAY_MS + 1;
  if (days < 1) throw invalid("from must not be after to.", ["from", "to"]);
  if (days > MAX_RANGE_DAYS) throw invalid(`A usage read covers at most ${MAX_RANGE_DAYS} days.`, ["from", "to"]);
  return { from: dayOf(from), to: dayOf(to) };
}

/** Rows in a stable order: day, provider, model, user, team. */
function byDay(a: UsageRow, b: UsageRow): number {
  const key = (r: UsageRow) => [r.day, r.provider, r.model, r.userId, r.teamId ?? ""];
  const [x, y] = [key(a), key(b)];
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
  return 0;
}

/**
 * `byok.usage(query)` and `ai.usage(range)`: the rows of a user (own keys and team keys used), a team,
 * or one user's use of one team's keys, oldest day first.
 * @throws ByokError INVALID_REQUEST, CONFIG_INVALID (usage is off), STORE_UNAVAILABLE
 */
export async function readUsage(context: CoreContext, input: unknown): Promise<UsageRow[]> {
  const fields = checkObject(input ?? {}, USAGE_QUERY_FIELDS, "usage()");
  const userId = fields.userId === undefined ? undefined : checkUserId(fields.userId);
  const teamId = fields.teamId === undefined ? undefined : checkTeamId(fields.teamId);
  if (userId === undefined && teamId === undefined)
    throw invalid("usage() needs a userId, a teamId, or both.", ["userId", "teamId"]);
  const { from, to } = usageRange(fields);
  const { usage } = context.stores;
  if (context.metering.retentionDays === undefined || !usage)
    throw configError("Usage is not counted: new BYOK({ usage: false }) was given, or there is no store.usage.");
  const ownerId = userId ?? teamOwnerId(teamId!);
  const rows = await storeCall("readUsage", () => usage.read(ownerId, from, to));
  const mine = userId !== undefined && teamId !== undefined ? rows.filter((r) => r.teamId === teamId) : rows;
  return mine.sort(byDay);
}
