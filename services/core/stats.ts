import type { Redis } from 'ioredis';
import type { PrismaClient } from './db';
import type { Keyspace } from './redis';

/**
 * The read side of the pre-aggregated statistics. The maintenance role writes the dashboard snapshot
 * (Redis `<prefix>:dashboard` and PostgreSQL dashboard_snapshot id 1) after every rollup; the admin API reads
 * it here and never aggregates the logs on a request.
 */

/** Upper bounds (inclusive, ms) of latency_buckets[0..8]; [9] is everything above 5000 ms. */
export const LATENCY_BUCKET_BOUNDS_MS = [10, 25, 50, 100, 250, 500, 1000, 2500, 5000] as const;

export const VERIFICATION_STATUSES = ['verified', 'restricted', 'approved', 'declined', 'skipped', 'error'] as const;
export type VerificationStatusName = (typeof VERIFICATION_STATUSES)[number];

export interface VerificationCounts {
  total: number;
  verified: number;
  restricted: number;
  approved: number;
  declined: number;
  skipped: number;
  errors: number;
  cacheHits: number;
  latencySumMs: number;
  /** 10 non-cumulative counters, see LATENCY_BUCKET_BOUNDS_MS. */
  latencyBuckets: number[];
}

export interface Rates {
  /** Checks that completed (not status error) / all decisions; null without decisions. */
  successRate: number | null;
  /** (verified + approved) / (verified + approved + restricted + declined): users who were already subscribed. */
  passRate: number | null;
  /** Membership answers served from the cache / all decisions. */
  cacheHitRate: number | null;
  avgLatencyMs: number | null;
  /** Estimated from the buckets (linear within a bucket); a value in the open last bucket is reported as 5000. */
  latencyPercentilesMs: { p50: number | null; p90: number | null; p95: number | null; p99: number | null };
}

export type PeriodFigures = VerificationCounts & Rates & {
  /** Start of the period (UTC), null for all time. */
  since: string | null;
  apiCalls: number;
  apiFailures: number;
  api429: number;
};

export interface SeriesPoint {
  /** Start of the UTC hour (ISO). */
  hour: string;
  total: number;
  verified: number;
  restricted: number;
  approved: number;
  declined: number;
  skipped: number;
  errors: number;
  p50Ms: number | null;
  p95Ms: number | null;
}

export interface BotFigures {
  botId: number;
  username: string;
  status: string;
  isActive: boolean;
  groups: number;
  protectedGroups: number;
  today: PeriodFigures;
  week: PeriodFigures;
}

export interface GroupFigures {
  botId: number;
  chatId: string;
  title: string | null;
  total: number;
  verified: number;
  restricted: number;
  errors: number;
}

export interface ApiMethodFigures {
  method: string;
  calls: number;
  failures: number;
  error429: number;
  avgLatencyMs: number | null;
}

export interface DashboardData {
  /** ISO time the snapshot was computed. */
  generatedAt: string;
  /** Last log ids included, per log table (statistics lag the logs by at most one rollup interval). */
  watermarks: Record<string, string>;
  totals: PeriodFigures;
  /** Since 00:00 UTC today. */
  today: PeriodFigures;
  /** Since Monday 00:00 UTC of this week. */
  week: PeriodFigures;
  /** Rolling last 24 hours and last 7 days. */
  last24h: PeriodFigures;
  last7d: PeriodFigures;
  botsByStatus: Record<string, number>;
  bots: BotFigures[];
  /** Groups with most decisions in the last 7 days (top 10). */
  topGroups: GroupFigures[];
  /** API calls in the last 24 hours by method. */
  apiMethods24h: ApiMethodFigures[];
  series: {
    /** One point per hour, oldest first, zero-filled. */
    hourly24h: SeriesPoint[];
    hourly7d: SeriesPoint[];
  };
}

export interface DashboardSnapshot {
  data: DashboardData;
  generatedAt: Date;
  ageMs: number;
  source: 'redis' | 'postgres';
}

export const dashboardKey = (keys: Keyspace) => keys.key('dashboard');

export const emptyCounts = (): VerificationCounts => ({
  total: 0,
  verified: 0,
  restricted: 0,
  approved: 0,
  declined: 0,
  skipped: 0,
  errors: 0,
  cacheHits: 0,
  latencySumMs: 0,
  latencyBuckets: Array(10).fill(0),
});

/** The q-quantile (0..1) of a latency histogram, interpolated linearly inside its bucket. */
export function percentileFromBuckets(buckets: readonly number[], q: number): number | null {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    const count = buckets[i]!;
    if (count > 0 && seen + count >= rank) {
      if (i >= LATENCY_BUCKET_BOUNDS_MS.length) return LATENCY_BUCKET_BOUNDS_MS[LATENCY_BUCKET_BOUNDS_MS.length - 1]!;
      const lower = i === 0 ? 0 : LATENCY_BUCKET_BOUNDS_MS[i - 1]!;
      const upper = LATENCY_BUCKET_BOUNDS_MS[i]!;
      return Math.round(lower + ((rank - seen) / count) * (upper - lower));
    }
    seen += count;
  }
  return LATENCY_BUCKET_BOUNDS_MS[LATENCY_BUCKET_BOUNDS_MS.length - 1]!;
}

const ratio = (a: number, b: number) => (b > 0 ? a / b : null);

export function rates(c: VerificationCounts): Rates {
  return {
    successRate: ratio(c.total - c.errors, c.total),
    passRate: ratio(c.verified + c.approved, c.verified + c.approved + c.restricted + c.declined),
    cacheHitRate: ratio(c.cacheHits, c.total),
    avgLatencyMs: c.total > 0 ? Math.round(c.latencySumMs / c.total) : null,
    latencyPercentilesMs: {
      p50: percentileFromBuckets(c.latencyBuckets, 0.5),
      p90: percentileFromBuckets(c.latencyBuckets, 0.9),
      p95: percentileFromBuckets(c.latencyBuckets, 0.95),
      p99: percentileFromBuckets(c.latencyBuckets, 0.99),
    },
  };
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
    snapshot = { data: row.data as unknown as DashboardData, generatedAt: row.generatedAt, ageMs: Date.now() - row.generatedAt.getTime(), source: 'postgres' };
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
export async function readVerificationSeries(db: PrismaClient, q: SeriesQuery): Promise<Array<{ at: string } & VerificationCounts>> {
  const unit = q.bucket === 'day' ? 'day' : 'hour';
  const rows = await db.$queryRaw<Array<Record<string, unknown>>>`
    SELECT date_trunc(${unit}, hour, 'UTC') AS at,
      sum(total)::bigint AS total, sum(verified)::bigint AS verified, sum(restricted)::bigint AS restricted,
      sum(approved)::bigint AS approved, sum(declined)::bigint AS declined, sum(skipped)::bigint AS skipped,
      sum(errors)::bigint AS errors, sum(cache_hits)::bigint AS cache_hits, sum(latency_sum_ms)::bigint AS latency_sum_ms,
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
  }));
}
