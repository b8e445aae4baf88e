import type { Redis } from 'ioredis';
import { dashboardKey, type DashboardData, type VerificationCounts } from '../../queues';
import type { PrismaClient } from '../core/db';
import type { Keyspace } from '../core/redis';

/**
 * The read side of the pre-aggregated statistics. The maintenance role writes the dashboard snapshot after
 * every rollup; the admin API reads it here and never aggregates the logs on a request.
 */

export interface DashboardSnapshot {
  data: DashboardData;
  generatedAt: Date;
  ageMs: number;
  source: 'redis' | 'postgres';
}

export interface StatsReaderDeps {
  db: PrismaClient;
  redis: Redis;
  keys: Keyspace;
  /** When given, the snapshot's age is recorded for nezuko_dashboard_snapshot_age_seconds. */
  metrics?: { markDashboardSnapshot(at: Date): void };
}

/**
 * The latest dashboard snapshot: from Redis, or from PostgreSQL when Redis has none (flushed, or down).
 * Null before the first rollup finished. Every statistics response should carry `generatedAt`.
 */
export async function readDashboard(deps: StatsReaderDeps): Promise<DashboardSnapshot | null> {
  let snapshot: DashboardSnapshot | null = null;
  try {
    const raw = await deps.redis.get(dashboardKey(deps.keys));
    if (raw) {
      const data = JSON.parse(raw) as DashboardData;
      const generatedAt = new Date(data.generatedAt);
      snapshot = { data, generatedAt, ageMs: Date.now() - generatedAt.getTime(), source: 'redis' };
    }
  } catch {
    // Redis unavailable: PostgreSQL has the same snapshot.
  }
  if (!snapshot) {
    const row = await deps.db.dashboardSnapshot.findUnique({ where: { id: 1 } });
    if (!row) return null;
    snapshot = {
      data: row.data as unknown as DashboardData,
      generatedAt: row.generatedAt,
      ageMs: Date.now() - row.generatedAt.getTime(),
      source: 'postgres',
    };
  }
  deps.metrics?.markDashboardSnapshot(snapshot.generatedAt);
  return snapshot;
}

export interface SeriesQuery {
  botId?: number;
  /** Telegram chat id of a group. */
  chatId?: bigint;
  from: Date;
  to: Date;
  /** hour: one point per UTC hour; day: per UTC day. */
  bucket: 'hour' | 'day';
}

/**
 * Verification counts per hour or day for a bot/group and a time range, read from the hourly rollup table
 * (at most a few thousand pre-aggregated rows; never the log). For analytics endpoints with filters the
 * snapshot does not cover. Ranges longer than 400 days are refused by callers.
 */
export async function readVerificationSeries(
  db: PrismaClient,
  q: SeriesQuery,
): Promise<Array<{ at: string } & VerificationCounts>> {
  const unit = q.bucket === 'day' ? 'day' : 'hour';
  const rows = await db.$queryRaw<Array<Record<string, unknown>>>`
    SELECT date_trunc(${unit}, hour, 'UTC') AS at,
      sum(total)::bigint AS total, sum(verified)::bigint AS verified, sum(restricted)::bigint AS restricted,
      sum(approved)::bigint AS approved, sum(declined)::bigint AS declined, sum(skipped)::bigint AS skipped,
      sum(errors)::bigint AS errors, sum(cache_hits)::bigint AS cache_hits, sum(latency_sum_ms)::bigint AS latency_sum_ms,
      sum(guard_at_once)::bigint AS guard_at_once, sum(guard_web_app)::bigint AS guard_web_app,
      sum(guard_timeout)::bigint AS guard_timeout, sum(guard_queued)::bigint AS guard_queued,
      ARRAY[sum(latency_buckets[1]), sum(latency_buckets[2]), sum(latency_buckets[3]), sum(latency_buckets[4]), sum(latency_buckets[5]),
            sum(latency_buckets[6]), sum(latency_buckets[7]), sum(latency_buckets[8]), sum(latency_buckets[9]), sum(latency_buckets[10])]::bigint[] AS buckets
    FROM verification_stats_hourly
    WHERE hour >= ${q.from} AND hour < ${q.to}
      AND (${q.botId ?? null}::int IS NULL OR bot_instance_id = ${q.botId ?? null}::int)
      AND (${q.chatId ?? null}::bigint IS NULL OR chat_id = ${q.chatId ?? null}::bigint)
    GROUP BY 1 ORDER BY 1`;
  return rows.map((r) => ({
    at: (r.at as Date).toISOString(),
    total: Number(r.total),
    verified: Number(r.verified),
    restricted: Number(r.restricted),
    approved: Number(r.approved),
    declined: Number(r.declined),
    skipped: Number(r.skipped),
    errors: Number(r.errors),
    cacheHits: Number(r.cache_hits),
    latencySumMs: Number(r.latency_sum_ms),
    latencyBuckets: (r.buckets as Array<bigint | number>).map(Number),
    guardAtOnce: Number(r.guard_at_once),
    guardWebApp: Number(r.guard_web_app),
    guardTimeout: Number(r.guard_timeout),
    guardQueued: Number(r.guard_queued),
  }));
}
