import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { PrismaClient } from '../../services/core/db';
import { readWatermark, rollupAll, rollupTable, VERIFICATION_ROLLUP } from '../../services/maintenance/rollup';
import { useTestDatabase } from '../support/db';
import {
  insertApiCalls,
  insertVerifications,
  makeBot,
  randomApiCalls,
  randomVerifications,
  rng,
  type ApiCallRow,
  type VerificationRow,
} from './helpers';

const db = useTestDatabase();
const HOUR = 3_600_000;
const BOUNDS = [10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

/** The expected hourly table, computed in JavaScript from the rows inserted (independent of the SQL). */
function expectedVerificationStats(rows: VerificationRow[]) {
  const out = new Map<string, Record<string, number | number[]>>();
  for (const r of rows) {
    const chat = r.chatId <= 0n ? r.chatId : 0n;
    const hour = Math.floor(r.createdAt.getTime() / HOUR) * HOUR;
    const key = `${r.botInstanceId}|${chat}|${new Date(hour).toISOString()}`;
    const s = out.get(key) ?? {
      total: 0,
      verified: 0,
      restricted: 0,
      approved: 0,
      declined: 0,
      skipped: 0,
      errors: 0,
      cacheHits: 0,
      latencySumMs: 0,
      buckets: Array(10).fill(0),
    };
    (s.total as number)++;
    const field = r.status === 'error' ? 'errors' : r.status;
    (s[field] as number)++;
    if (r.cached) (s.cacheHits as number)++;
    (s.latencySumMs as number) += r.latencyMs;
    const b = BOUNDS.findIndex((u) => r.latencyMs <= u);
    (s.buckets as number[])[b === -1 ? 9 : b]!++;
    out.set(key, s);
  }
  return Object.fromEntries([...out].sort(([a], [b]) => a.localeCompare(b)));
}

async function actualVerificationStats(prisma: PrismaClient) {
  const rows = await prisma.verificationStatsHourly.findMany();
  const out = new Map<string, Record<string, number | number[]>>();
  for (const r of rows) {
    out.set(`${r.botInstanceId}|${r.chatId}|${r.hour.toISOString()}`, {
      total: r.total,
      verified: r.verified,
      restricted: r.restricted,
      approved: r.approved,
      declined: r.declined,
      skipped: r.skipped,
      errors: r.errors,
      cacheHits: r.cacheHits,
      latencySumMs: Number(r.latencySumMs),
      buckets: r.latencyBuckets,
    });
  }
  return Object.fromEntries([...out].sort(([a], [b]) => a.localeCompare(b)));
}

function expectedApiStats(rows: ApiCallRow[]) {
  const out = new Map<string, number[]>();
  for (const r of rows) {
    const key = `${r.botInstanceId}|${new Date(Math.floor(r.createdAt.getTime() / HOUR) * HOUR).toISOString()}|${r.method}`;
    const s = out.get(key) ?? [0, 0, 0, 0, 0];
    s[0]!++;
    if (r.success) s[1]!++;
    else s[2]!++;
    if (!r.success && r.errorCode === 429) s[3]!++;
    s[4]! += r.latencyMs;
    out.set(key, s);
  }
  return Object.fromEntries([...out].sort(([a], [b]) => a.localeCompare(b)));
}

async function actualApiStats(prisma: PrismaClient) {
  const rows = await prisma.apiCallStatsHourly.findMany();
  return Object.fromEntries(
    rows
      .map(
        (r) =>
          [
            `${r.botInstanceId}|${r.hour.toISOString()}|${r.method}`,
            [r.calls, r.successCount, r.failureCount, r.error429Count, Number(r.latencySumMs)],
          ] as const,
      )
      .sort(([a], [b]) => a.localeCompare(b)),
  );
}

async function reset(prisma: PrismaClient) {
  await prisma.$executeRawUnsafe(
    'TRUNCATE verification_log, api_call_log, verification_stats_hourly, api_call_stats_hourly, rollup_watermarks',
  );
}

describe('statistics rollup', () => {
  it('equals an independent aggregation of random rows across bots, groups, statuses, latency bounds and hour boundaries', async () => {
    const prisma = db.prisma;
    const bots = [(await makeBot(prisma)).id, (await makeBot(prisma)).id, (await makeBot(prisma)).id];
    const chats = [-1001n, -1002n, -1003n, 0n, 777n /* a private chat: counted under 0 */];
    for (const seed of [1, 2, 3]) {
      await reset(prisma);
      const random = rng(seed);
      const verifications = randomVerifications(random, 3_000, bots, chats, 30);
      const calls = randomApiCalls(random, 2_000, bots, 30);
      await insertVerifications(prisma, verifications);
      await insertApiCalls(prisma, calls);
      // Small batches: many transactions, each moving the watermark.
      const results = await rollupAll(prisma, { batchSize: 700 });
      expect(results.map((r) => [r.table, r.rows, r.deferred])).toEqual([
        ['verification_log', 3_000, false],
        ['api_call_log', 2_000, false],
      ]);
      expect(await actualVerificationStats(prisma)).toEqual(expectedVerificationStats(verifications));
      expect(await actualApiStats(prisma)).toEqual(expectedApiStats(calls));
      const [check] = await prisma.$queryRaw<Array<{ bad: number }>>`
        SELECT count(*)::int AS bad FROM verification_stats_hourly
        WHERE total <> (SELECT sum(x) FROM unnest(latency_buckets) x)`;
      expect(check!.bad).toBe(0);
    }
  });

  it('is incremental: a second run adds only the new rows, including rows for hours already rolled up', async () => {
    const prisma = db.prisma;
    await reset(prisma);
    const bot = (await makeBot(prisma)).id;
    const random = rng(42);
    const first = randomVerifications(random, 1_000, [bot], [-1n, -2n], 10);
    await insertVerifications(prisma, first);
    expect((await rollupTable(prisma, VERIFICATION_ROLLUP)).rows).toBe(1_000);
    const mark = await readWatermark(prisma, 'verification_log');

    // New rows, many of them for hours the first run already rolled up (a log batch retried late).
    const second = randomVerifications(random, 500, [bot], [-1n, -2n], 10);
    await insertVerifications(prisma, second);
    const run = await rollupTable(prisma, VERIFICATION_ROLLUP);
    expect(run.rows).toBe(500);
    expect(run.fromId).toBe(mark);
    expect(await actualVerificationStats(prisma)).toEqual(expectedVerificationStats([...first, ...second]));

    // Nothing new: nothing changes.
    const idle = await rollupTable(prisma, VERIFICATION_ROLLUP);
    expect(idle.rows).toBe(0);
    expect(await actualVerificationStats(prisma)).toEqual(expectedVerificationStats([...first, ...second]));
  });

  it('counts a row that commits after a higher id was already committed (late commit)', async () => {
    const prisma = db.prisma;
    await reset(prisma);
    const bot = (await makeBot(prisma)).id;
    const at = new Date();
    const early: VerificationRow = {
      botInstanceId: bot,
      chatId: -5n,
      status: 'verified',
      latencyMs: 12,
      cached: false,
      createdAt: at,
    };
    const late: VerificationRow = {
      botInstanceId: bot,
      chatId: -5n,
      status: 'restricted',
      latencyMs: 700,
      cached: true,
      createdAt: at,
    };

    // A writer takes an id and holds its transaction open...
    const writer = new pg.Client({ connectionString: db.url });
    await writer.connect();
    try {
      await writer.query('BEGIN');
      await writer.query(
        `INSERT INTO verification_log (bot_instance_id, chat_id, user_id, status, latency_ms, cached, created_at) VALUES ($1, -5, 1, 'restricted', 700, true, $2)`,
        [bot, at],
      );
      // ...while a later id commits.
      await insertVerifications(prisma, [early]);
      const [ids] = await prisma.$queryRaw<Array<{ max: bigint }>>`SELECT max(id) AS max FROM verification_log`;
      expect(ids!.max).toBeGreaterThan(0n);

      // The rollup does not move past the open writer's id: it waits, then defers.
      const deferred = await rollupTable(prisma, VERIFICATION_ROLLUP, { settleTimeoutMs: 300 });
      expect(deferred.deferred).toBe(true);
      expect(deferred.rows).toBe(0);
      expect(await readWatermark(prisma, 'verification_log')).toBe(0n);

      await writer.query('COMMIT');
    } finally {
      await writer.end();
    }
    const run = await rollupTable(prisma, VERIFICATION_ROLLUP, { settleTimeoutMs: 300 });
    expect(run).toMatchObject({ rows: 2, deferred: false });
    expect(await actualVerificationStats(prisma)).toEqual(expectedVerificationStats([early, late]));
  });

  it('never counts a row twice when two rollups run at once', async () => {
    const prisma = db.prisma;
    await reset(prisma);
    const bot = (await makeBot(prisma)).id;
    const rows = randomVerifications(rng(7), 5_000, [bot], [-1n, -2n, -3n], 48);
    await insertVerifications(prisma, rows);
    const runs = await Promise.all([
      rollupTable(prisma, VERIFICATION_ROLLUP, { batchSize: 500 }),
      rollupTable(prisma, VERIFICATION_ROLLUP, { batchSize: 500 }),
    ]);
    expect(runs[0]!.rows + runs[1]!.rows).toBe(5_000);
    expect(await actualVerificationStats(prisma)).toEqual(expectedVerificationStats(rows));
  });
});
