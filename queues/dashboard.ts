/**
 * The dashboard snapshot: what the maintenance role writes after every rollup (Redis `<prefix>:dashboard`, see
 * keys.ts, and PostgreSQL dashboard_snapshot id 1) and the admin API serves, and how its figures derive from
 * the rolled-up counts (the API derives the same figures for the series it reads from the rollup tables).
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
  /**
   * Guard-bot join requests by how they were decided (verification_log.reason): approved at once, approved after
   * the verification Web App, declined at the timeout, queued for the admins at the timeout.
   */
  guardAtOnce: number;
  guardWebApp: number;
  guardTimeout: number;
  guardQueued: number;
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

export type PeriodFigures = VerificationCounts &
  Rates & {
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
  guardAtOnce: 0,
  guardWebApp: 0,
  guardTimeout: 0,
  guardQueued: 0,
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
