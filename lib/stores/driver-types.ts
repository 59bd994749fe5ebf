// The shapes of the ioredis client and the pg Pool the stores accept, written out so the published types import neither package.
/* eslint-disable @typescript-eslint/no-explicit-any -- a method type every client's overloads are assignable to */

/**
 * What {@link RedisStore} needs of a client: the methods it calls. An ioredis `Redis` or `Cluster`
 * (ioredis 5 or 6) fits; declared here rather than imported, so apps that use no Redis compile
 * the byok-ai types without ioredis installed.
 */
export interface RedisClientLike {
  /** `true` for an ioredis `Cluster`. */
  readonly isCluster: boolean;
  /** ioredis's connection state (`"wait"`, `"connecting"`, `"ready"`, `"end"`…). */
  readonly status: string;
  hget(...args: any[]): Promise<unknown>;
  hgetall(...args: any[]): Promise<unknown>;
  hdel(...args: any[]): Promise<unknown>;
  evalsha(...args: any[]): Promise<unknown>;
  eval(...args: any[]): Promise<unknown>;
  /** Any command by name: ioredis's `call`, which `RedisStore.command()` uses. */
  call(...args: any[]): Promise<unknown>;
  connect(...args: any[]): Promise<unknown>;
  quit(...args: any[]): Promise<unknown>;
  disconnect(...args: any[]): unknown;
  on(...args: any[]): unknown;
  off(...args: any[]): unknown;
  once(...args: any[]): unknown;
}

/**
 * What {@link PostgresStore} needs of a pool: a `pg` `Pool`'s `query` and `connect` (it checks out
 * a connection per call, for a transaction; it adds no listener to the pool). A `pg` `Pool` fits;
 * declared here rather than imported, so apps that use no PostgreSQL compile the byok-ai types without pg.
 */
export interface PgPoolLike {
  query(...args: any[]): Promise<unknown>;
  connect(...args: any[]): Promise<unknown>;
}
