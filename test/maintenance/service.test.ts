import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  dashboardKey,
  EXPORTS_QUEUE,
  exportsQueue as exportsQueueRef,
  maintenanceQueue,
  openQueue,
  requestExport,
} from '../../queues';
import { loadConfig } from '../../services/core/config';
import { createContext, type AppContext } from '../../services/core/context';
import { logger } from '../../services/core/logger';
import { readDashboard } from '../../services/api/stats';
import { writeDashboard } from '../../services/maintenance/dashboard';
import { startMaintenance } from '../../services/maintenance';
import { rollupAll } from '../../services/maintenance/rollup';
import { useTestDatabase } from '../support/db';
import { waitFor } from '../support/process';
import { useTestRedis } from '../support/redis';
import { insertApiCalls, insertVerifications, makeBot, makeGroup, type VerificationRow } from './helpers';

const db = useTestDatabase();
const redis = useTestRedis();
const HOUR = 3_600_000;
let dir: string;
const contexts: AppContext[] = [];

async function context(env: Record<string, string> = {}): Promise<AppContext> {
  const ctx = await createContext(
    loadConfig({
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      REDIS_PREFIX: redis.prefix,
      LOG_TO_FILE: 'false',
      EXPORT_DIR: dir,
      DB_POOL_SIZE: '3',
      ...env,
    }),
    logger,
  );
  contexts.push(ctx);
  return ctx;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'nezuko-maint-'));
});
afterAll(async () => {
  for (const ctx of contexts) await ctx.lifecycle.shutdown('test done', 10_000);
  await rm(dir, { recursive: true, force: true });
});

describe('dashboard snapshot', () => {
  it('holds totals, periods, rates, bots by status, per-bot figures, top groups and series; in Redis and PostgreSQL', async () => {
    const ctx = await context();
    const prisma = db.prisma;
    const a = await makeBot(prisma, { status: 'running' });
    const b = await makeBot(prisma, { status: 'crashed' });
    const g = await makeGroup(prisma, a.id, { title: 'Top group' });
    const now = new Date();
    const currentHour = Math.floor(now.getTime() / HOUR) * HOUR;
    const rows: VerificationRow[] = [
      // this hour: 3 verified (2 cached), 1 restricted, 1 error
      ...[5, 20, 40].map((l, i) => ({
        botInstanceId: a.id,
        chatId: g.chatId,
        status: 'verified' as const,
        latencyMs: l,
        cached: i < 2,
        createdAt: new Date(currentHour + 1000),
      })),
      {
        botInstanceId: a.id,
        chatId: g.chatId,
        status: 'restricted',
        latencyMs: 300,
        cached: false,
        createdAt: new Date(currentHour + 2000),
      },
      {
        botInstanceId: b.id,
        chatId: -42n,
        status: 'error',
        latencyMs: 6000,
        cached: false,
        createdAt: new Date(currentHour + 3000),
      },
      // 30 days ago: only in the all-time totals
      {
        botInstanceId: a.id,
        chatId: g.chatId,
        status: 'approved',
        latencyMs: 80,
        cached: false,
        createdAt: new Date(currentHour - 30 * 24 * HOUR),
      },
    ];
    await insertVerifications(prisma, rows);
    await insertApiCalls(prisma, [
      { botInstanceId: a.id, method: 'getChatMember', success: true, latencyMs: 10, createdAt: now },
      { botInstanceId: a.id, method: 'sendMessage', success: false, errorCode: 429, latencyMs: 30, createdAt: now },
    ]);
    await rollupAll(prisma);
    const data = await writeDashboard({ db: prisma, redis: ctx.redis, keys: ctx.keys }, now);

    expect(data.generatedAt).toBe(now.toISOString());
    expect(data.totals).toMatchObject({ total: 6, verified: 3, approved: 1, restricted: 1, errors: 1, since: null });
    expect(data.last24h).toMatchObject({
      total: 5,
      verified: 3,
      restricted: 1,
      errors: 1,
      cacheHits: 2,
      apiCalls: 2,
      apiFailures: 1,
      api429: 1,
    });
    expect(data.last24h.successRate).toBeCloseTo(4 / 5);
    expect(data.last24h.cacheHitRate).toBeCloseTo(2 / 5);
    expect(data.last24h.passRate).toBeCloseTo(3 / 4);
    // Buckets: ≤10, ≤25, ≤50, ≤500, >5000 → median in the ≤50 bucket.
    expect(data.last24h.latencyPercentilesMs.p50).toBeGreaterThan(25);
    expect(data.last24h.latencyPercentilesMs.p50).toBeLessThanOrEqual(50);
    expect(data.last24h.latencyPercentilesMs.p99).toBe(5000);
    expect(data.today.total).toBe(5);
    expect(data.botsByStatus).toEqual({ running: 1, crashed: 1 });
    const botA = data.bots.find((x) => x.botId === a.id)!;
    expect(botA).toMatchObject({ username: a.username, status: 'running', groups: 1, protectedGroups: 1 });
    expect(botA.today).toMatchObject({ total: 4, verified: 3, restricted: 1, apiCalls: 2 });
    expect(data.bots.find((x) => x.botId === b.id)!.today).toMatchObject({ total: 1, errors: 1 });
    expect(data.topGroups[0]).toMatchObject({ botId: a.id, chatId: String(g.chatId), title: 'Top group', total: 4 });
    expect(data.apiMethods24h.map((m) => m.method).sort()).toEqual(['getChatMember', 'sendMessage']);
    expect(data.series.hourly24h).toHaveLength(24);
    expect(data.series.hourly7d).toHaveLength(168);
    expect(data.series.hourly24h.at(-1)).toMatchObject({
      hour: new Date(currentHour).toISOString(),
      total: 5,
      verified: 3,
      restricted: 1,
      errors: 1,
    });
    expect(data.series.hourly24h.slice(0, -1).every((p) => p.total === 0)).toBe(true);

    // Readers: Redis first, PostgreSQL when Redis has nothing.
    const fromRedis = await readDashboard({ db: prisma, redis: ctx.redis, keys: ctx.keys });
    expect(fromRedis).toMatchObject({ source: 'redis', data: { totals: { total: 6 } } });
    expect(fromRedis!.generatedAt.toISOString()).toBe(now.toISOString());
    await ctx.redis.del(dashboardKey(ctx.keys));
    const fromPg = await readDashboard({ db: prisma, redis: ctx.redis, keys: ctx.keys, metrics: ctx.metrics });
    expect(fromPg).toMatchObject({ source: 'postgres', data: { totals: { total: 6 } } });
    const metrics = await ctx.metrics.registry.getSingleMetricAsString('nezuko_dashboard_snapshot_age_seconds');
    expect(metrics).toMatch(/nezuko_dashboard_snapshot_age_seconds \d/);
  });
});

describe('startMaintenance', () => {
  it('registers one scheduler per id however often and by however many processes it starts', async () => {
    const one = await context({ STATS_ROLLUP_INTERVAL_MS: '200' });
    const two = await context({ STATS_ROLLUP_INTERVAL_MS: '200' });
    await startMaintenance(one);
    await startMaintenance(two);
    await startMaintenance(one);
    const queue = openQueue(maintenanceQueue, { connection: one.newRedis('worker'), prefix: redis.prefix });
    try {
      const schedulers = await queue.getJobSchedulers();
      expect(schedulers.map((s) => s.key).sort()).toEqual([
        'counts-sync',
        'health-sweep',
        'restriction-upkeep',
        'retention',
        'scheduled-export',
        'stats-rollup',
      ]);
      expect(schedulers.find((s) => s.key === 'restriction-upkeep')).toMatchObject({ every: 60_000 });
      expect(schedulers.find((s) => s.key === 'counts-sync')).toMatchObject({ every: 900_000 });
      expect(schedulers.find((s) => s.key === 'retention')).toMatchObject({ pattern: '30 3 * * *', tz: 'UTC' });
      expect(schedulers.find((s) => s.key === 'scheduled-export')).toMatchObject({ pattern: '0 2 * * *', tz: 'UTC' });
      expect(schedulers.find((s) => s.key === 'stats-rollup')).toMatchObject({ every: 200 });
      expect(await queue.getGlobalConcurrency()).toBe(1);

      // The scheduler runs rollups: a log row shows up in the snapshot.
      const bot = await makeBot(db.prisma);
      await insertVerifications(db.prisma, [
        { botInstanceId: bot.id, chatId: -7n, status: 'verified', latencyMs: 3, cached: true, createdAt: new Date() },
      ]);
      await waitFor(
        async () =>
          (await readDashboard({ db: db.prisma, redis: one.redis, keys: one.keys }))?.data.bots.find(
            (x) => x.botId === bot.id,
          )?.today.total === 1,
        15_000,
        'a rollup through the scheduler',
      );

      // An export requested the way the API does it is written by the exports worker.
      const exportsQueue = openQueue(exportsQueueRef, { connection: one.newRedis('worker'), prefix: redis.prefix });
      const requested = await requestExport(
        { db: db.prisma, exportsQueue },
        { kind: 'verifications', filters: { botId: bot.id } },
      );
      const done = await waitFor(
        async () => {
          const row = await db.prisma.export.findUniqueOrThrow({ where: { id: requested.id } });
          return row.status === 'done' ? row : null;
        },
        15_000,
        'the export to finish',
      );
      expect(done!.rows).toBe(1n);
      const job = await exportsQueue.getJob(`export-${requested.id}`);
      expect(job?.progress).toEqual({ rows: 1 });
      await exportsQueue.close();
      expect(EXPORTS_QUEUE).toBe('exports');
    } finally {
      await queue.close();
    }
  });

  it('removes the daily export scheduler when EXPORT_SCHEDULE_KINDS is empty', async () => {
    const ctx = await context({ REDIS_PREFIX: `${redis.prefix}x`, EXPORT_SCHEDULE_KINDS: ',' });
    const queue = openQueue(maintenanceQueue, { connection: ctx.newRedis('worker'), prefix: `${redis.prefix}x` });
    try {
      await queue.upsertJobScheduler(
        'scheduled-export',
        { pattern: '0 2 * * *', tz: 'UTC' },
        { name: 'scheduled-export', data: {} },
      );
      await startMaintenance(ctx);
      expect((await queue.getJobSchedulers()).map((s) => s.key).sort()).toEqual([
        'counts-sync',
        'health-sweep',
        'restriction-upkeep',
        'retention',
        'stats-rollup',
      ]);
    } finally {
      await queue.close();
      // Keys under this second prefix are not covered by useTestRedis' clean-up.
      const keys = await redis.redis.keys(`${redis.prefix}x:*`);
      if (keys.length) await redis.redis.unlink(...keys);
    }
  });
});
