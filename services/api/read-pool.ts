import pg from 'pg';
import type { AppContext } from '../core/context';
import { queryScope } from '../core/db';

/**
 * node-postgres, without Prisma, for the API's hottest uncached read: the verifications page (logs are live,
 * so every page is a query). Prisma's raw-query path cost about 0.6 ms more CPU per 51-row page here (1.0 ms
 * against 0.4 ms, measured in one process) and returns int8 as bigint, which then needs a replacer to be
 * serialized. node-postgres returns int8 as a string, which is what the API sends anyway.
 * Read-only by intent: every write stays on Prisma. The pool has its own DB_POOL_SIZE connections.
 * Queries count towards the per-request query count and the database metrics like Prisma's.
 */
export function readPool(ctx: Pick<AppContext, 'config' | 'log' | 'metrics' | 'lifecycle'>) {
  const pool = new pg.Pool({ connectionString: ctx.config.DATABASE_URL, max: ctx.config.DB_POOL_SIZE, connectionTimeoutMillis: 5_000 });
  // An idle connection that PostgreSQL closes must not take the process down; the next query reconnects.
  pool.on('error', (err) => ctx.log.warn('api read pool connection error', { error: err.message }));
  ctx.lifecycle.onShutdown('database', 'api read pool', () => pool.end());
  return {
    async rows<T extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<T[]> {
      const scope = queryScope.getStore();
      if (scope) scope.count++;
      const started = performance.now();
      try {
        return (await pool.query<T>(text, values)).rows;
      } finally {
        ctx.metrics.dbQueries.inc();
        ctx.metrics.dbQueryDuration.observe((performance.now() - started) / 1000);
      }
    },
  };
}
export type ReadPool = ReturnType<typeof readPool>;
