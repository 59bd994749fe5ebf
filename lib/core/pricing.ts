// What a call cost: the provider's own figure, else `pricing.prices`, else the price table, in whole micro-dollars.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type * as PriceTable from "@pydantic/genai-prices";
import type { ModelInfo as TableModel, ModelPrice as TablePrice } from "@pydantic/genai-prices";
import { checkOptionsObject, configError, type KeysEnum } from "./option-checks.js";
import { isPlainObject } from "./validate.js";
import type { ModelPrice, Pricing, ProviderPricing, Usage } from "./types.js";

/** The npm package the price table ships in (a dependency: updating prices is updating it). */
export const PRICE_TABLE = "@pydantic/genai-prices";

/** Where a call's cost came from. */
export type CostSource = "provider" | "override" | "table";

/** A call's cost: whole micro-dollars (a safe integer), and what priced it. */
export interface Cost {
  microUsd: number;
  source: CostSource;
  /** With `"table"`: the table's version (`"@pydantic/genai-prices@0.1.8"`), so an audit can replay the price. */
  version?: string;
}

/** What one call is, for its price. */
export interface PricedCall {
  /** The provider id as configured (what `pricing.prices` keys name). */
  provider: string;
  /** The provider's {@link ProviderPricing}, when it has its models in the table. */
  table?: ProviderPricing;
  model: string;
  usage: Usage;
  /** When the call was made (ms since the epoch): some prices are dated. */
  at: number;
}

/** The checked `pricing` option: prices a call, and says what an unpriced call does under a dollar budget. */
export interface Prices {
  /** The call's cost, `undefined` when nothing prices its model. Never throws. */
  cost(call: PricedCall): Cost | undefined;
  readonly unpriced: "refuse" | "allow";
  /** The price table's version, e.g. `"@pydantic/genai-prices@0.1.8"`. */
  readonly version: string;
}

/** Micro-dollars per dollar. */
const MICRO = 1_000_000;
/** The most a price may be, in dollars per million tokens (well above any model's). */
const MAX_PRICE_PER_MTOK = 100_000;

/** One override, with the patterns its key is made of. */
interface Override {
  key: string;
  provider: RegExp | string;
  model: RegExp | string;
  /** How specific it is: characters besides `*`. */
  weight: number;
  price: Required<ModelPrice>;
}

/** A price in pico-dollars per token (dollars per million tokens × 1e6): integer arithmetic for what follows. */
const pico = (perMTok: number): number => Math.round(perMTok * MICRO);

/**
 * Rounds `numerator / denominator` (positive safe integers) half up, exactly: the float quotient is only a first
 * guess, corrected with integer products.
 */
function divideHalfUp(numerator: number, denominator: number): number {
  const shifted = numerator + Math.floor(denominator / 2);
  let q = Math.floor(shifted / denominator);
  if (q * denominator > shifted) q -= 1;
  else if ((q + 1) * denominator <= shifted) q += 1;
  return q;
}

/** The parts of `usage` each price applies to: uncached input, cache reads, cache writes, output. */
function partsOf(usage: Usage): { uncached: number; cached: number; written: number; output: number } {
  const input = usage.inputTokens;
  const cached = Math.min(usage.cachedInputTokens ?? 0, input);
  const written = Math.min(usage.cacheWriteTokens ?? 0, input - cached);
  return { uncached: input - cached - written, cached, written, output: usage.outputTokens };
}

/**
 * Whole micro-dollars for `usage` at per-million-token prices (and a price per request), rounded half up once. In
 * integers (pico-dollars) while the product is exact, else (a call of billions of tokens) in floating point.
 */
export function microUsdOf(usage: Usage, price: Required<ModelPrice> & { perRequest?: number }): number {
  const { uncached, cached, written, output } = partsOf(usage);
  const sum =
    uncached * pico(price.inputPerMTok) +
    cached * pico(price.cachedInputPerMTok) +
    written * pico(price.cacheWritePerMTok) +
    output * pico(price.outputPerMTok) +
    Math.round((price.perRequest ?? 0) * MICRO * MICRO);
  if (Number.isSafeInteger(sum + MICRO)) return divideHalfUp(sum, MICRO);
  return Math.floor(sum / MICRO + 0.5);
}

/**
 * The table's module, loaded on the first price asked for (about half a megabyte of data: an app that never prices a
 * call, or a CLI run, does not pay for loading it). A dependency of byok-ai, so Node's own `require` finds it.
 */
let tableModule: typeof PriceTable | undefined;
const loadTable = (): typeof PriceTable =>
  (tableModule ??= createRequire(__filename)(PRICE_TABLE) as typeof PriceTable);

/** Models found (or not) in the table, by provider and model id; bounded, since model names come from requests. */
const lookedUp = new Map<string, TableModel | null>();
const MAX_LOOKED_UP = 1000;

/**
 * The table's price for `modelId` of `providerId` at `at`: the model is looked up once (the table's matcher costs
 * tens of µs), its price chosen for the date by the table itself where it has dated prices.
 */
function tableEntry(providerId: string, modelId: string, at: number): TablePrice | undefined {
  const key = JSON.stringify([providerId, modelId]);
  let model = lookedUp.get(key);
  const ask = () =>
    loadTable().calcPrice({ input_tokens: 0, output_tokens: 0 }, modelId, { providerId, timestamp: new Date(at) });
  if (model === undefined) {
    const answer = ask();
    model = answer?.model ?? null;
    if (lookedUp.size >= MAX_LOOKED_UP) lookedUp.delete(lookedUp.keys().next().value!);
    lookedUp.set(key, model);
    if (!model) return undefined;
    return answer!.model_price;
  }
  if (!model) return undefined;
  return Array.isArray(model.prices) ? ask()?.model_price : model.prices;
}

/** The price of one table unit for a call with `inputTokens` of input: its base, or the highest tier passed. */
function tablePrice(value: TablePrice[string], inputTokens: number): number | undefined {
  if (typeof value === "number") return value;
  if (!value || typeof value !== "object") return undefined;
  // The tier with the highest start the input passed, in whatever order the data lists them.
  let best = { start: -1, price: value.base };
  for (const tier of value.tiers) if (inputTokens > tier.start && tier.start > best.start) best = tier;
  return best.price;
}

/**
 * The table's price of `usage` for `model` of `table`, at `at`. The table finds the model and its price for the
 * date; the sum is made here, in integers: input, cache reads and writes, output, and a price per request (tiers
 * chosen by the whole input, as the table does). Other units (audio, images, searches) are not counted.
 */
function tableCost(table: ProviderPricing, model: string, usage: Usage, at: number): number | undefined {
  let modelId: string | undefined = model;
  if (table.modelId) {
    try {
      modelId = table.modelId(model);
    } catch {
      return undefined;
    }
  }
  if (typeof modelId !== "string" || modelId === "") return undefined;
  let found: TablePrice | undefined;
  try {
    found = tableEntry(table.providerId, modelId, at);
  } catch {
    return undefined; // a table entry it cannot price (or no table): unpriced rather than a failed call
  }
  if (!found) return undefined;
  const input = usage.inputTokens;
  const inputPerMTok = tablePrice(found.input_mtok, input);
  const outputPerMTok = tablePrice(found.output_mtok, input);
  if (inputPerMTok === undefined || outputPerMTok === undefined) return undefined;
  const perThousandRequests = tablePrice(found.requests_kcount, input);
  return microUsdOf(usage, {
    inputPerMTok,
    outputPerMTok,
    cachedInputPerMTok: tablePrice(found.cache_read_mtok, input) ?? inputPerMTok,
    cacheWritePerMTok: tablePrice(found.cache_write_mtok, input) ?? inputPerMTok,
    ...(perThousandRequests === undefined ? {} : { perRequest: perThousandRequests / 1000 }),
  });
}

/** The version of the price table in use, read once from its package.json (`"unknown"` if that fails). */
let tableVersion: string | undefined;
function readTableVersion(): string {
  if (tableVersion !== undefined) return tableVersion;
  try {
    const main = createRequire(__filename).resolve(PRICE_TABLE);
    const manifest = JSON.parse(readFileSync(join(dirname(main), "..", "package.json"), "utf8")) as {
      version?: unknown;
    };
    tableVersion = `${PRICE_TABLE}@${typeof manifest.version === "string" ? manifest.version : "unknown"}`;
  } catch {
    tableVersion = `${PRICE_TABLE}@unknown`;
  }
  return tableVersion;
}

/** `*` matches any run of characters; everything else is literal. */
function pattern(text: string): RegExp | string {
  if (!text.includes("*")) return text;
  const body = text
    .split("*")
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  return new RegExp(`^${body}$`, "s");
}

const matches = (p: RegExp | string, text: string): boolean => (typeof p === "string" ? p === text : p.test(text));

const PRICE_KNOWN: KeysEnum<ModelPrice> = {
  inputPerMTok: true,
  outputPerMTok: true,
  cachedInputPerMTok: true,
  cacheWritePerMTok: true,
};
const PRICING_KNOWN: KeysEnum<Pricing> = { prices: true, unpriced: true };
const PROVIDER_PART = /^[a-z0-9_*-]{1,32}$/;

function checkPerMTok(value: unknown, label: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > MAX_PRICE_PER_MTOK)
    throw configError(
      `${label} must be a number of US dollars per million tokens from 0 to ${MAX_PRICE_PER_MTOK} (got ${typeof value === "number" ? value : `a ${typeof value}`}), e.g. 2.5 for $2.50 per million tokens.`,
    );
  return value;
}

function checkOverride(key: string, value: unknown, providers: readonly string[]): Override {
  const label = `pricing.prices["${key.slice(0, 80)}"]`;
  const colon = key.indexOf(":");
  const providerPart = colon === -1 ? "" : key.slice(0, colon);
  const modelPart = colon === -1 ? "" : key.slice(colon + 1);
  if (!PROVIDER_PART.test(providerPart) || modelPart === "" || key.length > 300)
    throw configError(
      `${label}: a price's key is "provider:model", either part with * wildcards, e.g. "myprovider:my-model", "myprovider:*" or "*:llama-3.1-*".`,
    );
  if (!providerPart.includes("*") && !providers.includes(providerPart))
    throw configError(`${label}: "${providerPart}" is not a configured provider (${providers.join(", ")}).`);
  const o = checkOptionsObject<ModelPrice>(value, PRICE_KNOWN, label);
  const inputPerMTok = checkPerMTok(o.inputPerMTok, `${label}.inputPerMTok`);
  const price: Required<ModelPrice> = {
    inputPerMTok,
    outputPerMTok: checkPerMTok(o.outputPerMTok, `${label}.outputPerMTok`),
    cachedInputPerMTok:
      o.cachedInputPerMTok === undefined
        ? inputPerMTok
        : checkPerMTok(o.cachedInputPerMTok, `${label}.cachedInputPerMTok`),
    cacheWritePerMTok:
      o.cacheWritePerMTok === undefined
        ? inputPerMTok
        : checkPerMTok(o.cacheWritePerMTok, `${label}.cacheWritePerMTok`),
  };
  return {
    key,
    provider: pattern(providerPart),
    model: pattern(modelPart),
    weight: key.replace(/\*/g, "").length,
    price,
  };
}

/** The override for a call: an exact key first, then the wildcard one with the most characters besides `*`. */
function overrideFor(overrides: readonly Override[], provider: string, model: string): Override | undefined {
  let best: Override | undefined;
  for (const o of overrides) {
    if (!matches(o.provider, provider) || !matches(o.model, model)) continue;
    const exact = typeof o.provider === "string" && typeof o.model === "string";
    if (exact) return o;
    if (!best || o.weight > best.weight) best = o;
  }
  return best;
}

/** A cost the provider stated, in dollars: whole micro-dollars, or `undefined` when it is not a usable figure. */
function statedCost(costUsd: unknown): number | undefined {
  if (typeof costUsd !== "number" || !Number.isFinite(costUsd) || costUsd < 0) return undefined;
  // Rounded through a fixed decimal first, so a stated 0.0000125 is 13 micro-dollars, not 12.499….
  return Math.floor(Number((costUsd * MICRO).toFixed(6)) + 0.5);
}

/**
 * `new BYOK({ pricing })`, checked against the configured provider ids.
 * @throws ByokError CONFIG_INVALID naming the bad price or key
 */
export function parsePricing(value: unknown, providers: readonly string[]): Prices {
  const o = checkOptionsObject<Pricing>(value, PRICING_KNOWN, "pricing");
  if (o.unpriced !== undefined && o.unpriced !== "refuse" && o.unpriced !== "allow")
    throw configError('pricing.unpriced must be "refuse" (the default) or "allow".');
  if (o.prices !== undefined && !isPlainObject(o.prices))
    throw configError('pricing.prices must be an object of "provider:model" → { inputPerMTok, outputPerMTok }.');
  const overrides = Object.entries(o.prices ?? {}).map(([key, price]) => checkOverride(key, price, providers));
  return Object.freeze({
    unpriced: o.unpriced ?? "refuse",
    get version() {
      return readTableVersion();
    },
    cost({ provider, table, model, usage, at }: PricedCall): Cost | undefined {
      const stated = statedCost(usage.costUsd);
      if (stated !== undefined) return { microUsd: stated, source: "provider" };
      const override = overrideFor(overrides, provider, model);
      if (override) return { microUsd: microUsdOf(usage, override.price), source: "override" };
      if (!table) return undefined;
      const microUsd = tableCost(table, model, usage, at);
      return microUsd === undefined ? undefined : { microUsd, source: "table", version: readTableVersion() };
    },
  });
}
