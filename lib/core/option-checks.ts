// Shared option-checking helpers: drop undefined, reject unknown keys with a "did you mean", type checks.
import { ByokError } from "../errors.js";
import { isPlainObject } from "./validate.js";

/** A list of every key of T, checked by the compiler so it cannot fall behind the type (express-rate-limit's KeysEnum). */
export type KeysEnum<T> = { [K in keyof Required<T>]: true };

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** The known name closest to `name`, if one is close enough to be a typo. */
export function didYouMean(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    const d = k.toLowerCase() === lower ? 0 : distance(lower, k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best;
}

/** Thrown for a bad option, from a constructor. */
export function configError(message: string): ByokError {
  return new ByokError("CONFIG_INVALID", message);
}

/**
 * Checks that `input` is a plain object with only known keys, and returns a copy without the
 * undefined values (so `{ store: undefined }` means "use the default").
 */
export function checkOptionsObject<T extends object>(
  input: unknown,
  known: { [K in keyof Required<T>]: unknown },
  where: string,
): Partial<T> {
  if (input === undefined) return {};
  if (!isPlainObject(input)) {
    throw configError(
      `${where}: options must be a plain object (got ${Array.isArray(input) ? "an array" : input === null ? "null" : typeof input === "object" ? "a class instance" : `a ${typeof input}`}).`,
    );
  }
  const names = Object.keys(known);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    if (!Object.hasOwn(known, key)) {
      const guess = didYouMean(key, names);
      throw configError(
        `${where}: unknown option \`${key}\`.${guess ? ` Did you mean \`${guess}\`?` : ""} Known options: ${names.join(", ")}.`,
      );
    }
    if (value !== undefined) out[key] = value;
  }
  return out as Partial<T>;
}

/** How each setting of T is checked: its name → a rule that returns the checked value or throws CONFIG_INVALID. */
export type SettingRules<T> = { [K in keyof Required<T>]: (value: unknown, label: string) => NonNullable<T[K]> };

/**
 * Applies `rules` to settings already through {@link checkOptionsObject}, in the rules' order, each labelled
 * `where.name`; returns the checked values, frozen.
 */
export function applySettingRules<T extends object>(
  given: Partial<T>,
  rules: SettingRules<T>,
  where: string,
): Readonly<Partial<T>> {
  const out: Partial<T> = {};
  for (const name of Object.keys(rules) as (keyof T & string)[]) {
    if (given[name] !== undefined) out[name] = rules[name](given[name], `${where}.${name}`);
  }
  return Object.freeze(out);
}

/** Checks settings: a plain object of the names `rules` knows (with a "did you mean"), each value by its rule. */
export function checkSettings<T extends object>(
  input: unknown,
  rules: SettingRules<T>,
  where: string,
): Readonly<Partial<T>> {
  return applySettingRules(checkOptionsObject<T>(input, rules, where), rules, where);
}

/** `true` or `false`. */
export function checkBoolean(value: unknown, label: string): boolean {
  if (typeof value !== "boolean") throw configError(`${label} must be a boolean.`);
  return value;
}

/** A positive whole number of milliseconds, at most `max`. */
export function checkDuration(value: unknown, label: string, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0 || value > max) {
    throw configError(
      `${label} must be a whole number of milliseconds from 1 to ${max} (got ${typeof value === "number" ? value : `a ${typeof value}`}).`,
    );
  }
  return value;
}

/** An absolute http(s) URL without credentials, query or fragment; returned without a trailing slash. */
export function checkBaseUrl(value: unknown, label: string): string {
  let url: URL | undefined;
  try {
    url = typeof value === "string" ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (
    !url ||
    (url.protocol !== "http:" && url.protocol !== "https:") ||
    url.username ||
    url.password ||
    url.search ||
    url.hash
  ) {
    throw configError(
      `${label} must be an absolute http(s) URL with no credentials, query or fragment, e.g. "https://api.example.com/v1".`,
    );
  }
  return url.href.replace(/\/+$/, "");
}
