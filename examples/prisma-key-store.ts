// A KeyStore over Prisma: keeps byok-ai's encrypted keys in your database through the ByokKey model of
// docs/stores.md ("Keeping keys with Prisma"). Copy this file into your app and pass `prisma.byokKey`:
//   new BYOK({ masterKey, store: new PrismaKeyStore(prisma.byokKey) })
// It is written against the few methods of the generated delegate that it uses, so it does not depend on your
// generated client. test/readme/prisma-key-store.test.ts runs it through runKeyStoreConformance.
import { ByokError } from "byok-ai";
import type { KeyRecord, KeyStore, PutResult, StoredKeyStatus } from "byok-ai/extend";

/** A row of the ByokKey model. */
export interface ByokKeyRow {
  userId: string;
  provider: string;
  /** Which of the user's keys for the provider: `"default"` unless the app names it. */
  label: string;
  ciphertext: string;
  hint: string;
  endpoint: string | null;
  /** A structured credential's region or location (bound into its ciphertext); `null` otherwise. */
  region: string | null;
  priority: number | null;
  expiresAt: Date | null;
  /** The models the key may serve; `[]` for any (Prisma reads a NULL list as `[]`, so the two are one). */
  models: string[];
  createdAt: Date;
  updatedAt: Date;
  lastUsedAt: Date | null;
  /** `"invalid"`, `"quota_exhausted"` or `"rate_limited"` once the provider refused the key; `null` otherwise. */
  status: string | null;
  /** With `"rate_limited"`: when the provider said to try again. */
  statusUntil: Date | null;
}
type Id = { userId_provider_label: { userId: string; provider: string; label: string } };
type Where = {
  userId?: string | { gt: string };
  provider?: string | { gt: string };
  label?: string | { gt: string };
  ciphertext?: string;
  OR?: Where[];
};

/** What PrismaKeyStore needs of `prisma.byokKey`. */
export interface ByokKeyDelegate {
  findUnique(args: { where: Id }): Promise<ByokKeyRow | null>;
  findMany(args: {
    where: Where;
    orderBy?: { userId?: "asc"; provider?: "asc"; label?: "asc" }[];
    take?: number;
  }): Promise<ByokKeyRow[]>;
  create(args: { data: ByokKeyRow }): Promise<ByokKeyRow>;
  update(args: { where: Id; data: Partial<ByokKeyRow> }): Promise<ByokKeyRow>;
  updateMany(args: { where: Where; data: Partial<ByokKeyRow> }): Promise<{ count: number }>;
  deleteMany(args: { where: Where }): Promise<{ count: number }>;
}

const STATUSES: readonly string[] = ["invalid", "quota_exhausted", "rate_limited"] satisfies StoredKeyStatus[];
const isStoredStatus = (status: string | null): status is StoredKeyStatus => STATUSES.includes(status ?? "");

const toRecord = (row: ByokKeyRow): KeyRecord => ({
  userId: row.userId,
  provider: row.provider,
  label: row.label,
  ciphertext: row.ciphertext,
  hint: row.hint,
  ...(row.endpoint !== null ? { endpoint: row.endpoint } : {}),
  ...(row.region !== null ? { region: row.region } : {}),
  ...(row.priority !== null ? { priority: row.priority } : {}),
  ...(row.expiresAt ? { expiresAt: row.expiresAt.toISOString() } : {}),
  ...(row.models.length > 0 ? { models: row.models } : {}),
  createdAt: row.createdAt.toISOString(),
  updatedAt: row.updatedAt.toISOString(),
  ...(row.lastUsedAt ? { lastUsedAt: row.lastUsedAt.toISOString() } : {}),
  ...(isStoredStatus(row.status) ? { status: row.status } : {}),
  ...(isStoredStatus(row.status) && row.statusUntil ? { statusUntil: row.statusUntil.toISOString() } : {}),
});

/** Prisma's error code: `code` on request errors, `errorCode` on connection errors. */
const codeOf = (error: unknown) => {
  const { code, errorCode } = (error ?? {}) as { code?: unknown; errorCode?: unknown };
  return String(code ?? errorCode ?? "");
};

/** Keeps encrypted keys in the ByokKey model, one row per (userId, provider, label); passes byok-ai's store conformance suite. */
export class PrismaKeyStore implements KeyStore {
  /** Several keys per provider, told apart by label. */
  readonly labels = true;

  constructor(private readonly keys: ByokKeyDelegate) {}

  /** Connection errors (P1xxx) become STORE_UNAVAILABLE, so byok-ai answers 503 as with its own stores. */
  private async run<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (!codeOf(error).startsWith("P1")) throw error;
      throw new ByokError("STORE_UNAVAILABLE", "PrismaKeyStore: the database cannot be reached.");
    }
  }

  get(userId: string, provider: string, label = "default") {
    return this.run(async () => {
      const row = await this.keys.findUnique({ where: { userId_provider_label: { userId, provider, label } } });
      return row ? toRecord(row) : undefined;
    });
  }

  list(userId: string) {
    return this.run(async () => (await this.keys.findMany({ where: { userId } })).map(toRecord));
  }

  /** Create, or replace keeping createdAt; retried if another request creates or deletes it meanwhile. */
  put(record: KeyRecord): Promise<PutResult> {
    const { userId, provider, label = "default", ciphertext, hint } = record;
    const [createdAt, updatedAt] = [new Date(record.createdAt), new Date(record.updatedAt)];
    // Stored as given; a replacing key without them drops the old key's.
    const settings = {
      endpoint: record.endpoint ?? null,
      region: record.region ?? null,
      priority: record.priority ?? null,
      expiresAt: record.expiresAt === undefined ? null : new Date(record.expiresAt),
      models: record.models ?? [],
    };
    const fresh = { ciphertext, hint, ...settings, updatedAt, lastUsedAt: null, status: null, statusUntil: null };
    return this.run(async () => {
      for (;;) {
        try {
          const row = await this.keys.create({ data: { userId, provider, label, createdAt, ...fresh } });
          return { record: toRecord(row), replaced: false };
        } catch (error) {
          if (codeOf(error) !== "P2002") throw error; // P2002: the key exists
        }
        try {
          const where = { userId_provider_label: { userId, provider, label } };
          return { record: toRecord(await this.keys.update({ where, data: fresh })), replaced: true };
        } catch (error) {
          if (codeOf(error) !== "P2025") throw error; // P2025: deleted meanwhile; create it again
        }
      }
    });
  }

  delete(userId: string, provider: string, label = "default") {
    return this.run(async () => (await this.keys.deleteMany({ where: { userId, provider, label } })).count > 0);
  }

  deleteUser(userId: string) {
    return this.run(async () => (await this.keys.deleteMany({ where: { userId } })).count);
  }

  touch(userId: string, provider: string, lastUsedAt: string, label = "default") {
    return this.run(async () => {
      const data = { lastUsedAt: new Date(lastUsedAt) };
      await this.keys.updateMany({ where: { userId, provider, label }, data });
    });
  }

  /** Only while the stored key is still the one that was used, so a key the user just replaced keeps its status. */
  setStatus(
    userId: string,
    provider: string,
    ciphertext: string,
    status: StoredKeyStatus | "ok",
    statusUntil?: string,
    label = "default",
  ) {
    return this.run(async () => {
      const stored = status === "ok" ? null : status;
      const data = { status: stored, statusUntil: stored && statusUntil ? new Date(statusUntil) : null };
      await this.keys.updateMany({ where: { userId, provider, label, ciphertext }, data });
    });
  }

  /** Pages by primary key (not by cursor row, which a concurrent delete could remove). */
  async *scan({ batchSize = 500 } = {}): AsyncIterable<KeyRecord[]> {
    let last: ByokKeyRow | undefined;
    for (;;) {
      const after = last;
      const rows = await this.run(() =>
        this.keys.findMany({
          where: after
            ? {
                OR: [
                  { userId: { gt: after.userId } },
                  { userId: after.userId, provider: { gt: after.provider } },
                  { userId: after.userId, provider: after.provider, label: { gt: after.label } },
                ],
              }
            : {},
          orderBy: [{ userId: "asc" }, { provider: "asc" }, { label: "asc" }],
          take: batchSize,
        }),
      );
      if (rows.length > 0) yield rows.map(toRecord);
      if (rows.length < batchSize) return;
      last = rows[rows.length - 1];
    }
  }

  compareAndSwap(userId: string, provider: string, expectedCiphertext: string, ciphertext: string, label = "default") {
    return this.run(async () => {
      const where = { userId, provider, label, ciphertext: expectedCiphertext };
      return (await this.keys.updateMany({ where, data: { ciphertext } })).count === 1;
    });
  }
}
