// Master-key rotation and verification: stream every record, re-encrypt with compare-and-set, count per key id.
import { ByokError } from "../errors.js";
import { keyIdOf } from "../vault/format.js";
import { type CoreContext, storeCall } from "./context.js";
import type { KeyRecord } from "./types.js";

/** Counts reported by `byok.rotate()` (and to `onProgress` after each batch). */
export interface RotateResult {
  /** Records seen. */
  scanned: number;
  /** Re-encrypted under the current master key. */
  rotated: number;
  /** Already under the current key, or changed/deleted by a user while rotation ran (left as the user made it). */
  skipped: number;
  /** Unreadable by every known master key; left untouched. */
  failed: number;
}

/** Options of `byok.rotate()`. */
export interface RotateOptions {
  /** Called after each batch with the running counts. */
  onProgress?: (progress: RotateResult) => void;
  /** Records per batch (read and re-encrypted together). Defaults to 500. */
  batchSize?: number;
}

/** What `verify` finds: records per key id, and the ones no known key can read. */
export interface VerifyResult {
  scanned: number;
  /** Readable records per master-key id (current first in `keyIds`). */
  byKeyId: Record<string, number>;
  /** Key ids of the configured master keys, current first. */
  keyIds: string[];
  /** Records that fail to decrypt: user id and provider only, never the key. */
  unreadable: { userId: string; provider: string; keyId?: string }[];
}

function checkBatchSize(value: unknown): number {
  if (value === undefined) return 500;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > 10_000) {
    throw new ByokError("INVALID_REQUEST", "batchSize must be a whole number from 1 to 10000.", { details: { fields: ["batchSize"] } });
  }
  return value;
}

async function* batches(context: CoreContext, batchSize: number): AsyncGenerator<KeyRecord[]> {
  const iterator = context.store.scan({ batchSize })[Symbol.asyncIterator]();
  try {
    for (;;) {
      const next = await storeCall("scan", () => iterator.next());
      if (next.done) return;
      yield next.value;
    }
  } finally {
    await iterator.return?.();
  }
}

/**
 * Re-encrypts every record not under the current master key. Safe with live traffic: each write is a
 * compare-and-set on the ciphertext that was read, so a key a user replaces or deletes meanwhile is
 * never overwritten or resurrected. Resumable: records already current are skipped.
 */
export async function rotate(context: CoreContext, options: RotateOptions = {}): Promise<RotateResult> {
  const batchSize = checkBatchSize(options.batchSize);
  const result: RotateResult = { scanned: 0, rotated: 0, skipped: 0, failed: 0 };
  for await (const batch of batches(context, batchSize)) {
    await Promise.all(
      batch.map(async (record) => {
        result.scanned++;
        if (context.vault.isCurrent(record.ciphertext)) return void result.skipped++;
        const where = { userId: record.userId, provider: record.provider };
        let sealed: string;
        try {
          sealed = context.vault.seal(context.vault.open(record.ciphertext, where), where);
        } catch {
          return void result.failed++;
        }
        const swapped = await storeCall("compareAndSwap", () => context.store.compareAndSwap(record.userId, record.provider, record.ciphertext, sealed));
        if (swapped) result.rotated++;
        else result.skipped++;
      }),
    );
    options.onProgress?.({ ...result });
  }
  return result;
}

/** Decrypts every record and counts them per master-key id; lists the unreadable ones (ids only). */
export async function verify(context: CoreContext, options: { batchSize?: number; onProgress?: (scanned: number) => void } = {}): Promise<VerifyResult> {
  const batchSize = checkBatchSize(options.batchSize);
  const keyIds = context.vault.keyIds;
  const result: VerifyResult = { scanned: 0, byKeyId: Object.fromEntries(keyIds.map((id) => [id, 0])), keyIds, unreadable: [] };
  for await (const batch of batches(context, batchSize)) {
    for (const record of batch) {
      result.scanned++;
      const keyId = keyIdOf(record.ciphertext);
      try {
        context.vault.open(record.ciphertext, { userId: record.userId, provider: record.provider });
        result.byKeyId[keyId!] = (result.byKeyId[keyId!] ?? 0) + 1;
      } catch {
        result.unreadable.push({ userId: record.userId, provider: record.provider, ...(keyId ? { keyId } : {}) });
      }
    }
    options.onProgress?.(result.scanned);
  }
  return result;
}
