import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSql, type Sql } from '../../services/core/db/sql';
import {
  apiCallLogWriter,
  BatchWriter,
  insertVerificationRows,
  verificationLogWriter,
  type VerificationRecord,
} from '../../services/core/log-writer';
import { createLogger } from '../../services/core/logger';
import { createMetrics } from '../../services/core/metrics';
import { makeBot } from '../db/fixtures';
import { useTestDatabase } from '../support/db';

const db = useTestDatabase();
let sql: Sql;
beforeAll(() => {
  sql = createSql({ url: db.url, poolSize: 2 });
});
afterAll(() => sql?.end());

const row = (botInstanceId: number, userId: number): VerificationRecord => ({
  botInstanceId,
  chatId: -100123,
  userId,
  status: 'verified',
  latencyMs: 5,
  cached: true,
  createdAt: new Date(),
});

describe('batched decision log', () => {
  it('write() resolves only once its row is in PostgreSQL, batched with the rows written beside it', async () => {
    const bot = await makeBot(db.prisma);
    const writer = verificationLogWriter(sql, createLogger({ console: false }), createMetrics());
    const users = Array.from({ length: 40 }, (_, i) => 1_000 + i);
    await Promise.all(
      users.map(async (userId) => {
        await writer.write(row(bot.id, userId));
        // The moment a decision's write resolves, its row can be read back.
        expect(await db.prisma.verificationLog.count({ where: { userId: BigInt(userId) } })).toBe(1);
      }),
    );
    expect(await db.prisma.verificationLog.count({ where: { botInstanceId: bot.id } })).toBe(40);
    await writer.close();
  });

  it('close() writes what is still buffered', async () => {
    const bot = await makeBot(db.prisma);
    const writer = verificationLogWriter(sql, createLogger({ console: false }), createMetrics());
    writer.push(row(bot.id, 1));
    writer.push(row(bot.id, 2));
    await writer.close();
    expect(await db.prisma.verificationLog.count({ where: { botInstanceId: bot.id } })).toBe(2);
  });

  it('Telegram calls are logged with their nulls (no chat, no error code) intact', async () => {
    const bot = await makeBot(db.prisma);
    const writer = apiCallLogWriter(sql, createLogger({ console: false }), createMetrics());
    const at = new Date();
    await writer.write({
      botInstanceId: bot.id,
      method: 'getMe',
      chatId: null,
      success: true,
      errorCode: null,
      latencyMs: 3,
      createdAt: at,
    });
    await writer.write({
      botInstanceId: bot.id,
      method: 'sendMessage',
      chatId: -100987654321n,
      success: false,
      errorCode: 429,
      latencyMs: 8,
      createdAt: at,
    });
    const rows = await db.prisma.apiCallLog.findMany({ where: { botInstanceId: bot.id }, orderBy: { id: 'asc' } });
    expect(rows.map((r) => [r.method, r.chatId, r.success, r.errorCode, r.latencyMs, r.createdAt.getTime()])).toEqual([
      ['getMe', null, true, null, 3, at.getTime()],
      ['sendMessage', -100987654321n, false, 429, 8, at.getTime()],
    ]);
    await writer.close();
  });

  it('a batch that committed but whose answer was lost is retried without a second copy of its rows', async () => {
    const bot = await makeBot(db.prisma);
    const metrics = createMetrics();
    // The connection drops after PostgreSQL committed the first attempt: the writer sees a failure.
    const keys: string[] = [];
    const writer = new BatchWriter<VerificationRecord>({
      name: 'verification_log',
      log: createLogger({ console: false }),
      metrics,
      write: async (rows, key) => {
        keys.push(key);
        await insertVerificationRows(sql, rows, key);
        if (keys.length === 1) throw new Error('Connection terminated unexpectedly');
      },
    });
    const written = Promise.all([1, 2, 3].map((userId) => writer.write(row(bot.id, userId))));
    // Rows buffered while the first attempt was out are not part of its retry.
    await new Promise((r) => setTimeout(r, 40));
    writer.push(row(bot.id, 4));
    await writer.flush();
    await written;
    await writer.close();
    expect(keys[1]).toBe(keys[0]);
    const rows = await db.prisma.verificationLog.findMany({
      where: { botInstanceId: bot.id },
      select: { userId: true },
    });
    expect(rows.map((r) => Number(r.userId)).sort()).toEqual([1, 2, 3, 4]);
    expect((await metrics.dbWriteFailures.get()).values[0]?.value).toBe(1);
  });
});
