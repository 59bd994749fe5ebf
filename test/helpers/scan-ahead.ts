// How far a store's scan reads ahead of what it has yielded: the measure of "memory flat in the number of users".
import type { KeyStore } from "../../lib/extend";

/**
 * Walks `store.scan({ batchSize })`, checking every batch's size, and returns how many records it yielded and the
 * most it had read (`read()`, counted by the test's spy on the backend) beyond what it had yielded at any point.
 */
export async function scanReadAhead(
  store: KeyStore,
  batchSize: number,
  read: () => number,
): Promise<{ yielded: number; mostAhead: number }> {
  let yielded = 0;
  let mostAhead = 0;
  for await (const batch of store.scan({ batchSize })) {
    expect(batch.length).toBeLessThanOrEqual(batchSize);
    yielded += batch.length;
    mostAhead = Math.max(mostAhead, read() - yielded);
  }
  return { yielded, mostAhead };
}
