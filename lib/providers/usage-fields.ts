// What the built-in providers share to read usage and request limits from their APIs' JSON, for ai.connection() metering.
import type { Usage } from "../core/types.js";
import { isPlainObject } from "../core/validate.js";

type Json = Record<string, unknown>;

const count = (value: unknown): number | undefined =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? value : undefined;

/** The first counted field of `object` among `names`. */
export function firstCount(object: Json, names: readonly string[]): number | undefined {
  for (const name of names) {
    const n = count(object[name]);
    if (n !== undefined) return n;
  }
  return undefined;
}

/** The counted field at `path` (member names) inside `object`, if every step is an object. */
export function countAt(object: Json, path: readonly string[]): number | undefined {
  let at: unknown = object;
  // Any object, not only a plain one: an SDK's answers may be of its classes.
  for (const name of path) at = typeof at === "object" && at !== null ? (at as Json)[name] : undefined;
  return count(at);
}

/** How one API states usage: which objects of a body (or stream event) may hold it, under which field, with which counts. */
export interface UsageFields {
  /** The objects that may hold the usage object, in order: the body, or one of its members. */
  holders(body: Json): unknown[];
  /** The usage object's field name in a holder. */
  field: string;
  /**
   * The counts (and cost) one usage object states, each left out when it states none; `before` is what the same
   * answer's earlier events stated, for an API whose totals are sums of fields that come in different events.
   */
  counts(usage: Json, before: Usage | undefined): Partial<Usage>;
}

/**
 * A `ProviderConnectionSpec.readUsage` for an API whose usage looks like `fields`: the counts it
 * states, each over what earlier events stated (a stream may state input and output in different events).
 */
export function usageReader(fields: UsageFields): (body: unknown, before: Usage | undefined) => Usage | undefined {
  return (body, before) => {
    if (!isPlainObject(body)) return before;
    const usage = fields
      .holders(body)
      .map((holder) => (isPlainObject(holder) ? holder[fields.field] : undefined))
      .find(isPlainObject);
    if (!usage) return before;
    const stated = fields.counts(usage, before);
    const merged: Usage = { ...before, inputTokens: 0, outputTokens: 0, totalTokens: 0 };
    for (const [name, value] of Object.entries(stated) as [keyof Usage, number | undefined][])
      if (value !== undefined) merged[name] = value;
    merged.inputTokens = stated.inputTokens ?? before?.inputTokens ?? 0;
    merged.outputTokens = stated.outputTokens ?? before?.outputTokens ?? 0;
    merged.totalTokens = merged.inputTokens + merged.outputTokens;
    return merged;
  };
}

/** A dollar figure a usage object states (OpenRouter's `cost`), when it is a finite non-negative number. */
export function dollarsAt(object: Json, name: string): number | undefined {
  const value = object[name];
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/** Leaves out the members of `parts` that are undefined (a Usage states only what its answer did). */
export function stated<T extends object>(parts: T): T {
  return Object.fromEntries(Object.entries(parts).filter(([, v]) => v !== undefined)) as T;
}

/**
 * A `ProviderConnectionSpec.readRequest` for an API whose request bodies name the model in `model`
 * and the output limit in one of `maxOutputFields`.
 */
export function requestReader(
  maxOutputFields: readonly string[],
): (body: unknown) => { model?: string; maxOutputTokens?: number } {
  return (body) => {
    if (!isPlainObject(body)) return {};
    const maxOutputTokens = firstCount(body, maxOutputFields);
    return {
      ...(typeof body.model === "string" ? { model: body.model } : {}),
      ...(maxOutputTokens === undefined ? {} : { maxOutputTokens }),
    };
  };
}
