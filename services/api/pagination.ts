import type { PrismaClient } from '../core/db';
import { Prisma } from '../core/db';
import { pageOf, type Page } from './schemas';

/**
 * One query for a page and its total: `SELECT …, count(*) OVER () AS "__total" FROM … WHERE …` + ORDER BY,
 * then LIMIT/OFFSET. Only a page past the end (no row to carry the total) costs a second, count-only query.
 */
export async function windowPage<T extends Record<string, unknown>>(
  db: PrismaClient,
  parts: { select: Prisma.Sql; from: Prisma.Sql; where: Prisma.Sql[]; orderBy: Prisma.Sql },
  page: number,
  perPage: number,
): Promise<Page<T>> {
  const where = parts.where.length ? Prisma.sql`WHERE ${Prisma.join(parts.where, ' AND ')}` : Prisma.empty;
  const rows = await db.$queryRaw<Array<T & { __total: bigint }>>`
    SELECT ${parts.select}, count(*) OVER () AS "__total" FROM ${parts.from} ${where} ORDER BY ${parts.orderBy}
    LIMIT ${perPage} OFFSET ${(page - 1) * perPage}`;
  let total = rows[0] ? Number(rows[0].__total) : 0;
  if (!rows.length && page > 1) {
    const [row] = await db.$queryRaw<Array<{ n: bigint }>>`SELECT count(*) AS n FROM ${parts.from} ${where}`;
    total = Number(row?.n ?? 0);
  }
  return pageOf(
    rows.map(({ __total: _t, ...rest }) => rest as unknown as T),
    total,
    page,
    perPage,
  );
}

/** A websearch-style full-text query over the 'simple' configuration; user text is only ever a bound parameter. */
export const tsQuery = (text: string) => Prisma.sql`websearch_to_tsquery('simple', ${text})`;
