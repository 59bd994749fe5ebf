// Master-key rotation and verification: stream every record, re-encrypt with compare-and-set, count per key id.
import { keyIdOf } from "../vault/format.js";
import { checkBatchSize } from "./batch-size.js";
import { type CoreContext, sealContextOf, storeCall } from "./context.js";
import type { CompareAndSwap, KeyRecord, KeyStore } from "./types.js";

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

/** The store's batches, reading one ahead: the store fetches the next batch while the CPU works on this one. */
async function* batches(context: CoreContext, batchSize: number): AsyncGenerator<KeyRecord[]> {
  const iterator = context.store.scan({ batchSize })[Symbol.asyncIterator]();
  const pull = () => storeCall("scan", () => iterator.next());
  let ahead = pull();
  try {
    for (;;) {
      const next = await ahead;
      if (next.done) return;
      ahead = pull();
      // Stopped early (interrupted), this read is dropped: never an unhandled rejection.
      ahead.catch(() => undefined);
      yield next.value;
    }
  } finally {
    await ahead.catch(() => undefined);
    await iterator.return?.();
  }
}

/** One batch of compare-and-sets: `compareAndSwapMany` when the store has it, else one call per record. */
function swapAll(store: KeyStore, swaps: CompareAndSwap[]): Promise<boolean[]> {
  if (swaps.length === 0) return Promise.resolve([]);
  if (store.compareAndSwapMany) return storeCall("compareAndSwap", () => store.compareAndSwapMany!(swaps));
  return Promise.all(
    swaps.map((s) =>
      storeCall("compareAndSwap", () => store.compareAndSwap(s.userId, s.provider, s.expectedCiphertext, s.ciphertext)),
    ),
  );
}

/** Decrypts and re-encrypts one batch (CPU only): the swaps to make, and the counts so far. */
function reseal(context: CoreContext, batch: KeyRecord[]): { swaps: CompareAndSwap[]; counts: RotateResult } {
  const counts: RotateResult = { scanned: batch.length, rotated: 0, skipped: 0, failed: 0 };
  const swaps: CompareAndSwap[] = [];
  for (const record of batch) {
    const { userId, provider, ciphertext } = record;
    let resealed: string | undefined;
    try {
      resealed = context.vault.reseal(ciphertext, sealContextOf(record));
    } catch {
      counts.failed++;
      continue;
    }
    if (resealed === undefined) counts.skipped++;
    else swaps.push({ userId, provider, expectedCiphertext: ciphertext, ciphertext: resealed });
  }
  return { swaps, counts };
}

/**
 * Re-encrypts every record not under the current master key. Safe with live traffic: each write is a
 * compare-and-set on the ciphertext that was read, so a key a user replaces or deletes meanwhile is
 * never overwritten or resurrected. Resumable: records already current are skipped.
 *
 * Three stages overlap: while batch n is re-encrypted, batch n+1 is being read and batch n-1's
 * compare-and-sets are in flight. At most one batch of writes is outstanding, and progress is
 * reported batch by batch, in order, once its writes are done.
 */
export async function rotate(context: CoreContext, options: RotateOptions = {}): Promise<RotateResult> {
  const batchSize = checkBatchSize(options.batchSize);
  const result: RotateResult = { scanned: 0, rotated: 0, skipped: 0, failed: 0 };
  let writing: Promise<void> = Promise.resolve();
  for await (const batch of batches(context, batchSize)) {
    const { swaps, counts } = reseal(context, batch);
    await writing;
    writing = swapAll(context.store, swaps).then((swapped) => {
      for (const ok of swapped) counts[ok ? "rotated" : "skipped"]++;
      for (const k of ["scanned", "rotated", "skipped", "failed"] as const) result[k] += counts[k];
      options.onProgress?.({ ...result });
    });
    // Awaited on the next turn (or below); until then a failure must not count as unhandled.
    writing.catch(() => undefined);
  }
  await writing;
  return result;
}

/** Options of `byok.verify()`. */
export interface VerifyOptions {
  /** Called after each batch with the number of records seen so far. */
  onProgress?: (scanned: number) => void;
  /** Records per batch. Defaults to 500. */
  batchSize?: number;
}

/** Decrypts every record and counts them per master-key id; lists the unreadable ones (ids only). */
export async function verify(context: CoreContext, options: VerifyOptions = {}): Promise<VerifyResult> {
  const batchSize = checkBatchSize(options.batchSize);
  const keyIds = context.vault.keyIds;
  const result: VerifyResult = {
    scanned: 0,
    byKeyId: Object.fromEntries(keyIds.map((id) => [id, 0])),
    keyIds,
    unreadable: [],
  };
  for await (const batch of batches(context, batchSize)) {
    for (const record of batch) {
      result.scanned++;
      const keyId = keyIdOf(record.ciphertext);
      try {
        context.vault.open(record.ciphertext, sealContextOf(record));
        result.byKeyId[keyId!] = (result.byKeyId[keyId!] ?? 0) + 1;
      } catch {
        result.unreadable.push({ userId: record.userId, provider: record.provider, ...(keyId ? { keyId } : {}) });
      }
    }
    options.onProgress?.(result.scanned);
  }
  return result;
}
