// A stand-in for Prisma's generated `prisma.byokKey` delegate, over pg: examples/prisma-key-store.ts runs against it.
import type { Pool } from "pg";

/** The example's ByokKeyRow (kept structural here: the test imports the example file, not a copy). */
export interface Row {
  userId: string;
  provider: string;
  label: string;
  ciphertext: string;
  hint: string;
  endpoint: string | null;
  region: string | null;
  priority: number | null;
  expiresAt: Date | null;
  models: string[];
  createdAt: Date;
  updatedAt: Date;
  lastUsedAt: Date | null;
  status: string | null;
  statusUntil: Date | null;
}
type Where = {
  userId?: string | { gt: string };
  provider?: string | { gt: string };
  label?: string | { gt: string };
  ciphertext?: string;
  OR?: Where[];
};
type Id = { userId_provider_label: { userId: string; provider: string; label: string } };

const COLUMNS: Record<keyof Row, string> = {
  userId: "user_id",
  provider: "provider",
  label: "label",
  ciphertext: "ciphertext",
  hint: "hint",
  endpoint: "endpoint",
  region: "region",
  priority: "priority",
  expiresAt: "expires_at",
  models: "models",
  createdAt: "created_at",
  updatedAt: "updated_at",
  lastUsedAt: "last_used_at",
  status: "status",
  statusUntil: "status_until",
};
// Prisma reads a NULL list (a row whose models were never set, as PostgresStore writes "any model") as [].
const SELECT = Object.entries(COLUMNS)
  .map(([field, column]) => `${field === "models" ? `COALESCE(${column}, '{}')` : column} AS "${field}"`)
  .join(", ");

/**
 * The table `prisma migrate` creates for the ByokKey model of docs/stores.md (columns as @map names them): the
 * columns of PostgresStore's table, with Prisma's types (no collation; `String[]` is a nullable TEXT[]).
 */
export const createTableSql = (table: string): string => `CREATE TABLE "${table}" (
  "user_id" TEXT NOT NULL, "provider" TEXT NOT NULL, "label" TEXT NOT NULL DEFAULT 'default',
  "ciphertext" TEXT NOT NULL, "hint" TEXT NOT NULL, "endpoint" TEXT, "region" TEXT, "priority" INTEGER,
  "expires_at" TIMESTAMPTZ(3), "models" TEXT[], "created_at" TIMESTAMPTZ(3) NOT NULL,
  "updated_at" TIMESTAMPTZ(3) NOT NULL, "last_used_at" TIMESTAMPTZ(3), "status" TEXT, "status_until" TIMESTAMPTZ(3),
  CONSTRAINT "${table}_pkey" PRIMARY KEY ("user_id", "provider", "label"))`;

/** An error shaped as Prisma throws it: `code` for request errors, `errorCode` for connection errors. */
const prismaError = (code: string, message: string, key: "code" | "errorCode" = "code") =>
  Object.assign(new Error(message), { [key]: code });

/** Prisma-like: a pg error that means "cannot reach the database" becomes P1001. */
async function query(pool: Pool, sql: string, values: unknown[]) {
  try {
    return await pool.query(sql, values);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "23505")
      throw prismaError("P2002", "Unique constraint failed on the fields: (`user_id`,`provider`,`label`)");
    if (code === undefined || /^(ECONN|ETIMEDOUT|ENOTFOUND)/.test(code) || code.startsWith("08"))
      throw prismaError("P1001", "Can't reach database server", "errorCode");
    throw error;
  }
}

/** `where` as SQL, with its values appended to `values`. */
function whereSql(where: Where, values: unknown[]): string {
  const parts: string[] = [];
  for (const [field, condition] of Object.entries(where)) {
    if (field === "OR") {
      parts.push(`(${(condition as Where[]).map((w) => whereSql(w, values)).join(" OR ")})`);
      continue;
    }
    const column = COLUMNS[field as keyof Row];
    if (typeof condition === "object" && condition !== null) {
      values.push((condition as { gt: string }).gt);
      parts.push(`${column} > $${values.length}`);
    } else {
      values.push(condition);
      parts.push(`${column} = $${values.length}`);
    }
  }
  return parts.length ? `(${parts.join(" AND ")})` : "TRUE";
}

/** `data` as a SET list, with its values appended to `values`. */
function setSql(data: Partial<Row>, values: unknown[]): string {
  return Object.entries(data)
    .map(([field, value]) => (values.push(value), `${COLUMNS[field as keyof Row]} = $${values.length}`))
    .join(", ");
}

/** The delegate methods PrismaKeyStore calls, with Prisma's results and error codes, on one table. */
export function pgPrismaDelegate(pool: Pool, table: string) {
  const t = `"${table}"`;
  const idWhere = ({ userId_provider_label: id }: Id): Where => ({ ...id });
  return {
    async findUnique({ where }: { where: Id }): Promise<Row | null> {
      const values: unknown[] = [];
      const sql = `SELECT ${SELECT} FROM ${t} WHERE ${whereSql(idWhere(where), values)}`;
      return ((await query(pool, sql, values)).rows[0] as Row | undefined) ?? null;
    },
    async findMany(args: { where: Where; orderBy?: Record<string, "asc">[]; take?: number }): Promise<Row[]> {
      const values: unknown[] = [];
      const order = (args.orderBy ?? []).map((o) => `${COLUMNS[Object.keys(o)[0] as keyof Row]} ASC`);
      const sql = `SELECT ${SELECT} FROM ${t} WHERE ${whereSql(args.where, values)}${
        order.length ? ` ORDER BY ${order.join(", ")}` : ""
      }${args.take === undefined ? "" : ` LIMIT ${Number(args.take)}`}`;
      return (await query(pool, sql, values)).rows as Row[];
    },
    async create({ data }: { data: Row }): Promise<Row> {
      const fields = Object.keys(data) as (keyof Row)[];
      const sql = `INSERT INTO ${t} (${fields.map((f) => COLUMNS[f]).join(", ")}) VALUES (${fields
        .map((_, i) => `$${i + 1}`)
        .join(", ")}) RETURNING ${SELECT}`;
      return (await query(pool, sql, Object.values(data))).rows[0] as Row;
    },
    async update({ where, data }: { where: Id; data: Partial<Row> }): Promise<Row> {
      const values: unknown[] = [];
      const sql = `UPDATE ${t} SET ${setSql(data, values)} WHERE ${whereSql(idWhere(where), values)} RETURNING ${SELECT}`;
      const row = (await query(pool, sql, values)).rows[0] as Row | undefined;
      if (!row) throw prismaError("P2025", "Record to update not found.");
      return row;
    },
    async updateMany({ where, data }: { where: Where; data: Partial<Row> }): Promise<{ count: number }> {
      const values: unknown[] = [];
      const sql = `UPDATE ${t} SET ${setSql(data, values)} WHERE ${whereSql(where, values)}`;
      return { count: (await query(pool, sql, values)).rowCount ?? 0 };
    },
    async deleteMany({ where }: { where: Where }): Promise<{ count: number }> {
      const values: unknown[] = [];
      return { count: (await query(pool, `DELETE FROM ${t} WHERE ${whereSql(where, values)}`, values)).rowCount ?? 0 };
    },
  };
}
