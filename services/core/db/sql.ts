import pg from 'pg';
import { queryScope } from './index';

/**
 * node-postgres beside Prisma, for the few statements that run all the time: the log writers' batched
 * unnest() inserts (every decision and every Telegram call ends up in one) and the API's verifications page.
 * Prisma's raw-query path costs 2–3× the CPU there (a 50-row insert batch: ~1.2 ms against ~0.4 ms here as
 * a prepared statement; a 51-row page: 1.0 ms against 0.4 ms) and returns int8 as bigint, where node-postgres
 * returns the string the API sends anyway. Everything else stays on Prisma. The pool connects lazily and has
 * DB_POOL_SIZE connections of its own.
 */
export interface Sql {
  /** Runs one statement; `name` makes it a prepared statement, parsed once per connection. */
  rows<T extends pg.QueryResultRow>(text: string, values: unknown[], name?: string): Promise<T[]>;
  end(): Promise<void>;
}

export interface SqlOptions {
  url: string;
  poolSize: number;
  /** Called after every statement with its duration, like Prisma's query events. */
  onQuery?: (durationMs: number) => void;
  /** An idle connection that PostgreSQL closed: logged, and the next statement reconnects. */
  onIdleError?: (err: Error) => void;
}

export function createSql({ url, poolSize, onQuery, onIdleError }: SqlOptions): Sql {
  const pool = new pg.Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: 5_000 });
  pool.on('error', (err) => onIdleError?.(err));
  return {
    async rows<T extends pg.QueryResultRow>(text: string, values: unknown[], name?: string): Promise<T[]> {
      const scope = queryScope.getStore();
      if (scope) scope.count++;
      const started = performance.now();
      try {
        return (await pool.query<T>({ text, values, name })).rows;
      } finally {
        onQuery?.(performance.now() - started);
      }
    },
    end: () => pool.end(),
  };
}
