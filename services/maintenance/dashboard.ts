import type { Redis } from 'ioredis';
import {
  dashboardKey,
  emptyCounts,
  percentileFromBuckets,
  rates,
  type ApiMethodFigures,
  type BotFigures,
  type DashboardData,
  type GroupFigures,
  type PeriodFigures,
  type SeriesPoint,
  type VerificationCounts,
} from '../../queues';
import type { PrismaClient } from '../core/db';
import type { Keyspace } from '../core/redis';

/**
 * The dashboard snapshot, computed from the hourly rollup tables only (bots × hours rows, never the logs),
 * and written to Redis and to PostgreSQL (dashboard_snapshot id 1). All-time totals before today change only
 * once a day, so they are computed once per UTC day and cached in Redis.
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

type Counts = VerificationCounts & { apiCalls: number; apiFailures: number; api429: number };
const emptyFigures = (): Counts => ({ ...emptyCounts(), apiCalls: 0, apiFailures: 0, api429: 0 });

function add(target: Counts, row: Partial<Counts>): void {
  target.total += row.total ?? 0;
  target.verified += row.verified ?? 0;
  target.restricted += row.restricted ?? 0;
  target.approved += row.approved ?? 0;
  target.declined += row.declined ?? 0;
  target.skipped += row.skipped ?? 0;
  target.errors += row.errors ?? 0;
  target.cacheHits += row.cacheHits ?? 0;
  target.latencySumMs += row.latencySumMs ?? 0;
  row.latencyBuckets?.forEach((v, i) => (target.latencyBuckets[i] = (target.latencyBuckets[i] ?? 0) + v));
  target.guardAtOnce += row.guardAtOnce ?? 0;
  target.guardWebApp += row.guardWebApp ?? 0;
  target.guardTimeout += row.guardTimeout ?? 0;
  target.guardQueued += row.guardQueued ?? 0;
  target.apiCalls += row.apiCalls ?? 0;
  target.apiFailures += row.apiFailures ?? 0;
  target.api429 += row.api429 ?? 0;
}

const figures = (c: Counts, since: Date | null): PeriodFigures => ({
  ...c,
  ...rates(c),
  since: since?.toISOString() ?? null,
});

const num = (v: unknown) => Number(v ?? 0);

function countsFromRow(r: Record<string, unknown>): Counts {
  return {
    total: num(r.total),
    verified: num(r.verified),
    restricted: num(r.restricted),
    approved: num(r.approved),
    declined: num(r.declined),
    skipped: num(r.skipped),
    errors: num(r.errors),
    cacheHits: num(r.cache_hits),
    latencySumMs: num(r.latency_sum_ms),
    latencyBuckets: ((r.buckets as unknown[] | null) ?? Array(10).fill(0)).map(num),
    guardAtOnce: num(r.guard_at_once),
    guardWebApp: num(r.guard_web_app),
    guardTimeout: num(r.guard_timeout),
    guardQueued: num(r.guard_queued),
    apiCalls: num(r.api_calls),
    apiFailures: num(r.api_failures),
    api429: num(r.api_429),
  };
}

const SUMS = `sum(total)::bigint AS total, sum(verified)::bigint AS verified, sum(restricted)::bigint AS restricted,
  sum(approved)::bigint AS approved, sum(declined)::bigint AS declined, sum(skipped)::bigint AS skipped,
  sum(errors)::bigint AS errors, sum(cache_hits)::bigint AS cache_hits, sum(latency_sum_ms)::bigint AS latency_sum_ms,
  sum(guard_at_once)::bigint AS guard_at_once, sum(guard_web_app)::bigint AS guard_web_app,
  sum(guard_timeout)::bigint AS guard_timeout, sum(guard_queued)::bigint AS guard_queued,
  ARRAY[${Array.from({ length: 10 }, (_, i) => `coalesce(sum(latency_buckets[${i + 1}]), 0)`).join(', ')}]::bigint[] AS buckets`;

export interface SnapshotDeps {
  db: PrismaClient;
  redis: Redis;
  keys: Keyspace;
}

/** Per-bot all-time figures for hours before `today`, cached in Redis for the day. */
async function totalsBefore(deps: SnapshotDeps, today: Date): Promise<Map<number, Counts>> {
  const key = deps.keys.key('dashboard', 'totals-before', today.toISOString().slice(0, 10));
  const cached = await deps.redis.get(key);
  if (cached) return new Map(JSON.parse(cached) as Array<[number, Counts]>);
  const verifications = await deps.db.$queryRawUnsafe<Array<Record<string, unknown>>>(
    `SELECT bot_instance_id, ${SUMS} FROM verification_stats_hourly WHERE hour < $1 GROUP BY 1`,
    today,
  );
  const api = await deps.db.$queryRaw<Array<Record<string, unknown>>>`
    SELECT bot_instance_id, sum(calls)::bigint AS api_calls, sum(failure_count)::bigint AS api_failures, sum(error_429_count)::bigint AS api_429
    FROM api_call_stats_hourly WHERE hour < ${today} GROUP BY 1`;
  const byBot = new Map<number, Counts>();
  const get = (id: number) => byBot.get(id) ?? byBot.set(id, emptyFigures()).get(id)!;
  for (const r of verifications) add(get(num(r.bot_instance_id)), countsFromRow(r));
  for (const r of api)
    add(get(num(r.bot_instance_id)), {
      apiCalls: num(r.api_calls),
      apiFailures: num(r.api_failures),
      api429: num(r.api_429),
    });
  await deps.redis.set(key, JSON.stringify([...byBot]), 'EX', 2 * 86_400);
  return byBot;
}

export async function buildDashboard(deps: SnapshotDeps, now = new Date()): Promise<DashboardData> {
  const { db } = deps;
  const currentHour = new Date(Math.floor(now.getTime() / HOUR) * HOUR);
  const today = new Date(Math.floor(now.getTime() / DAY) * DAY);
  const weekStart = new Date(today.getTime() - ((today.getUTCDay() + 6) % 7) * DAY);
  const from24h = new Date(currentHour.getTime() - 23 * HOUR);
  const from7d = new Date(currentHour.getTime() - 167 * HOUR);
  const since = new Date(Math.min(weekStart.getTime(), from7d.getTime(), today.getTime()));

  const [hourly, apiHourly, apiMethods, topGroupRows, bots, groupCounts, watermarks, before] = await Promise.all([
    db.$queryRawUnsafe<Array<Record<string, unknown>>>(
      `SELECT bot_instance_id, hour, ${SUMS} FROM verification_stats_hourly WHERE hour >= $1 GROUP BY 1, 2`,
      since,
    ),
    db.$queryRaw<Array<Record<string, unknown>>>`
      SELECT bot_instance_id, hour, sum(calls)::bigint AS api_calls, sum(failure_count)::bigint AS api_failures, sum(error_429_count)::bigint AS api_429
      FROM api_call_stats_hourly WHERE hour >= ${since} GROUP BY 1, 2`,
    db.$queryRaw<Array<Record<string, unknown>>>`
      SELECT method, sum(calls)::bigint AS calls, sum(failure_count)::bigint AS failures, sum(error_429_count)::bigint AS e429,
        sum(latency_sum_ms)::bigint AS latency
      FROM api_call_stats_hourly WHERE hour >= ${from24h} GROUP BY 1 ORDER BY 2 DESC`,
    db.$queryRaw<Array<Record<string, unknown>>>`
      SELECT s.bot_instance_id, s.chat_id, g.title, s.total, s.verified, s.restricted, s.errors
      FROM (SELECT bot_instance_id, chat_id, sum(total)::bigint AS total, sum(verified)::bigint AS verified,
              sum(restricted)::bigint AS restricted, sum(errors)::bigint AS errors
            FROM verification_stats_hourly WHERE hour >= ${from7d} AND chat_id <> 0
            GROUP BY 1, 2 ORDER BY 3 DESC, 2 LIMIT 10) s
      LEFT JOIN protected_groups g ON g.bot_instance_id = s.bot_instance_id AND g.chat_id = s.chat_id
      ORDER BY s.total DESC, s.chat_id`,
    db.botInstance.findMany({
      where: { deletedAt: null },
      select: { id: true, username: true, status: true, isActive: true },
      orderBy: { id: 'asc' },
    }),
    db.$queryRaw<Array<{ bot_instance_id: number; groups: bigint; protected: bigint }>>`
      SELECT bot_instance_id, count(*) FILTER (WHERE bot_removed_at IS NULL)::bigint AS groups,
        count(*) FILTER (WHERE enabled AND bot_removed_at IS NULL)::bigint AS protected
      FROM protected_groups GROUP BY 1`,
    db.rollupWatermark.findMany(),
    totalsBefore(deps, today),
  ]);

  type Periods = { today: Counts; week: Counts; last24h: Counts; last7d: Counts; all: Counts };
  const newPeriods = (): Periods => ({
    today: emptyFigures(),
    week: emptyFigures(),
    last24h: emptyFigures(),
    last7d: emptyFigures(),
    all: emptyFigures(),
  });
  const global = newPeriods();
  const perBot = new Map<number, Periods>();
  const botPeriods = (id: number) => perBot.get(id) ?? perBot.set(id, newPeriods()).get(id)!;
  const place = (id: number, hour: Date, c: Partial<Counts>) => {
    const t = hour.getTime();
    for (const p of [global, botPeriods(id)]) {
      if (t >= today.getTime()) {
        add(p.today, c);
        add(p.all, c);
      }
      if (t >= weekStart.getTime()) add(p.week, c);
      if (t >= from24h.getTime()) add(p.last24h, c);
      if (t >= from7d.getTime()) add(p.last7d, c);
    }
  };

  const seriesByHour = new Map<number, VerificationCounts>();
  for (const r of hourly) {
    const hour = r.hour as Date;
    const c = countsFromRow(r);
    place(num(r.bot_instance_id), hour, c);
    if (hour.getTime() >= from7d.getTime()) {
      const s =
        seriesByHour.get(hour.getTime()) ?? seriesByHour.set(hour.getTime(), emptyCounts()).get(hour.getTime())!;
      add(s as Counts, c);
    }
  }
  for (const r of apiHourly)
    place(num(r.bot_instance_id), r.hour as Date, {
      apiCalls: num(r.api_calls),
      apiFailures: num(r.api_failures),
      api429: num(r.api_429),
    });
  for (const [id, c] of before) {
    add(global.all, c);
    add(botPeriods(id).all, c);
  }

  const series = (from: Date, hours: number): SeriesPoint[] =>
    Array.from({ length: hours }, (_, i) => {
      const t = from.getTime() + i * HOUR;
      const c = seriesByHour.get(t) ?? emptyCounts();
      return {
        hour: new Date(t).toISOString(),
        total: c.total,
        verified: c.verified,
        restricted: c.restricted,
        approved: c.approved,
        declined: c.declined,
        skipped: c.skipped,
        errors: c.errors,
        p50Ms: percentileFromBuckets(c.latencyBuckets, 0.5),
        p95Ms: percentileFromBuckets(c.latencyBuckets, 0.95),
      };
    });

  const groupsByBot = new Map(groupCounts.map((g) => [g.bot_instance_id, g]));
  const botFigures: BotFigures[] = bots.map((b) => {
    const p = botPeriods(b.id);
    return {
      botId: b.id,
      username: b.username,
      status: b.status,
      isActive: b.isActive,
      groups: num(groupsByBot.get(b.id)?.groups),
      protectedGroups: num(groupsByBot.get(b.id)?.protected),
      today: figures(p.today, today),
      week: figures(p.week, weekStart),
    };
  });
  const botsByStatus: Record<string, number> = {};
  for (const b of bots) botsByStatus[b.status] = (botsByStatus[b.status] ?? 0) + 1;

  const topGroups: GroupFigures[] = topGroupRows.map((r) => ({
    botId: num(r.bot_instance_id),
    chatId: String(r.chat_id),
    title: (r.title as string | null) ?? null,
    total: num(r.total),
    verified: num(r.verified),
    restricted: num(r.restricted),
    errors: num(r.errors),
  }));
  const apiMethods24h: ApiMethodFigures[] = apiMethods.map((r) => ({
    method: String(r.method),
    calls: num(r.calls),
    failures: num(r.failures),
    error429: num(r.e429),
    avgLatencyMs: num(r.calls) > 0 ? Math.round(num(r.latency) / num(r.calls)) : null,
  }));

  return {
    generatedAt: now.toISOString(),
    watermarks: Object.fromEntries(watermarks.map((w) => [w.name, String(w.lastId)])),
    totals: figures(global.all, null),
    today: figures(global.today, today),
    week: figures(global.week, weekStart),
    last24h: figures(global.last24h, from24h),
    last7d: figures(global.last7d, from7d),
    botsByStatus,
    bots: botFigures,
    topGroups,
    apiMethods24h,
    series: { hourly24h: series(from24h, 24), hourly7d: series(from7d, 168) },
  };
}

/** Computes the snapshot and stores it in Redis and PostgreSQL. */
export async function writeDashboard(deps: SnapshotDeps, now = new Date()): Promise<DashboardData> {
  const data = await buildDashboard(deps, now);
  const json = JSON.stringify(data);
  await deps.db.$executeRaw`
    INSERT INTO dashboard_snapshot (id, data, generated_at) VALUES (1, ${json}::jsonb, ${now})
    ON CONFLICT (id) DO UPDATE SET data = excluded.data, generated_at = excluded.generated_at`;
  await deps.redis.set(dashboardKey(deps.keys), json);
  return data;
}
