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

/** How one API states usage: which objects of a body (or stream event) may hold it, under which field, with which counts. */
export interface UsageFields {
  /** The objects that may hold the usage object, in order: the body, or one of its members. */
  holders(body: Json): unknown[];
  /** The usage object's field name in a holder. */
  field: string;
  /** The fields of the input and output counts, the first counted one winning. */
  input: readonly string[];
  output: readonly string[];
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
    const inputTokens = firstCount(usage, fields.input) ?? before?.inputTokens ?? 0;
    const outputTokens = firstCount(usage, fields.output) ?? before?.outputTokens ?? 0;
    return { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens };
  };
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
