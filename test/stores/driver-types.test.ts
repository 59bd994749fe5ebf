// The stores' structural client types accept the real ioredis and pg classes (checked by tsc in npm test: test/type-tests.test.ts).
import type { Cluster, Redis } from "ioredis";
import type { Pool } from "pg";
import type { PostgresStoreOptions, RedisStoreOptions } from "../../lib";

describe("RedisStoreOptions.client and PostgresStoreOptions.pool", () => {
  it("accept an ioredis Redis or Cluster and a pg Pool without importing either in byok-ai's types", () => {
    const options = (redis: Redis, cluster: Cluster, pool: Pool): [RedisStoreOptions[], PostgresStoreOptions] => [
      [{ client: redis }, { client: cluster }],
      { pool },
    ];
    expect(typeof options).toBe("function");
  });
});
