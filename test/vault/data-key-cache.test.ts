import { DataKeyCache } from "../../lib/vault/data-key-cache";

const key = (fill: number) => Buffer.alloc(32, fill);

describe("DataKeyCache", () => {
  let now = 0;
  const clock = () => now;
  const caches: DataKeyCache[] = [];
  const cache = (maxEntries = 10, maxAgeMs = 1000) => {
    const c = new DataKeyCache({ maxAgeMs, maxEntries }, clock);
    caches.push(c);
    return c;
  };
  beforeEach(() => void (now = 1_000_000));
  afterEach(() => caches.splice(0).forEach((c) => c.clear()));

  it("serves a key until maxAgeMs after its unwrap, then zeroes it and asks again", async () => {
    const c = cache();
    const first = key(1);
    c.set("a", first);
    now += 999;
    expect(c.get("a")).toBe(first);
    now += 1;
    expect(c.get("a")).toBeUndefined();
    expect(first.equals(Buffer.alloc(32))).toBe(true);
  });

  it("drops the oldest key, zeroed, when full", () => {
    const c = cache(2);
    const [a, b, d] = [key(1), key(2), key(3)];
    c.set("a", a);
    c.set("b", b);
    c.set("d", d);
    expect([c.get("a"), c.get("b"), c.get("d"), c.size]).toEqual([undefined, b, d, 2]);
    expect(a.equals(Buffer.alloc(32))).toBe(true);
  });

  it("unwraps once for concurrent callers, and forgets a failure", async () => {
    const c = cache();
    let unwraps = 0;
    let fail = true;
    const unwrap = async () => {
      unwraps++;
      if (fail) throw new Error("down");
      return key(7);
    };
    const failed = await Promise.allSettled([1, 2, 3].map(() => c.withKey("a", unwrap, (k) => k[0])));
    expect([unwraps, failed.map((r) => r.status)]).toEqual([1, ["rejected", "rejected", "rejected"]]);
    fail = false;
    expect(await Promise.all([1, 2].map(() => c.withKey("a", unwrap, (k) => k[0])))).toEqual([7, 7]);
    expect(unwraps).toBe(2);
    expect(await c.withKey("a", unwrap, (k) => k[0])).toBe(7);
    expect(unwraps).toBe(2);
  });

  it("gives a waiting caller its key even when a full cache evicted it meanwhile", async () => {
    const c = cache(1);
    const results = await Promise.all([
      c.withKey(
        "a",
        async () => key(1),
        (k) => k[0],
      ),
      c.withKey(
        "b",
        async () => key(2),
        (k) => k[0],
      ),
    ]);
    expect(results).toEqual([1, 2]);
  });

  it("clear() zeroes every key", () => {
    const c = cache();
    const a = key(4);
    c.set("a", a);
    c.clear();
    expect([c.size, a.equals(Buffer.alloc(32))]).toEqual([0, true]);
  });
});
