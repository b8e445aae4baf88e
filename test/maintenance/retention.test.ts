import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRetention } from '../../services/maintenance/retention';
import { rollupAll } from '../../services/maintenance/rollup';
import { useTestDatabase } from '../support/db';
import { insertApiCalls, insertVerifications, makeBot } from './helpers';

const db = useTestDatabase();
const DAY = 86_400_000;
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'nezuko-retention-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('retention', () => {
  it('deletes exactly the expired rows, in batches, and only rows already rolled up', async () => {
    const prisma = db.prisma;
    const bot = (await makeBot(prisma)).id;
    const now = new Date();
    const config = { RETENTION_DAYS: 90, STATS_RETENTION_DAYS: 400, EXPORT_RETENTION_DAYS: 14, EXPORT_DIR: dir };
    const ages = [0, 1, 89, 89.99, 90.01, 91, 200, 401];
    const mk = (days: number, i: number) => ({
      botInstanceId: bot,
      chatId: -1n,
      userId: BigInt(i),
      status: 'verified' as const,
      latencyMs: 1,
      cached: false,
      createdAt: new Date(now.getTime() - days * DAY),
    });
    const rows = Array.from({ length: 2_000 }, (_, i) => mk(ages[i % ages.length]!, i));
    await insertVerifications(prisma, rows);
    await insertApiCalls(
      prisma,
      rows.map((r) => ({
        botInstanceId: bot,
        method: 'getChatMember',
        success: true,
        latencyMs: 1,
        createdAt: r.createdAt,
      })),
    );
    await rollupAll(prisma);

    // Rows the rollup has not counted yet are kept, however old.
    await insertVerifications(prisma, [mk(300, 99_999)]);

    const session = await prisma.adminUser.create({ data: { email: 'r@example.com', passwordHash: '$argon2id$x' } });
    await prisma.adminSession.create({
      data: {
        adminUserId: session.id,
        tokenHash: 'a'.repeat(64),
        expiresAt: new Date(now.getTime() - 2 * DAY),
        createdAt: new Date(now.getTime() - 3 * DAY),
      },
    });
    await prisma.adminSession.create({
      data: { adminUserId: session.id, tokenHash: 'b'.repeat(64), expiresAt: new Date(now.getTime() + DAY) },
    });
    await prisma.adminAuditLog.create({
      data: { action: 'auth.login', resourceType: 'session', createdAt: new Date(now.getTime() - 1000 * DAY) },
    });
    await prisma.logBatch.create({ data: { id: randomUUID(), writtenAt: new Date(now.getTime() - 2 * DAY) } });
    await prisma.logBatch.create({ data: { id: randomUUID(), writtenAt: new Date(now.getTime() - 60_000) } });

    const expired = rows.filter((r) => r.createdAt.getTime() < now.getTime() - 90 * DAY).length;
    const statsBefore = await prisma.verificationStatsHourly.count();
    const oldStats = await prisma.verificationStatsHourly.count({
      where: { hour: { lt: new Date(now.getTime() - 400 * DAY) } },
    });
    expect(oldStats).toBeGreaterThan(0);

    const batches: number[] = [];
    const result = await runRetention(
      { db: prisma, config },
      { batchSize: 100, now, onBatch: (table, n) => table === 'verification_log' && batches.push(n) },
    );
    expect(result.verification_log).toBe(expired);
    expect(result.api_call_log).toBe(expired);
    expect(Math.max(...batches)).toBeLessThanOrEqual(100);
    expect(batches.length).toBeGreaterThan(expired / 100);

    const left = await prisma.verificationLog.findMany({ select: { createdAt: true, userId: true } });
    expect(left).toHaveLength(rows.length - expired + 1);
    expect(left.filter((r) => r.createdAt.getTime() < now.getTime() - 90 * DAY).map((r) => r.userId)).toEqual([
      99_999n,
    ]);
    expect(await prisma.apiCallLog.count()).toBe(rows.length - expired);
    expect(result.verification_stats_hourly).toBe(oldStats);
    expect(await prisma.verificationStatsHourly.count()).toBe(statsBefore - oldStats);
    expect(result.admin_sessions).toBe(1);
    expect(await prisma.adminSession.count()).toBe(1);
    expect(await prisma.adminAuditLog.count()).toBe(1);
    expect(result.log_batches).toBe(1);
    expect(await prisma.logBatch.count()).toBe(1);

    // Running again deletes nothing more (resumable, idempotent).
    const again = await runRetention({ db: prisma, config }, { batchSize: 100, now });
    expect([again.verification_log, again.api_call_log, again.verification_stats_hourly]).toEqual([0, 0, 0]);
  });

  it('deletes export files after EXPORT_RETENTION_DAYS and marks them', async () => {
    const prisma = db.prisma;
    const now = new Date();
    const config = { RETENTION_DAYS: 90, STATS_RETENTION_DAYS: 400, EXPORT_RETENTION_DAYS: 14, EXPORT_DIR: dir };
    const mk = async (name: string, daysAgo: number) => {
      await writeFile(path.join(dir, name), 'x');
      const at = new Date(now.getTime() - daysAgo * DAY);
      return prisma.export.create({
        data: {
          kind: 'groups',
          filters: {},
          status: 'done',
          rows: 0,
          bytes: 1,
          sha256: 'c'.repeat(64),
          filePath: name,
          startedAt: at,
          finishedAt: at,
        },
      });
    };
    const old = await mk('export-old.csv.gz', 15);
    const fresh = await mk('export-fresh.csv.gz', 13);
    const result = await runRetention({ db: prisma, config }, { now });
    expect(result.export_files).toBe(1);
    expect(existsSync(path.join(dir, 'export-old.csv.gz'))).toBe(false);
    expect(existsSync(path.join(dir, 'export-fresh.csv.gz'))).toBe(true);
    expect((await prisma.export.findUniqueOrThrow({ where: { id: old.id } })).fileDeletedAt).not.toBeNull();
    expect((await prisma.export.findUniqueOrThrow({ where: { id: fresh.id } })).fileDeletedAt).toBeNull();
  });
});
