// Master-key rotation and verification: stream every record, re-encrypt or re-wrap with compare-and-set, count per key id.
import { ByokError } from "../errors.js";
import { checkBatchSize } from "./batch-size.js";
import { type CoreContext, sealContextOf, storeCall } from "./context.js";
import { ownerOf } from "./owner.js";
import { type CompareAndSwap, DEFAULT_LABEL, type KeyRecord, type KeyStore } from "./types.js";

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
  /** Readable records per key id: master-key fingerprint or KeyEncryptionKey id (current first in `keyIds`). */
  byKeyId: Record<string, number>;
  /** Ids of the configured keys (master keys, key-encryption keys), current first. */
  keyIds: string[];
  /** Records that fail to decrypt: whose (user id, or team id) and provider only, never the key. */
  unreadable: (({ userId: string } | { teamId: string }) & { provider: string; keyId?: string })[];
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
      storeCall("compareAndSwap", () =>
        store.compareAndSwap(s.userId, s.provider, s.expectedCiphertext, s.ciphertext, s.label),
      ),
    ),
  );
}

/**
 * Key-service calls in flight at once while resealing a batch: enough to hide a KMS round trip, few
 * enough to stay far below a KMS request quota and not to queue past a call's time limit.
 */
const KEY_SERVICE_CONCURRENCY = 16;

/** Runs `work` on every item, at most `limit` at a time; results in input order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const at = next++;
      results[at] = await work(items[at]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * Re-encrypts (or re-wraps) one batch: the swaps to make, and the counts so far. A record no known key
 * opens counts as failed; a key service that fails stops the rotation (run it again once it is back).
 */
async function reseal(
  context: CoreContext,
  batch: KeyRecord[],
): Promise<{ swaps: CompareAndSwap[]; counts: RotateResult }> {
  const counts: RotateResult = { scanned: batch.length, rotated: 0, skipped: 0, failed: 0 };
  const outcomes = await mapLimit(batch, KEY_SERVICE_CONCURRENCY, (record) =>
    context.vault.reseal(record.ciphertext, sealContextOf(record)).catch((error: unknown) => {
      if (ByokError.is(error) && error.code === "KEY_UNREADABLE") return null;
      throw error;
    }),
  );
  const swaps: CompareAndSwap[] = [];
  batch.forEach(({ userId, provider, label, ciphertext }, i) => {
    const resealed = outcomes[i];
    if (resealed === null) counts.failed++;
    else if (resealed === undefined) counts.skipped++;
    else
      swaps.push({
        userId,
        provider,
        label: label ?? DEFAULT_LABEL,
        expectedCiphertext: ciphertext,
        ciphertext: resealed,
      });
  });
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
    const { swaps, counts } = await reseal(context, batch);
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

/**
 * Decrypts every record and counts them per key id (master key or key-encryption key); lists the
 * unreadable ones (ids only). A key service that fails stops it with KEY_SERVICE_UNAVAILABLE.
 */
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
    const readable = await mapLimit(batch, KEY_SERVICE_CONCURRENCY, async (record) => {
      const readability = await context.vault.readability(record.ciphertext, sealContextOf(record));
      if (typeof readability === "object")
        throw new ByokError(
          "KEY_SERVICE_UNAVAILABLE",
          `verify stopped: ${readability.unknown.message} Then run it again.`,
        );
      return readability === "readable";
    });
    batch.forEach(({ userId, provider, ciphertext }, i) => {
      result.scanned++;
      const keyId = context.vault.keyIdOf(ciphertext);
      if (readable[i]) result.byKeyId[keyId!] = (result.byKeyId[keyId!] ?? 0) + 1;
      else
        result.unreadable.push({
          ...ownerOf(userId),
          provider,
          ...(keyId ? { keyId } : {}),
        } as VerifyResult["unreadable"][number]);
    });
    options.onProgress?.(result.scanned);
  }
  return result;
}
