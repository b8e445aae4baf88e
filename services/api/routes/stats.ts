import { z } from 'zod';
import { LATENCY_BUCKET_BOUNDS_MS, rates, type DashboardData, type PeriodFigures } from '../../../queues';
import { readDashboard, readVerificationSeries } from '../stats';
import type { ApiDeps } from '../deps';
import { badRequest } from '../errors';
import * as R from '../responses';
import { defineRoute, JsonBody, type AnyRoute } from '../routing';
import { dbId, isoDate, telegramId } from '../schemas';

/**
 * Statistics: everything is read from what the maintenance role pre-aggregated (the dashboard snapshot in
 * Redis/PostgreSQL and the hourly rollup tables); nothing here touches the raw logs.
 */
export const CHARTS = [
  'verification-distribution',
  'cache-breakdown',
  'groups-status',
  'api-calls',
  'hourly-activity',
  'latency-distribution',
  'top-groups',
  'cache-hit-trend',
  'latency-trend',
  'bot-health',
] as const;
const PERIODS = ['today', 'week', 'last24h', 'last7d', 'totals'] as const;
type Period = (typeof PERIODS)[number];

const bucketLabels = [...LATENCY_BUCKET_BOUNDS_MS.map((b) => `<=${b}ms`), `>${LATENCY_BUCKET_BOUNDS_MS.at(-1)}ms`];

export function statsRoutes({ ctx }: ApiDeps): AnyRoute[] {
  const metrics = ctx.metrics as unknown as { markDashboardSnapshot?: (at: Date) => void };
  // The snapshot changes once per rollup (every STATS_ROLLUP_INTERVAL_MS): one read per second per process
  // serves every request in between, and the dashboard body is serialized once per read (into bytes, so a
  // request only copies them to the socket).
  let memo: { at: number; snap: Awaited<ReturnType<typeof readDashboard>>; body?: JsonBody } | undefined;
  let loading: Promise<NonNullable<typeof memo>> | undefined;
  const load = async () => {
    if (memo && Date.now() - memo.at < 1_000) return memo;
    loading ??= readDashboard({
      db: ctx.db,
      redis: ctx.redis,
      keys: ctx.keys,
      metrics: metrics.markDashboardSnapshot ? (metrics as { markDashboardSnapshot(at: Date): void }) : undefined,
    })
      .then((snap) => (memo = { at: Date.now(), snap }))
      .finally(() => (loading = undefined));
    return loading;
  };
  const snapshot = async () => (await load()).snap;
  const meta = (snap: Awaited<ReturnType<typeof snapshot>>) => ({
    generatedAt: snap?.generatedAt ?? null,
    ageMs: snap?.ageMs ?? null,
    available: snap !== null,
  });
  const period = (data: DashboardData, p: Period): PeriodFigures => data[p];

  const seriesQuery = z.object({
    from: isoDate.optional(),
    to: isoDate.optional(),
    bucket: z.enum(['hour', 'day']).default('hour'),
    bot_id: dbId.optional(),
    chat_id: telegramId.optional(),
  });
  const seriesRange = (q: z.output<typeof seriesQuery>, defaultDays: number) => {
    const to = q.to ?? new Date();
    const from = q.from ?? new Date(to.getTime() - defaultDays * 86_400_000);
    if (from >= to) throw badRequest('`from` must be before `to`');
    const maxDays = q.bucket === 'hour' ? 31 : 400;
    if (to.getTime() - from.getTime() > maxDays * 86_400_000)
      throw badRequest(`At most ${maxDays} days with bucket=${q.bucket}`);
    return { from, to };
  };

  return [
    defineRoute({
      method: 'get',
      path: '/stats/dashboard',
      summary: 'The dashboard snapshot (pre-computed by the maintenance role after every rollup)',
      tag: 'stats',
      access: 'viewer',
      response: R.dashboardResponse,
      handler: async () => {
        const m = await load();
        // ageMs is fixed at read time; generatedAt is authoritative.
        m.body ??= new JsonBody(JSON.stringify({ ...meta(m.snap), data: m.snap?.data ?? null }), { shared: true });
        return m.body;
      },
    }),
    defineRoute({
      method: 'get',
      path: '/stats/analytics/overview',
      summary: 'Overview: totals, today, this week, last 24 h and 7 days, bots by status',
      tag: 'stats',
      access: 'viewer',
      response: R.overviewResponse,
      handler: async () => {
        const snap = await snapshot();
        const d = snap?.data;
        return {
          ...meta(snap),
          totals: d?.totals ?? null,
          today: d?.today ?? null,
          week: d?.week ?? null,
          last24h: d?.last24h ?? null,
          last7d: d?.last7d ?? null,
          botsByStatus: d?.botsByStatus ?? {},
        };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/stats/analytics/verification-trends',
      summary: 'Verification counts and rates per hour or day (from the hourly rollup); filter by bot or group',
      tag: 'stats',
      access: 'viewer',
      response: R.verificationTrends,
      query: seriesQuery,
      handler: async ({ query }) => {
        const { from, to } = seriesRange(query, query.bucket === 'hour' ? 1 : 30);
        const points = await readVerificationSeries(ctx.db, {
          from,
          to,
          bucket: query.bucket,
          botId: query.bot_id,
          chatId: query.chat_id,
        });
        return {
          from,
          to,
          bucket: query.bucket,
          points: points.map(({ latencyBuckets: _b, ...p }) => ({ ...p, ...rates({ ...p, latencyBuckets: _b }) })),
        };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/stats/analytics/user-growth',
      summary: 'Users admitted (verified or approved) and held (restricted or declined) per day, with running totals',
      tag: 'stats',
      access: 'viewer',
      response: R.userGrowth,
      query: seriesQuery,
      handler: async ({ query }) => {
        const bucket = query.bucket === 'hour' ? 'hour' : 'day';
        const { from, to } = seriesRange({ ...query, bucket }, bucket === 'hour' ? 1 : 30);
        const points = await readVerificationSeries(ctx.db, {
          from,
          to,
          bucket,
          botId: query.bot_id,
          chatId: query.chat_id,
        });
        let admittedTotal = 0;
        let heldTotal = 0;
        return {
          from,
          to,
          bucket,
          points: points.map((p) => {
            const admitted = p.verified + p.approved;
            const held = p.restricted + p.declined;
            admittedTotal += admitted;
            heldTotal += held;
            return { at: p.at, admitted, held, admittedTotal, heldTotal };
          }),
        };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/stats/charts/:chart',
      summary: `Chart data: ${CHARTS.join(', ')}`,
      tag: 'stats',
      access: 'viewer',
      response: R.chartResponse,
      params: z.object({ chart: z.enum(CHARTS) }),
      query: z.object({ period: z.enum(PERIODS).default('last24h'), range: z.enum(['24h', '7d']).default('24h') }),
      handler: async ({ params, query }) => {
        const snap = await snapshot();
        const head = { chart: params.chart, ...meta(snap) };
        if (!snap) return { ...head, data: null };
        const d = snap.data;
        const p = period(d, query.period);
        const series = query.range === '7d' ? d.series.hourly7d : d.series.hourly24h;
        switch (params.chart) {
          case 'verification-distribution':
            return {
              ...head,
              period: query.period,
              data: (['verified', 'restricted', 'approved', 'declined', 'skipped', 'errors'] as const).map(
                (status) => ({ status, count: p[status] }),
              ),
            };
          case 'cache-breakdown':
            return {
              ...head,
              period: query.period,
              data: { hits: p.cacheHits, misses: Math.max(0, p.total - p.cacheHits), hitRate: p.cacheHitRate },
            };
          case 'groups-status': {
            const groups = d.bots.reduce((a, b) => a + b.groups, 0);
            const protectedGroups = d.bots.reduce((a, b) => a + b.protectedGroups, 0);
            return {
              ...head,
              data: {
                protected: protectedGroups,
                unprotected: groups - protectedGroups,
                byBot: d.bots.map((b) => ({
                  botId: b.botId,
                  username: b.username,
                  groups: b.groups,
                  protectedGroups: b.protectedGroups,
                })),
              },
            };
          }
          case 'api-calls':
            return { ...head, period: 'last24h', data: d.apiMethods24h };
          case 'hourly-activity':
            return {
              ...head,
              range: query.range,
              data: series.map((s) => ({
                hour: s.hour,
                total: s.total,
                verified: s.verified,
                restricted: s.restricted,
                errors: s.errors,
              })),
            };
          case 'latency-distribution':
            return {
              ...head,
              period: query.period,
              data: p.latencyBuckets.map((count, i) => ({ bucket: bucketLabels[i], count })),
              percentiles: p.latencyPercentilesMs,
            };
          case 'top-groups':
            return { ...head, period: 'last7d', data: d.topGroups };
          case 'latency-trend':
            return {
              ...head,
              range: query.range,
              data: series.map((s) => ({ hour: s.hour, p50Ms: s.p50Ms, p95Ms: s.p95Ms })),
            };
          case 'cache-hit-trend': {
            const to = new Date();
            const from = new Date(to.getTime() - (query.range === '7d' ? 7 : 1) * 86_400_000);
            const points = await readVerificationSeries(ctx.db, { from, to, bucket: 'hour' });
            return {
              ...head,
              range: query.range,
              data: points.map((pt) => ({
                hour: pt.at,
                hits: pt.cacheHits,
                total: pt.total,
                hitRate: pt.total ? pt.cacheHits / pt.total : null,
              })),
            };
          }
          case 'bot-health':
            return {
              ...head,
              data: {
                byStatus: d.botsByStatus,
                bots: d.bots.map((b) => ({
                  botId: b.botId,
                  username: b.username,
                  status: b.status,
                  isActive: b.isActive,
                  today: { total: b.today.total, errors: b.today.errors, successRate: b.today.successRate },
                })),
              },
            };
        }
      },
    }),
  ];
}
