import { describe, expect, it } from 'vitest';
import { verificationLogWriter, type VerificationRecord } from '../../services/core/log-writer';
import { createLogger } from '../../services/core/logger';
import { createMetrics } from '../../services/core/metrics';
import { makeBot } from '../db/fixtures';
import { useTestDatabase } from '../support/db';

const db = useTestDatabase();

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
    const writer = verificationLogWriter(db.prisma, createLogger({ console: false }), createMetrics());
    const users = Array.from({ length: 40 }, (_, i) => 1_000 + i);
    await Promise.all(users.map(async (userId) => {
      await writer.write(row(bot.id, userId));
      // The moment a decision's write resolves, its row can be read back.
      expect(await db.prisma.verificationLog.count({ where: { userId: BigInt(userId) } })).toBe(1);
    }));
    expect(await db.prisma.verificationLog.count({ where: { botInstanceId: bot.id } })).toBe(40);
    await writer.close();
  });

  it('close() writes what is still buffered', async () => {
    const bot = await makeBot(db.prisma);
    const writer = verificationLogWriter(db.prisma, createLogger({ console: false }), createMetrics());
    writer.push(row(bot.id, 1));
    writer.push(row(bot.id, 2));
    await writer.close();
    expect(await db.prisma.verificationLog.count({ where: { botInstanceId: bot.id } })).toBe(2);
  });
});
