// The store writes a call leaves running after it answered (touch, key status, usage rows, budget settles).
/**
 * Keeps the store writes a call did not wait for, so that `byok.close()` can wait for them before it closes the
 * stores: a shutdown loses none of them, and none is left waiting on a closed pool until its time limit. Each write
 * is bounded by its store's own time limit, so waiting for them is bounded too.
 */
export class Background {
  readonly #running = new Set<Promise<unknown>>();

  /** Tracks `write` until it settles; answers it. */
  track<T>(write: Promise<T>): Promise<T> {
    this.#running.add(write);
    const forget = () => void this.#running.delete(write);
    write.then(forget, forget);
    return write;
  }

  /** Resolves once every write tracked so far has settled (failures included). */
  async drain(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }
}
