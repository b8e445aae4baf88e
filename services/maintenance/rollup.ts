import { Prisma, type PrismaClient } from '../core/db';

/**
 * Incremental statistics rollups: log rows with `id > watermark` are aggregated in SQL
 * (INSERT … SELECT … GROUP BY … ON CONFLICT DO UPDATE adding the counts) and the watermark moves to the
 * last id rolled up, in the same transaction — so every row is counted exactly once.
 *
 * Late rows. Ids come from a sequence when a row is inserted, but rows commit in any order: the row with
 * id 41 may commit after id 42 was read. A watermark moved past 42 would skip 41 for ever. So a run first
 * settles an upper bound: it reads the sequence's last value C, then waits until no transaction that
 * started before that moment still holds a write lock on the log table (pg_locks joined to
 * pg_stat_activity.xact_start). Every id ≤ C was handed out by such a transaction (nextval runs inside the
 * INSERT, after the table lock was taken), so once they are all gone each id ≤ C is either committed and
 * visible or rolled back for good; rows up to C are final. Inserts are short autocommit batches, so the wait
 * is normally a few milliseconds; a writer held open longer than `settleTimeoutMs` defers the run (nothing is
 * skipped, the next run tries again).
 *
 * Rows whose created_at falls into an hour rolled up long ago (a log batch retried after a database outage)
 * are simply added to that hour: the upsert adds, it never replaces.
 */

export interface RollupTable {
  /** Log table and its watermark name. */
  name: 'verification_log' | 'api_call_log';
  sequence: string;
  /** Aggregates ids in ($1, $2] into the hourly table, adding to existing rows. */
  aggregate: string;
}

const bucketBounds = [10, 25, 50, 100, 250, 500, 1000, 2500, 5000];
const bucketExprs = [
  ...bucketBounds.map(
    (upper, i) =>
      `count(*) FILTER (WHERE latency_ms ${i === 0 ? '<= 10' : `> ${bucketBounds[i - 1]} AND latency_ms <= ${upper}`})::int`,
  ),
  `count(*) FILTER (WHERE latency_ms > 5000)::int`,
].join(', ');

export const VERIFICATION_ROLLUP: RollupTable = {
  name: 'verification_log',
  sequence: 'verification_log_id_seq',
  // chat_id > 0 is not a group (a private chat): counted under 0, "no group" (CHECK chat_id <= 0).
  aggregate: `
    INSERT INTO verification_stats_hourly AS t
      (bot_instance_id, chat_id, hour, total, verified, restricted, approved, declined, skipped, errors,
       cache_hits, latency_sum_ms, latency_buckets, guard_at_once, guard_web_app, guard_timeout, guard_queued, updated_at)
    SELECT bot_instance_id, CASE WHEN chat_id <= 0 THEN chat_id ELSE 0 END, date_trunc('hour', created_at, 'UTC'),
      count(*)::int,
      count(*) FILTER (WHERE status = 'verified')::int,
      count(*) FILTER (WHERE status = 'restricted')::int,
      count(*) FILTER (WHERE status = 'approved')::int,
      count(*) FILTER (WHERE status = 'declined')::int,
      count(*) FILTER (WHERE status = 'skipped')::int,
      count(*) FILTER (WHERE status = 'error')::int,
      count(*) FILTER (WHERE cached)::int,
      coalesce(sum(latency_ms), 0)::bigint,
      ARRAY[${bucketExprs}],
      count(*) FILTER (WHERE reason = 'guard_at_once')::int,
      count(*) FILTER (WHERE reason = 'guard_web_app')::int,
      count(*) FILTER (WHERE reason = 'guard_timeout')::int,
      count(*) FILTER (WHERE reason = 'guard_queued')::int,
      now()
    FROM verification_log
    WHERE id > $1 AND id <= $2
    GROUP BY 1, 2, 3
    ON CONFLICT (bot_instance_id, chat_id, hour) DO UPDATE SET
      total = t.total + excluded.total,
      verified = t.verified + excluded.verified,
      restricted = t.restricted + excluded.restricted,
      approved = t.approved + excluded.approved,
      declined = t.declined + excluded.declined,
      skipped = t.skipped + excluded.skipped,
      errors = t.errors + excluded.errors,
      cache_hits = t.cache_hits + excluded.cache_hits,
      latency_sum_ms = t.latency_sum_ms + excluded.latency_sum_ms,
      latency_buckets = ARRAY(
        SELECT coalesce(a, 0) + coalesce(b, 0)
        FROM unnest(t.latency_buckets, excluded.latency_buckets) WITH ORDINALITY AS u(a, b, i) ORDER BY i),
      guard_at_once = t.guard_at_once + excluded.guard_at_once,
      guard_web_app = t.guard_web_app + excluded.guard_web_app,
      guard_timeout = t.guard_timeout + excluded.guard_timeout,
      guard_queued = t.guard_queued + excluded.guard_queued,
      updated_at = now()`,
};

export const API_CALL_ROLLUP: RollupTable = {
  name: 'api_call_log',
  sequence: 'api_call_log_id_seq',
  aggregate: `
    INSERT INTO api_call_stats_hourly AS t
      (bot_instance_id, hour, method, calls, success_count, failure_count, error_429_count, latency_sum_ms, updated_at)
    SELECT bot_instance_id, date_trunc('hour', created_at, 'UTC'), method,
      count(*)::int,
      count(*) FILTER (WHERE success)::int,
      count(*) FILTER (WHERE NOT success)::int,
      count(*) FILTER (WHERE NOT success AND error_code = 429)::int,
      coalesce(sum(latency_ms), 0)::bigint,
      now()
    FROM api_call_log
    WHERE id > $1 AND id <= $2
    GROUP BY 1, 2, 3
    ON CONFLICT (bot_instance_id, hour, method) DO UPDATE SET
      calls = t.calls + excluded.calls,
      success_count = t.success_count + excluded.success_count,
      failure_count = t.failure_count + excluded.failure_count,
      error_429_count = t.error_429_count + excluded.error_429_count,
      latency_sum_ms = t.latency_sum_ms + excluded.latency_sum_ms,
      updated_at = now()`,
};

export const ROLLUP_TABLES = [VERIFICATION_ROLLUP, API_CALL_ROLLUP];

export interface RollupOptions {
  /** Ids per transaction (a batch of the log, aggregated in one statement). */
  batchSize?: number;
  /** How long to wait for writers that may still commit ids below the bound before deferring the run. */
  settleTimeoutMs?: number;
}

export interface RollupResult {
  table: RollupTable['name'];
  /** Log rows aggregated in this run. */
  rows: number;
  fromId: bigint;
  toId: bigint;
  /** True when an open writer kept the run from settling its bound: nothing was rolled up. */
  deferred: boolean;
}

/** Largest id handed out by the table's sequence so far. */
async function sequenceBound(db: PrismaClient, sequence: string): Promise<{ bound: bigint; at: Date }> {
  const [seq] = await db.$queryRawUnsafe<Array<{ last_value: bigint; is_called: boolean }>>(
    `SELECT last_value, is_called FROM ${sequence}`,
  );
  // Read the clock after the sequence: a later instant only makes the wait more conservative.
  const [clock] = await db.$queryRaw<Array<{ at: Date }>>`SELECT clock_timestamp() AS at`;
  const at = clock!.at;
  const bound = seq!.is_called ? BigInt(seq!.last_value) : BigInt(seq!.last_value) - 1n;
  return { bound, at };
}

/** Transactions that started before `at` and write to `table` (RowExclusiveLock), other than ours. */
async function earlierWriters(db: PrismaClient, table: string, at: Date): Promise<number> {
  const [row] = await db.$queryRaw<Array<{ n: number }>>`
    SELECT count(*)::int AS n
    FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'relation' AND l.relation = ${table}::regclass AND l.mode = 'RowExclusiveLock'
      -- pg_locks spans the cluster; databases cloned from one template share table oids.
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.pid <> pg_backend_pid() AND a.xact_start < ${at}`;
  return row!.n;
}

/** The id up to which every row of `table` is final (committed or rolled back), or null when it did not settle in time. */
export async function settledBound(db: PrismaClient, table: RollupTable, timeoutMs: number): Promise<bigint | null> {
  const { bound, at } = await sequenceBound(db, table.sequence);
  const until = Date.now() + timeoutMs;
  for (let wait = 5; ; wait = Math.min(wait * 2, 200)) {
    if ((await earlierWriters(db, table.name, at)) === 0) return bound;
    if (Date.now() >= until) return null;
    await new Promise((r) => setTimeout(r, wait));
  }
}

export async function readWatermark(db: PrismaClient, name: string): Promise<bigint> {
  const row = await db.rollupWatermark.findUnique({ where: { name } });
  return row?.lastId ?? 0n;
}

/** Rolls one log table up to its settled bound, in batches of `batchSize` ids per transaction. */
export async function rollupTable(
  db: PrismaClient,
  table: RollupTable,
  options: RollupOptions = {},
): Promise<RollupResult> {
  const batchSize = BigInt(options.batchSize ?? 50_000);
  const start = await readWatermark(db, table.name);
  const bound = await settledBound(db, table, options.settleTimeoutMs ?? 10_000);
  if (bound === null) return { table: table.name, rows: 0, fromId: start, toId: start, deferred: true };

  let rows = 0;
  let last = start;
  while (last < bound) {
    const next = last + batchSize < bound ? last + batchSize : bound;
    const done = await db.$transaction(
      async (tx) => {
        // Two runs of the same table never interleave, whatever the queue does (a stalled job re-run, say).
        await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`rollup:${table.name}`}))`;
        await tx.$executeRaw`INSERT INTO rollup_watermarks (name, last_id, updated_at) VALUES (${table.name}, 0, now()) ON CONFLICT (name) DO NOTHING`;
        const [wm] = await tx.$queryRaw<
          Array<{ last_id: bigint }>
        >`SELECT last_id FROM rollup_watermarks WHERE name = ${table.name} FOR UPDATE`;
        const from = BigInt(wm!.last_id);
        if (from >= next) return { from, to: from, rows: 0 };
        const [counted] = await tx.$queryRaw<Array<{ n: number }>>`
        SELECT count(*)::int AS n FROM ${table.name === 'verification_log' ? VERIFICATION_LOG : API_CALL_LOG} WHERE id > ${from} AND id <= ${next}`;
        const n = counted!.n;
        if (n > 0) await tx.$executeRawUnsafe(table.aggregate, from, next);
        await tx.$executeRaw`UPDATE rollup_watermarks SET last_id = ${next}, updated_at = now() WHERE name = ${table.name}`;
        return { from, to: next, rows: n };
      },
      { timeout: 120_000, maxWait: 10_000 },
    );
    rows += done.rows;
    last = done.to > last ? done.to : next;
  }
  return { table: table.name, rows, fromId: start, toId: last, deferred: false };
}

const VERIFICATION_LOG = Prisma.raw('verification_log');
const API_CALL_LOG = Prisma.raw('api_call_log');

// Fixed table identifiers for tagged templates.
export async function rollupAll(db: PrismaClient, options: RollupOptions = {}): Promise<RollupResult[]> {
  const results: RollupResult[] = [];
  for (const table of ROLLUP_TABLES) results.push(await rollupTable(db, table, options));
  return results;
}
