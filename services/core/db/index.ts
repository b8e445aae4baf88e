import { AsyncLocalStorage } from 'node:async_hooks';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/client';

export { Prisma, PrismaClient } from './generated/client';
export type * from './generated/client';

export interface DatabaseOptions {
  url: string;
  poolSize?: number;
  /** Called after every query with its duration (metrics, per-request query counts). */
  onQuery?: (durationMs: number) => void;
}

/**
 * Counts the queries of one unit of work (an HTTP request): `queryScope.run({ count: 0 }, fn)`; every query
 * issued inside `fn`, however deep, increments `count`. Used to warn about N+1 query patterns.
 */
export const queryScope = new AsyncLocalStorage<{ count: number }>();

/**
 * A Prisma client over node-postgres (Prisma 7 is engine-free with a driver adapter).
 * Interactive transactions (`db.$transaction(async (tx) => …)`) roll back and re-throw the original error,
 * with its own stack, so callers see what really failed.
 */
export function createDatabase({ url, poolSize = 10, onQuery }: DatabaseOptions): PrismaClient {
  const adapter = new PrismaPg({ connectionString: url, max: poolSize, connectionTimeoutMillis: 5_000 });
  if (!onQuery) return new PrismaClient({ adapter });
  const db = new PrismaClient({ adapter, log: [{ emit: 'event', level: 'query' }] });
  db.$on('query', (event) => {
    const scope = queryScope.getStore();
    if (scope) scope.count++;
    onQuery(event.duration);
  });
  return db as unknown as PrismaClient;
}

/** True when PostgreSQL answers a trivial query within `timeoutMs`. */
export async function databaseIsUp(db: PrismaClient, timeoutMs = 2_000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([db.$queryRaw`SELECT 1`.then(() => true), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
