// The one default and the one check for batch sizes: rotate, verify, the stores' scan() and the CLI's --batch-size.
import { invalid } from "./validate.js";

/** Records per batch when none is given. */
export const DEFAULT_BATCH_SIZE = 500;
/** Largest batch accepted: bounds one store call and the memory one batch holds. */
export const MAX_BATCH_SIZE = 10_000;

/**
 * `value`, or {@link DEFAULT_BATCH_SIZE} when undefined.
 * @throws ByokError INVALID_REQUEST unless a whole number from 1 to {@link MAX_BATCH_SIZE}
 */
export function checkBatchSize(value: unknown): number {
  if (value === undefined) return DEFAULT_BATCH_SIZE;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > MAX_BATCH_SIZE) {
    throw invalid(`batchSize must be a whole number from 1 to ${MAX_BATCH_SIZE}.`, ["batchSize"]);
  }
  return value;
}
